"""Training on a sample of a large shop's customers (``train.max_customers``).

Every snapshot, fit, refit and bootstrap costs in proportion to the customers, while the
model gains little beyond a few hundred thousand of them (on a generated 1M-customer shop,
about 0.005 ROC AUC for twice the time: the README's measurement). The
sample is of customers, not of rows: a sampled customer keeps every line of their history,
at every cutoff, so the features and labels are exactly those of the full data, and it is
drawn by a hash of the id alone (never by anything that happened), so it cannot leak the
future and is the same in every run on the same data. Scoring always scores everyone.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

# A key of its own: the sample must not follow the validation hold-out's hash
# (churn.modeling.schedule.holdout_customers), or a small sample would be all held-out.
_HASH_KEY = "churn:sample0000"


def sampled_ids(customer_ids: pd.Series, n: int) -> pd.Series:
    """The ``n`` ids (of distinct ``customer_ids``) with the smallest salted hash, in that
    order; all of them when there are at most ``n``.

    The choice depends on each id alone: an id sampled from a shop stays sampled when
    other customers join it, as long as it still ranks among the first ``n``.
    """
    ids = pd.Series(customer_ids.drop_duplicates().to_numpy(), dtype=object)
    hashed = pd.util.hash_pandas_object(ids.astype(str), index=False, hash_key=_HASH_KEY)
    order = np.argsort(hashed.to_numpy(), kind="stable")
    return ids.iloc[order[:n]].reset_index(drop=True)


@dataclass(frozen=True)
class CustomerSample:
    """How many customers the shop has and how many training kept."""

    customers: int
    kept: int

    @property
    def sampled(self) -> bool:
        """True when training sees fewer customers than the shop has."""
        return self.kept < self.customers

    def as_dict(self) -> dict[str, int | bool]:
        """The entries of ``metrics.json`` (``training_sample``)."""
        return {"customers": self.customers, "kept": self.kept, "sampled": self.sampled}


def keep_sampled_customers(
    con: duckdb.DuckDBPyConnection, max_customers: int | None
) -> CustomerSample:
    """Cut the ``transactions`` table down to a sample of ``max_customers`` customers (see
    :func:`sampled_ids`), every line of theirs kept; nothing changes when the shop has at
    most that many customers or ``max_customers`` is ``None``."""
    ids = con.execute("SELECT DISTINCT customer_id FROM transactions").df()["customer_id"]
    if max_customers is None or len(ids) <= max_customers:
        return CustomerSample(len(ids), len(ids))
    keep = pd.DataFrame({"customer_id": sampled_ids(ids, max_customers)})
    # A new, compact table rather than deleting the others' rows in place: every snapshot
    # then scans only the sample's lines (deleted rows are still read past). Training is
    # DuckDB-only, hence the connection.
    con.register("sampled_customers", keep)
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE transactions_sample AS SELECT t.* "
            "FROM transactions AS t SEMI JOIN sampled_customers AS s USING (customer_id)"
        )
    finally:
        con.unregister("sampled_customers")
    con.execute("DROP TABLE transactions")
    con.execute("ALTER TABLE transactions_sample RENAME TO transactions")
    return CustomerSample(len(ids), len(keep))
