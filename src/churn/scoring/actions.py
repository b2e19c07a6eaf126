"""Likely cause and next best action of an at-risk customer, from ``conf/actions/``.

A customer's top reason is a theme of their behaviour (:mod:`churn.scoring.themes`). The
config maps each theme to a likely cause (``returns`` -> ``poor_quality``) and, per
segment, each theme to an action (a ``regular`` customer off their rhythm gets a
``rhythm_reminder``); a theme the segment does not list gets the segment's ``default``.
VIPs without an order for ``vip_dormant_min_days`` stay VIPs by the segment rules (spend
comes first), but a preview will not bring them back: they get the ``vip_dormant`` row.

Keys are message ids of the lists catalog (``cause.<key>``, ``action.<key>`` and
``action.<key>.offer``), so every key the config names has words in every language;
:func:`known_causes` and :func:`known_actions` list those the English catalog has.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from babel.messages.pofile import read_po

from churn.features.registry import THEMES
from churn.scoring.selection import SEGMENTS
from churn.text.messages import CATALOG_DIR, REFERENCE

# The theme of a customer whose risk no citable behaviour explains.
NO_THEME = "none"
ALL_THEMES = (*THEMES, NO_THEME)
# Rows of the action table: the segments, and VIPs gone quiet.
VIP_DORMANT = "vip_dormant"
TABLE_ROWS = (*SEGMENTS, VIP_DORMANT)
DEFAULT = "default"


@cache
def _catalog_ids() -> frozenset[str]:
    with (CATALOG_DIR / REFERENCE / "lists.po").open("rb") as handle:
        return frozenset(m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle))


def known_causes() -> tuple[str, ...]:
    """The causes with words in the English lists catalog (``cause.<key>``)."""
    ids = _catalog_ids()
    return tuple(sorted(i.split(".")[1] for i in ids if i.count(".") == 1 and i[:6] == "cause."))


def known_actions() -> tuple[str, ...]:
    """The actions with a name and an offer in the English lists catalog
    (``action.<key>`` and ``action.<key>.offer``)."""
    ids = _catalog_ids()
    return tuple(
        sorted(
            i.split(".")[1]
            for i in ids
            if i.count(".") == 1 and i.startswith("action.") and f"{i}.offer" in ids
        )
    )


@dataclass(frozen=True)
class ActionTable:
    """Cause per theme and action per (segment, theme): ``actions.*`` of the config.

    Attributes
    ----------
    causes : mapping of str to str
        Theme (:data:`ALL_THEMES`) to cause key.
    table : mapping of str to mapping of str to str
        Row (:data:`TABLE_ROWS`) to its actions: theme to action key, and ``default``.
    discount_actions : frozenset of str
        The actions that may carry a discount.
    vip_dormant_min_days : int
        A VIP without an order for this many days or more gets the ``vip_dormant`` row.
    """

    causes: Mapping[str, str]
    table: Mapping[str, Mapping[str, str]]
    discount_actions: frozenset[str] = field(default_factory=frozenset)
    vip_dormant_min_days: int = 90

    def __post_init__(self) -> None:
        object.__setattr__(self, "causes", MappingProxyType(dict(self.causes)))
        object.__setattr__(
            self,
            "table",
            MappingProxyType({k: MappingProxyType(dict(v)) for k, v in self.table.items()}),
        )
        object.__setattr__(self, "discount_actions", frozenset(self.discount_actions))

    @classmethod
    def from_config(cls, actions: Mapping[str, Any]) -> ActionTable:
        """The table of a (validated) ``actions`` config group, a DictConfig or a dict."""
        table = actions["table"]
        return cls(
            causes={str(k): str(v) for k, v in actions["causes"].items()},
            table={
                str(row): {str(k): str(v) for k, v in table[row].items() if v is not None}
                for row in table
            },
            discount_actions=frozenset(str(a) for a in actions["discount_actions"]),
            vip_dormant_min_days=int(actions["vip_dormant_min_days"]),
        )

    def row(self, segment: str, days_since_last_order: float | None = None) -> str:
        """The table row of a customer: their segment, or ``vip_dormant`` for a VIP
        without an order for ``vip_dormant_min_days`` or more."""
        if (
            segment == "vip"
            and VIP_DORMANT in self.table
            and days_since_last_order is not None
            and days_since_last_order >= self.vip_dormant_min_days
        ):
            return VIP_DORMANT
        return segment

    def action(self, segment: str, theme: str, days_since_last_order: float | None = None) -> str:
        """The action for a customer of ``segment`` whose top reason is ``theme``."""
        actions = self.table[self.row(segment, days_since_last_order)]
        return actions.get(theme, actions[DEFAULT])

    def cause(self, theme: str) -> str:
        """The likely cause behind ``theme``."""
        return self.causes[theme]

    def may_discount(self, action: str) -> bool:
        """Whether ``action`` may carry a discount."""
        return action in self.discount_actions


def discount_advised(actions: pd.Series, table: ActionTable, features: pd.DataFrame) -> pd.Series:
    """Whether to put a discount in each customer's offer: only when the action may carry
    one and the customer bought with a discount in the last year
    (``discount_order_share_365d > 0``). Without discount data, never: a discount to a
    full-price buyer is margin given away."""
    if "discount_order_share_365d" in features.columns:
        share = features["discount_order_share_365d"].reindex(actions.index).astype("float64")
        has_bought = (share > 0).to_numpy()
    else:
        has_bought = np.zeros(len(actions), dtype=bool)
    may = actions.map(table.may_discount).to_numpy(dtype=bool)
    return pd.Series(may & has_bought, index=actions.index, name="discount_advised")
