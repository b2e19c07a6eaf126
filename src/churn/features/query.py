"""Point-in-time customer features, computed by DuckDB for any number of cutoffs in one query.

A cutoff ``as_of`` is a calendar date and means *through the end of that day*: only rows
with ``ts < as_of + 1 day`` influence a customer's features at that cutoff. A window of
``N`` days covers the dates ``(as_of - N, as_of]``, so ``orders_30d`` counts the orders of
the last 30 calendar days including ``as_of`` itself.

An **order** is a distinct ``order_id`` with at least one line of positive amount, dated
by its first such line; return rows (negative amount) are not orders. The definitions of
the features themselves live in :mod:`churn.features.registry`; this module assembles them
into one SQL query over a cutoffs table (see :func:`feature_sql`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

import duckdb
import numpy as np
import pandas as pd

from churn.errors import ConfigError
from churn.features.btyd import expected_purchases, fit_bgnbd, p_no_purchase
from churn.features.registry import (
    BTYD_FAMILY,
    DEFAULT_WINDOWS,
    FAMILIES,
    Feature,
    select_features,
)

log = logging.getLogger(__name__)

KEY_COLUMNS = ("customer_id", "as_of")
OPTIONAL_COLUMNS = ("quantity", "discount", "category", "product_id", "channel")
REQUIRED_WINDOWS = (90, 365)
FEATURE_DECIMALS = 9


def _validate(windows: Sequence[int], active_lookback_days: int) -> list[int]:
    try:
        clean = sorted({int(w) for w in windows})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"features.windows must be day counts, got {list(windows)}") from exc
    if not clean or clean[0] <= 0:
        raise ConfigError(f"features.windows must be positive day counts, got {list(windows)}")
    missing = [w for w in REQUIRED_WINDOWS if w not in clean]
    if missing:
        raise ConfigError(
            f"features.windows must include {list(REQUIRED_WINDOWS)} (trends compare 90-day "
            f"periods; segments and the at-risk list use 365 days), got {clean}"
        )
    if int(active_lookback_days) <= 0:
        raise ConfigError(
            f"label.active_lookback_days must be positive, got {active_lookback_days}"
        )
    return clean


def available_inputs(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Optional inputs present: canonical columns of ``transactions``, and ``customers``
    when a customers table with ``signup_ts`` was ingested."""
    columns = {r[0] for r in con.execute("DESCRIBE transactions").fetchall()}
    found = [c for c in OPTIONAL_COLUMNS if c in columns]
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if "customers" in tables:
        customer_columns = {r[0] for r in con.execute("DESCRIBE customers").fetchall()}
        if "signup_ts" in customer_columns:
            found.append("customers")
    return found


def _aggregate(features: list[Feature], level: str, source: str, where: str = "") -> str:
    exprs = ",\n    ".join(f"{f.sql} AS {f.name}" for f in features if f.level == level)
    return (
        f"SELECT as_of, customer_id,\n    {exprs}\n  FROM {source}{where}\n"
        "  GROUP BY as_of, customer_id"
    )


# Per level: the column counted over the last 365 days, and what a count is (purchase lines
# in a category, orders through a channel).
COUNTED = {
    "categories": ("category", "COUNT(*)"),
    "channels": ("channel", "COUNT(DISTINCT order_id)"),
}


# Sums of money and quantities are exact, whatever order the lines are added in: in a
# parallel query that order changes from run to run, and a sum of doubles with it (in
# the last bits, which rounding to FEATURE_DECIMALS does not always hide: on the real
# Online Retail export one run in three had a customer's spend differ by 1e-9). Each
# line is taken to 4 decimals (as SQL Server's money type); SUM and AVG of a DECIMAL add
# integers, so every run gives the same bytes. 18 digits hold any value ingest lets
# through (MAX_EXACT_VALUE bounds ingest.max_abs_value) and add as 64-bit integers: 38
# digits cost 16% of the feature query, 18 about 8%, at 1M customers.
_EXACT = ("quantity", "discount")
MONEY_SQL_TYPE = "DECIMAL(18, 4)"
MAX_EXACT_VALUE = 1e13


def _exact(column: str) -> str:
    return f"CAST({column} AS {MONEY_SQL_TYPE})"


