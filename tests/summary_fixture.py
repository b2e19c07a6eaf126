"""A realistic summary of a scoring run, as the score stage passes it to the summary page."""

from __future__ import annotations

import copy
from typing import Any

SUMMARY: dict[str, Any] = {
    "as_of": "2011-12-09",
    "locale": "en",
    "currency": "GBP",
    "model": {"name": "churn-online-retail", "version": "7"},
    "horizon_days": 90,
    "horizon_end": "2012-03-08",
    "selection": {
        "mode": "share",
        "share": 0.1,
        "top_k": None,
        "budget": None,
        "cost_per_contact": 1.5,
        "listed": 421,
        "control_fraction": 0.1,
    },
    "totals": {
        "scored": 4338,
        "listed": 421,
        "value_at_risk": 187654.321,
        "suppressed_opt_out": 13,
        "suppressed_by_reason": {"opted out": 11, "opt-out unreadable": 2},
        "control": 47,
    },
    "contacted_on": "2011-12-10",
    "by_segment_tier": [
        {"segment": "vip", "tier": "high", "customers": 18, "value_at_risk": 61234.5},
        {"segment": "vip", "tier": "medium", "customers": 25, "value_at_risk": 48210.25},
        {"segment": "regular", "tier": "high", "customers": 96, "value_at_risk": 40987.1},
        {"segment": "regular", "tier": "medium", "customers": 71, "value_at_risk": 20410.0},
        {"segment": "regular", "tier": "low", "customers": 12, "value_at_risk": 1530.47},
        {"segment": "new", "tier": "high", "customers": 143, "value_at_risk": 11820.0},
        {"segment": "dormant", "tier": "high", "customers": 56, "value_at_risk": 3462.0},
    ],
    "themes": [
        {
            "theme": "rhythm",
            "cause": "unknown",
            "customers": 198,
            "example": "No order for 84 days, while they usually order every 21 days",
        },
        {
            "theme": "spending",
            "cause": "price",
            "customers": 97,
            "example": "Spent £120 in the last 90 days, down from £410 the 90 days before",
        },
        {
            "theme": "lifecycle",
            "cause": "no_personalisation",
            "customers": 81,
            "example": "Placed a single order, 45 days ago",
        },
        {
            "theme": "returns",
            "cause": "poor_quality",
            "customers": 45,
            "example": "Returned 3 of their last 5 orders",
        },
    ],
    "actions": [
        {
            "action": "loyalty_offer",
            "segment": "vip",
            "customers": 43,
            "file": "by_action/loyalty_offer.csv",
        },
        {
            "action": "rhythm_reminder",
            "segment": "regular",
            "customers": 179,
            "file": "by_action/rhythm_reminder.csv",
        },
        {
            "action": "second_purchase",
            "segment": "new",
            "customers": 143,
            "file": "by_action/second_purchase.csv",
        },
        {
            "action": "reactivation",
            "segment": "dormant",
            "customers": 56,
            "file": "by_action/reactivation.csv",
        },
    ],
    "list_sizes": [
        {
            "share": 0.01,
            "customers": 43,
            "expected_leavers": 38.7,
            "would_stay": 4.3,
            "leavers_reached_share": 0.031,
            "value_reached_share": 0.21,
            "chosen": False,
        },
        {
            "share": 0.05,
            "customers": 217,
            "expected_leavers": 180.1,
            "would_stay": 36.9,
            "leavers_reached_share": 0.145,
            "value_reached_share": 0.48,
            "chosen": False,
        },
        {
            "share": 0.1,
            "customers": 434,
            "expected_leavers": 330.4,
            "would_stay": 103.6,
            "leavers_reached_share": 0.266,
            "value_reached_share": 0.63,
            "chosen": True,
        },
        {
            "share": 0.2,
            "customers": 868,
            "expected_leavers": 571.2,
            "would_stay": 296.8,
            "leavers_reached_share": 0.46,
            "value_reached_share": 0.79,
            "chosen": False,
        },
        {
            "share": 0.5,
            "customers": 2169,
            "expected_leavers": 1002.5,
            "would_stay": 1166.5,
            "leavers_reached_share": 0.807,
            "value_reached_share": 0.9,
            "chosen": False,
        },
    ],
    "probability_histogram": {
        "edges": [i / 10 for i in range(11)],
        "counts": [1210, 905, 640, 452, 330, 262, 201, 160, 121, 57],
    },
    "tiers": {"high": 0.7, "medium": 0.4},
    "files": {"csv": "at_risk_customers.csv"},
    "empty_reason": None,
}


# The reason sentences are written in the run's language.
ITALIAN_EXAMPLES = (
    "Nessun ordine da 84 giorni, mentre di solito ordina ogni 21 giorni",
    "Ha speso 120 £ negli ultimi 90 giorni, contro 410 £ nei 90 giorni prima",
    "Un solo ordine, 45 giorni fa",
    "Ha reso 3 dei suoi ultimi 5 ordini",
)


def summary(locale: str = "en", **changes: Any) -> dict[str, Any]:
    """A deep copy of :data:`SUMMARY` in ``locale``, with top-level keys replaced."""
    made = copy.deepcopy(SUMMARY)
    made["locale"] = locale
    if locale == "it":
        for theme, example in zip(made["themes"], ITALIAN_EXAMPLES, strict=True):
            theme["example"] = example
    made.update(changes)
    return made
