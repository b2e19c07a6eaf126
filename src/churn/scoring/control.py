"""The control group of a list: customers chosen for the list but held out at random, so
that what the campaign changed can be measured by comparing them with those contacted.

Each scoring run splits the customers it scored into three groups (:data:`GROUPS`):
``contact`` (in the at-risk CSV), ``control`` (selected, held out) and ``not_selected``.
The draw is stratified: in every stratum (segment x risk tier) of ``n`` selected customers,
the ``floor(n * fraction + 1/2)`` with the smallest key are held out, so each stratum's
control share is within half a customer of the fraction. A customer's key is a hash of the
salt and their id alone, not of the date: a customer held out tonight keeps their place
the next nights, so nightly lists do not contact yesterday's control group. A new salt
draws a new control group.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

GROUPS = ("contact", "control", "not_selected")
# The strata of the draw: the columns of scores.parquet it is balanced on.
STRATA = ("segment", "risk_tier")
# Above a half, a stratum of one customer would be all control and the list empty.
MAX_CONTROL_FRACTION = 0.5


def draw_keys(customer_ids: Sequence[object], salt: str) -> np.ndarray:
    """Each customer's place in the draw: the first 8 bytes of SHA-256 of ``salt`` and the
    id, as an unsigned integer (the same on every machine and Python version)."""
    prefix = salt.encode() + b"\x1f"
    return np.array(
        [
            int.from_bytes(hashlib.sha256(prefix + str(c).encode()).digest()[:8], "big")
            for c in customer_ids
        ],
        dtype="uint64",
    )


def control_size(selected: int, fraction: float) -> int:
    """How many of a stratum's ``selected`` customers are held out: the nearest whole
    number to ``selected * fraction`` (halves round up)."""
    return int(np.floor(selected * fraction + 0.5 + 1e-9)) if fraction > 0 else 0


@dataclass(frozen=True)
class ControlPolicy:
    """``score.control_fraction`` and ``score.control_salt``.

    Attributes
    ----------
    fraction : float
        Share of the selected customers of each stratum held out, 0 to
        :data:`MAX_CONTROL_FRACTION` (0: no control group).
    salt : str
        Mixed into every customer's key; another salt draws another control group.
    """

    fraction: float
    salt: str

    def held_out(self, selected: pd.DataFrame) -> pd.Series:
        """Whether each row of ``selected`` (with ``customer_id`` and the :data:`STRATA`
        columns) is held out as control; aligned with its index."""
        return held_out(selected, self.fraction, self.salt)


def held_out(selected: pd.DataFrame, fraction: float, salt: str) -> pd.Series:
    """The control draw of :class:`ControlPolicy` on the ``selected`` customers: True for
    the ``control_size(n, fraction)`` customers of each stratum with the smallest key
    (ties, which SHA-256 makes practically impossible, by ``customer_id``)."""
    out = pd.Series(False, index=selected.index, name="control")
    if fraction <= 0 or selected.empty:
        return out
    order = pd.DataFrame(
        {
            "key": draw_keys(selected["customer_id"].tolist(), salt),
            "customer_id": selected["customer_id"].astype(str).to_numpy(),
            **{s: selected[s].astype(str).to_numpy() for s in STRATA},
        },
        index=selected.index,
    ).sort_values(["key", "customer_id"], kind="stable")
    rank = order.groupby(list(STRATA), sort=False).cumcount()
    size = order.groupby(list(STRATA), sort=False)["key"].transform("size")
    limit = np.floor(size.to_numpy() * fraction + 0.5 + 1e-9)
    out.loc[order.index] = rank.to_numpy() < limit
    return out


def groups(scored: pd.Series, selected: pd.Index, control: pd.Index) -> pd.Series:
    """Each scored customer's group (:data:`GROUPS`): ``scored`` is the customer ids of
    every customer scored, ``selected`` and ``control`` the ids chosen for the list and
    held out of it."""
    group = np.where(
        scored.isin(control), "control", np.where(scored.isin(selected), "contact", "not_selected")
    )
    return pd.Series(group, index=scored.index, name="group")


def strata_counts(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Per stratum of the selected customers (rows of ``frame`` with the :data:`STRATA`
    columns and ``group``): how many were selected and how many held out."""
    selected = frame[frame["group"] != "not_selected"]
    if selected.empty:
        return []
    table = (
        selected.assign(control=selected["group"] == "control")
        .groupby(list(STRATA), sort=True)["control"]
        .agg(selected="size", control="sum")
        .reset_index()
    )
    return [
        {
            **{s: str(row[s]) for s in STRATA},
            "selected": int(row["selected"]),
            "control": int(row["control"]),
        }
        for row in table.to_dict("records")
    ]