def order_ctes(
    available: Sequence[str], dates: str = "cutoff_dates", customers: str | None = None
) -> list[str]:
    """The common table expressions every point-in-time query starts from, one per cutoff
    in ``dates`` (a table or subquery with an ``as_of`` column): ``cutoffs`` (``as_of``,
    ``cutoff_end``), ``lines`` (the rows before ``cutoff_end``, with ``age_days``),
    ``order_parts`` (the purchase lines of an order by channel and date, see below),
    ``orders`` (one row per order: ``order_date``, ``order_ts``, ``order_value``...) and
    ``order_seq`` (the orders with ``gap_days``, ``is_last``, ``weekday`` 0=Sunday..6 and
    ``hour``). This is where an order is defined (see the module docstring).

    ``order_parts`` has one row per cutoff, customer, order, ``channel`` (when the data
    has one) and ``line_date``: the one pass over the lines that the orders, the channel
    counts (:func:`counts_cte`) and the BG/NBD summary are all aggregated from.

    ``customers``, a table (or an aliased subquery) with a ``customer_id`` column, keeps
    the lines of those customers only (a query about a few of them need not read
    everyone's)."""
    optional = [c for c in OPTIONAL_COLUMNS if c in available]
    line_cols = "".join(
        f", {_exact(f't.{c}')} AS {c}" if c in _EXACT else f", t.{c}" for c in optional
    )
    channel = ", channel" if "channel" in available else ""
    part_extra = order_extra = ""
    if "quantity" in available:
        part_extra += ",\n    SUM(quantity) AS order_items"
        order_extra += ",\n    SUM(order_items) AS order_items"
    if "discount" in available:
        part_extra += ",\n    MAX(CASE WHEN discount > 0 THEN 1 ELSE 0 END) AS order_discounted"
        order_extra += ",\n    MAX(order_discounted) AS order_discounted"
    if channel:
        part_extra += (
            ",\n    SUM(CASE WHEN age_days < 365 THEN 1 ELSE 0 END) AS lines_365d"
            ",\n    SUM(CASE WHEN age_days < 365 THEN amount END) AS purchased_365d"
        )
    only = f"\n  WHERE t.customer_id IN (SELECT customer_id FROM {customers})" if customers else ""
    return [
        f"""cutoffs AS (
  SELECT CAST(as_of AS DATE) AS as_of,
         CAST(as_of AS TIMESTAMP) + INTERVAL 1 DAY AS cutoff_end
  FROM {dates}
)""",
        # Not materialized: a copy of every line per cutoff held in memory cost 0.55 GB
        # at one cutoff of a 10M-line shop and saved no time; each reader scans again.
        # For some customers, their few lines are kept rather than found again per reader.
        f"""lines AS {"MATERIALIZED" if customers else "NOT MATERIALIZED"} (
  SELECT c.as_of, t.customer_id, t.order_id, t.ts, {_exact("t.amount")} AS amount{line_cols},
         DATE_DIFF('day', CAST(t.ts AS DATE), c.as_of) AS age_days
  FROM transactions AS t
  JOIN cutoffs AS c ON t.ts < c.cutoff_end{only}
)""",
        f"""order_parts AS (
  SELECT as_of, customer_id, order_id{channel}, CAST(ts AS DATE) AS line_date,
    MIN(ts) AS order_ts, MAX(age_days) AS age_days,
    SUM(amount) AS order_value, COUNT(*) AS order_lines{part_extra}
  FROM lines
  WHERE amount > 0
  GROUP BY as_of, customer_id, order_id{channel}, CAST(ts AS DATE)
)""",
        f"""orders AS (
  SELECT as_of, customer_id, order_id,
    MIN(line_date) AS order_date, MIN(order_ts) AS order_ts, MAX(age_days) AS age_days,
    SUM(order_value) AS order_value, SUM(order_lines) AS order_lines{order_extra}
  FROM order_parts
  GROUP BY as_of, customer_id, order_id
)""",
        """order_seq AS (
  SELECT *,
    DATE_DIFF('day', LAG(order_date) OVER w, order_date) AS gap_days,
    CASE WHEN LEAD(order_id) OVER w IS NULL THEN 1 ELSE 0 END AS is_last,
    -- 0 = Sunday: days since a Sunday, mod 7 (weekday functions number days differently
    -- in each engine, date differences do not).
    DATE_DIFF('day', DATE '1900-01-07', CAST(order_ts AS DATE)) % 7 AS weekday,
    HOUR(order_ts) AS hour
  FROM orders
  WINDOW w AS (PARTITION BY as_of, customer_id ORDER BY order_ts, order_id)
)""",
    ]


def counts_cte(level: str) -> str:
    """The CTE ``<level>_counts`` (``categories`` or ``channels``, see :data:`COUNTED`):
    per cutoff, customer and value of the column, the count ``n`` over the purchase lines
    of the last 365 days, and their amount ``purchased``. Channels are counted from
    ``order_parts`` (of :func:`order_ctes`): an order counts for a channel when one of its
    purchase lines there is of the last 365 days."""
    if level == "channels":
        # Two GROUP BYs rather than a COUNT(DISTINCT order_id) next to a SUM, which DuckDB
        # plans as two aggregates joined back together.
        return """channel_orders AS (
  SELECT as_of, customer_id, channel, order_id, SUM(purchased_365d) AS purchased
  FROM order_parts
  WHERE lines_365d > 0 AND channel IS NOT NULL
  GROUP BY as_of, customer_id, channel, order_id
),
channels_counts AS (
  SELECT as_of, customer_id, channel, COUNT(*) AS n, SUM(purchased) AS purchased
  FROM channel_orders
  GROUP BY as_of, customer_id, channel
)"""
    column, count = COUNTED[level]
    return f"""{level}_counts AS (
  SELECT as_of, customer_id, {column}, {count} AS n, SUM(amount) AS purchased
  FROM lines
  WHERE amount > 0 AND age_days < 365 AND {column} IS NOT NULL
  GROUP BY as_of, customer_id, {column}
)"""


def account_age_sql(as_of: str) -> str:
    """The expression of ``account_age_days`` at the cutoff ``as_of`` (an SQL date), over
    the ``customers`` table aliased ``cu``: days from sign-up, null for a sign-up after
    the cutoff."""
    return (
        f"CASE WHEN cu.signup_ts < CAST({as_of} AS TIMESTAMP) + INTERVAL 1 DAY "
        f"THEN DATE_DIFF('day', CAST(cu.signup_ts AS DATE), {as_of}) END"
    )


def feature_sql(
    features: list[Feature],
    available: Sequence[str],
    active_lookback_days: int,
    customers: str | None = None,
) -> str:
    """The one query computing ``features`` for every cutoff in ``cutoff_dates(as_of)``.

    Reads the ``transactions`` table (and ``customers`` when ``account_age_days`` is
    asked for); written in portable SQL so that it can be transpiled to other engines.
    ``customers`` (see :func:`order_ctes`) computes them for those customers only.
    """
    levels = {f.level for f in features}
    ctes = [
        *order_ctes(available, customers=customers),
        f"orders_agg AS (\n  {_aggregate(features, 'orders', 'order_seq')}\n)",
        f"lines_agg AS (\n  {_aggregate(features, 'lines', 'lines')}\n)",
    ]
    joins = ["FROM orders_agg AS o", "JOIN lines_agg AS l USING (as_of, customer_id)"]
    for level, (column, _) in COUNTED.items():
        if level not in levels:
            continue
        ctes.append(counts_cte(level))
        ctes.append(
            f"""{level} AS (
  SELECT as_of, customer_id, {column},
    n * 1.0 / SUM(n) OVER (PARTITION BY as_of, customer_id) AS share
  FROM {level}_counts
)"""
        )
        ctes.append(f"{level}_agg AS (\n  {_aggregate(features, level, level)}\n)")
        joins.append(f"LEFT JOIN {level}_agg USING (as_of, customer_id)")
    account_age = ""
    if any(f.name == "account_age_days" for f in features):
        joins.append("LEFT JOIN customers AS cu ON cu.customer_id = o.customer_id")
        account_age = f",\n    {account_age_sql('o.as_of')} AS account_age_days"
    base_cols = [f.name for f in features if f.level not in ("final", "btyd")]
    ctes.append(
        "base AS (\n  SELECT o.as_of, o.customer_id, "
        + ", ".join(base_cols)
        + account_age
        + "\n  "
        + "\n  ".join(joins)
        + "\n)"
    )
    # Every feature a DOUBLE, as the table holds them (fetched without a conversion per type).
    outputs = ",\n  ".join(
        f"CAST({f.sql if f.level == 'final' else f.name} AS DOUBLE) AS {f.name}"
        for f in features
        if f.level != "btyd"
    )
    return (
        "WITH " + ",\n".join(ctes) + f"\nSELECT customer_id, as_of,\n  {outputs}\nFROM base\n"
        f"WHERE days_since_last_order < {int(active_lookback_days)}\n"
        "ORDER BY as_of, customer_id"
    )


def build_features(
    con: duckdb.DuckDBPyConnection,
    cutoffs: Sequence[dt.date],
    windows: Sequence[int] = DEFAULT_WINDOWS,
    active_lookback_days: int = 365,
    families: Sequence[str] = FAMILIES,
    btyd_horizon_days: int | None = None,
) -> pd.DataFrame:
    """Feature table for every customer in the population at each cutoff.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection with the canonical ``transactions`` table (see :mod:`churn.data.ingest`).
    cutoffs : sequence of datetime.date
        The ``as_of`` dates; each means through the end of that day.
    windows : sequence of int
        Window lengths in days for the order and spend counts; must include 90 and 365.
    active_lookback_days : int
        Population: customers with an order in the last ``active_lookback_days`` days
        up to and including ``as_of``.
    families : sequence of str
        Feature families to compute (see :data:`churn.features.registry.FAMILIES`);
        features whose optional input columns the data lacks are left out.
    btyd_horizon_days : int, optional
        When given, add the buy-till-you-die family (``bgnbd_*``): a BG/NBD model is
        fitted at each cutoff and predicts the next ``btyd_horizon_days`` days.

    Returns
    -------
    pandas.DataFrame
        One row per (customer, cutoff) in the population: ``customer_id``, ``as_of``
        (datetime64 at midnight) and float64 feature columns in registry order, sorted by
        ``as_of`` then ``customer_id``.
    """
    available = available_inputs(con)
    features = chosen_features(
        windows, active_lookback_days, families, btyd_horizon_days, available
    )
    cutoff_frame = pd.DataFrame({"as_of": pd.to_datetime(sorted(set(cutoffs))).date})
    con.register("cutoff_dates", cutoff_frame)
    try:
        table = fetch_frame(con, feature_sql(features, available, active_lookback_days))
    finally:
        con.unregister("cutoff_dates")
    btyd = bgnbd_predictions(con, cutoffs, int(btyd_horizon_days)) if btyd_horizon_days else None
    return finish_table(table, features, btyd)


def fetch_frame(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    """The rows of ``sql`` as a frame, through NumPy arrays (nulls become NaN): for a
    1M x 50 feature table, 0.4 s where ``.df()`` took 0.4 to 3 s."""
    return pd.DataFrame(con.execute(sql).fetchnumpy(), copy=False)


def chosen_features(
    windows: Sequence[int],
    active_lookback_days: int,
    families: Sequence[str],
    btyd_horizon_days: int | None,
    available: Sequence[str],
) -> list[Feature]:
    """The registry's features for these settings and the inputs available, after
    checking the settings (:class:`ConfigError` when they do not make sense)."""
    clean = _validate(windows, active_lookback_days)
    chosen = [*families, BTYD_FAMILY] if btyd_horizon_days else list(families)
    try:
        return select_features(clean, chosen, available)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def finish_table(
    table: pd.DataFrame, features: list[Feature], btyd: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The feature table as every engine returns it: keys typed, the BG/NBD columns
    joined when given, values as float64 rounded to :data:`FEATURE_DECIMALS`, columns in
    registry order."""
    # Column by column, each rounded in place: a 1M x 50 table is 400 MB, and a copy of
    # the whole frame per step (copy, astype, round, reindex) cost seconds and gigabytes.
    columns: dict[str, np.ndarray] = {
        "customer_id": table["customer_id"].astype(str).to_numpy(),
        "as_of": pd.to_datetime(table["as_of"]).astype("datetime64[us]").to_numpy(),
    }
    found = None if btyd is None else _row_of_each_key(columns, btyd)
    names = [f.name for f in features]
    for name in names:
        if name in table.columns:
            values = table[name].astype("float64").to_numpy(copy=True)
        else:  # a left join on the keys: NaN where BG/NBD has no row
            assert btyd is not None and found is not None
            values = btyd[name].to_numpy(dtype="float64")[np.maximum(found, 0)]
            values[found < 0] = np.nan
        # Parallel float sums differ in the last bits from run to run; rounding makes the
        # table, and so the model trained on it, repeatable. A sum that cancels ends a
        # hair above or below zero by that order and rounds to 0.0 or -0.0: adding 0.0
        # makes both 0.0, so the files' bytes repeat too.
        np.round(values, FEATURE_DECIMALS, out=values)
        values += 0.0
        columns[name] = values
    return pd.DataFrame(columns, copy=False)


def _row_of_each_key(keys: dict[str, np.ndarray], other: pd.DataFrame) -> np.ndarray:
    """For each (``as_of``, ``customer_id``) of ``keys``, its row number in ``other``
    (unique keys), -1 where there is none: a left join's positions, one cutoff at a time
    (a merge on both keys of a million rows cost 2.3 s)."""
    found = np.full(len(keys["customer_id"]), -1, dtype=np.int64)
    other_as_of = pd.to_datetime(other["as_of"]).astype("datetime64[us]").to_numpy()
    other_ids = other["customer_id"].astype(str).to_numpy()
    for as_of in np.unique(keys["as_of"]):
        mine = np.flatnonzero(keys["as_of"] == as_of)
        theirs = np.flatnonzero(other_as_of == as_of)
        at = pd.Index(other_ids[theirs]).get_indexer(keys["customer_id"][mine])
        found[mine] = np.where(at >= 0, theirs[np.maximum(at, 0)], -1)
    return found


# Per cutoff, every customer with an order so far: repeat order days x, the day of the
# last one t_x and the age T, counted in days from the first order day.
BTYD_SUMMARY_SQL = """
WITH cutoffs AS (
  SELECT CAST(as_of AS DATE) AS as_of, CAST(as_of AS TIMESTAMP) + INTERVAL 1 DAY AS cutoff_end
  FROM cutoff_dates
),
order_days AS (
  SELECT DISTINCT c.as_of, t.customer_id, CAST(t.ts AS DATE) AS order_date
  FROM transactions AS t
  JOIN cutoffs AS c ON t.ts < c.cutoff_end
  WHERE t.amount > 0
)
SELECT as_of, customer_id,
  COUNT(*) - 1 AS x,
  DATE_DIFF('day', MIN(order_date), MAX(order_date)) AS t_x,
  DATE_DIFF('day', MIN(order_date), as_of) AS age
FROM order_days
GROUP BY as_of, customer_id
ORDER BY as_of, customer_id
"""


BTYD_MAX_FIT_CUSTOMERS = 100_000


def bgnbd_predictions(
    con: duckdb.DuckDBPyConnection, cutoffs: Sequence[dt.date], horizon_days: int
) -> pd.DataFrame:
    """The buy-till-you-die family alone (see :func:`btyd_features`) for every customer
    with an order up to each cutoff: ``customer_id``, ``as_of`` and the ``bgnbd_*``
    columns."""
    cutoff_frame = pd.DataFrame({"as_of": pd.to_datetime(sorted(set(cutoffs))).date})
    con.register("cutoff_dates", cutoff_frame)
    try:
        summary = fetch_frame(con, BTYD_SUMMARY_SQL)
    finally:
        con.unregister("cutoff_dates")
    return btyd_features(summary, horizon_days)


def btyd_features(
    summary: pd.DataFrame, horizon_days: int, max_fit_customers: int = BTYD_MAX_FIT_CUSTOMERS
) -> pd.DataFrame:
    """BG/NBD features per (customer, cutoff) from a :data:`BTYD_SUMMARY_SQL` summary.

    One model per cutoff, fitted on every customer in that cutoff's summary, or on a
    fixed-seed random sample of ``max_fit_customers`` of them when there are more (four
    parameters describe the whole population; the fit's cost grows with customers).
    Predictions are made for every customer.
    """
    parts = []
    # Row order must not change the fit: sorted before summing the likelihood (a check
    # first: a million ids sorted again cost 1.2 s).
    if not _in_key_order(summary):
        summary = summary.sort_values(["as_of", "customer_id"], kind="stable")
    for as_of, group in summary.groupby("as_of", sort=True):
        x, t_x, age = (group[c].to_numpy(dtype="float64") for c in ("x", "t_x", "age"))
        fit_rows = (
            np.random.default_rng(0).choice(len(group), max_fit_customers, replace=False)
            if len(group) > max_fit_customers
            else slice(None)
        )
        params = fit_bgnbd(x[fit_rows], t_x[fit_rows], age[fit_rows])
        log.info("BG/NBD at %s on %d customers: %s", as_of, len(group), params)
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": group["customer_id"].astype(str).to_numpy(),
                    "as_of": pd.Timestamp(as_of),
                    "bgnbd_p_no_order": p_no_purchase(params, x, t_x, age, horizon_days),
                    "bgnbd_expected_orders": expected_purchases(params, x, t_x, age, horizon_days),
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)
    out["as_of"] = out["as_of"].astype("datetime64[us]")
    return out


def _in_key_order(frame: pd.DataFrame) -> bool:
    """Whether ``frame``'s rows are sorted by ``as_of``, then ``customer_id``."""
    if len(frame) < 2:
        return True
    as_of = pd.to_datetime(frame["as_of"]).to_numpy()
    ids = frame["customer_id"].astype(str).to_numpy(dtype=object)
    later, same = as_of[1:] > as_of[:-1], as_of[1:] == as_of[:-1]
    return bool(np.all(later | (same & (ids[1:] >= ids[:-1]))))


def feature_names(
    windows: Sequence[int] = DEFAULT_WINDOWS,
    families: Sequence[str] = FAMILIES,
    available: Sequence[str] = (*OPTIONAL_COLUMNS, "customers"),
) -> list[str]:
    """Names of the feature columns, in table order."""
    return [f.name for f in select_features(windows, families, available)]
