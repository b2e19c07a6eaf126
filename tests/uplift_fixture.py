"""Realistic uplift view models, as the uplift stage passes them to the uplift page: a model
learned from the shop's lists that passed its gate on a later campaign, the same model failed
or forced through, and the MineThatData e-mail experiment read as a features table (the
outcome is a visit, the ranking to beat a response model), checked on a random part."""

from __future__ import annotations

import copy
from typing import Any

HOLDOUT = 1031


def curve(customers: int, end: float, bump: float, points: int = 101) -> list[list[float]]:
    """A Qini-like curve over ``customers``: from 0 to ``end`` (everyone targeted), above
    the straight line by ``bump`` at most (a good ranking's curve bulges early)."""
    made = []
    for i in range(points):
        share = i / (points - 1)
        made.append(
            [
                round(customers * share),
                round(end * share + bump * 6.75 * share * (1 - share) ** 2, 2),
            ]
        )
    return made


def curves(customers: int, qini_end: float, uplift_end: float, model: float, risk: float):
    """The Qini and uplift curves of the model, the risk ranking and a random list."""
    return {
        "qini": {
            "model": curve(customers, qini_end, model),
            "risk": curve(customers, qini_end, risk),
            "random": [[0, 0.0], [customers, qini_end]],
        },
        "uplift": {
            "model": curve(customers, uplift_end, 2 * model),
            "risk": curve(customers, uplift_end, 2 * risk),
            "random": [[0, 0.0], [customers, uplift_end]],
        },
    }


def _budget(share: float, customers: int, kept: tuple[float, float, float], value: float):
    model, risk, random = kept
    return {
        "share": share,
        "customers": customers,
        "kept_model": model,
        "kept_risk": risk,
        "kept_random": random,
        "revenue_model": round(model * value, 1),
        "revenue_risk": round(risk * value, 1),
        "revenue_random": round(random * value, 1),
    }


def _check(check: str, ok: bool, model: float, other: float, low: float, high: float):
    """A Qini check of the gate, with the bootstrap 95% interval of the model's lead
    (``low``, ``high``): beats_random needs it above 0, beats_risk is on the coefficients
    themselves."""
    return {"check": check, "ok": ok, "model": model, "other": other, "low": low, "high": high}


PASSED_CHECKS = [
    _check("beats_random", True, 0.2134, 0.0, 0.1502, 0.2718),
    _check("beats_risk", True, 0.2134, 0.1187, 0.0215, 0.1633),
    {"check": "later_campaign", "ok": True},
]

FAILED_CHECKS = [
    _check("beats_random", True, 0.1012, 0.0, 0.0388, 0.1631),
    _check("beats_risk", False, 0.1012, 0.1187, -0.0893, 0.0541),
    {"check": "later_campaign", "ok": True},
]

VIEW: dict[str, Any] = {
    "locale": "en",
    "currency": "GBP",
    "source": "lists",
    "table": None,
    "outcome": "kept",
    "horizon_days": 90,
    "train": {
        "campaigns": ["2024-05-31", "2024-06-30"],
        "customers": 1800,
        "treated": 900,
        "control": 900,
    },
    "holdout": {
        "split": "later_campaign",
        "campaign": "2024-08-31",
        "customers": HOLDOUT,
        "treated": 513,
        "control": 518,
        "average_effect": {"value": 0.1812, "low": 0.1204, "high": 0.2421},
    },
    "qini": {
        "model": 0.2134,
        "risk": 0.1187,
        "random": 0.0,
        "model_minus_risk": {"mean": 0.0947, "low": 0.0215, "high": 0.1633},
        "model_minus_random": {"mean": 0.2134, "low": 0.1502, "high": 0.2718},
    },
    "risk_name": "churn risk",
    "uplift_at": [
        {"share": 0.1, "model": 0.3121, "risk": 0.2034},
        {"share": 0.2, "model": 0.2857, "risk": 0.1968},
        {"share": 0.3, "model": 0.2563, "risk": 0.1901},
    ],
    "curves": curves(HOLDOUT, 93.0, 186.8, 40.0, 12.0),
    "budget": [
        _budget(0.05, 52, (17.2, 10.1, 9.4), 70.0),
        _budget(0.1, 103, (32.1, 20.9, 18.7), 70.0),
        _budget(0.2, 206, (58.9, 40.5, 37.3), 70.0),
        _budget(0.3, 309, (79.2, 58.7, 56.0), 70.0),
        _budget(0.5, 516, (107.4, 92.8, 93.5), 70.0),
    ],
    "negative_share": 0.0712,
    "gate": {"verdict": "passed", "alias": "champion", "checks": PASSED_CHECKS},
    "model": {"name": "churn-uplift", "version": "1", "learner": "s"},
}

# The MineThatData e-mail experiment (Hillstrom): 64,000 customers, 70% learned from and a
# random 30% checked; figures as measured on it with the S-learner.
HILLSTROM: dict[str, Any] = {
    "locale": "en",
    "currency": "USD",
    "source": "table",
    "table": "data/shops/hillstrom/hillstrom.csv.zip",
    "outcome": "visit",
    "horizon_days": None,
    "train": {"campaigns": None, "customers": 44800, "treated": 29885, "control": 14915},
    "holdout": {
        "split": "random",
        "campaign": None,
        "customers": 19200,
        "treated": 12797,
        "control": 6403,
        "average_effect": {"value": 0.0610, "low": 0.0510, "high": 0.0709},
    },
    "qini": {
        "model": 0.0311,
        "risk": 0.0209,
        "random": -0.0005,
        "model_minus_risk": {"mean": 0.0102, "low": 0.0019, "high": 0.0185},
        "model_minus_random": {"mean": 0.0316, "low": 0.0121, "high": 0.0502},
    },
    "risk_name": "response model",
    "uplift_at": [
        {"share": 0.1, "model": 0.0929, "risk": 0.0712},
        {"share": 0.2, "model": 0.0901, "risk": 0.0745},
        {"share": 0.3, "model": 0.0780, "risk": 0.0718},
    ],
    "curves": curves(19200, 780.6, 1171.2, 260.0, 120.0),
    "budget": [
        _budget(0.05, 960, (91.2, 66.8, 58.6), 6.2),
        _budget(0.1, 1920, (178.4, 136.7, 117.1), 6.2),
        _budget(0.2, 3840, (346.0, 286.1, 234.2), 6.2),
        _budget(0.3, 5760, (449.3, 413.6, 351.4), 6.2),
        _budget(0.5, 9600, (662.5, 640.1, 585.6), 6.2),
    ],
    "negative_share": 0.0418,
    "gate": {
        "verdict": "failed",
        "alias": "challenger",
        "checks": [
            _check("beats_random", True, 0.0311, -0.0005, 0.0121, 0.0502),
            _check("beats_risk", True, 0.0311, 0.0209, 0.0019, 0.0185),
            {"check": "later_campaign", "ok": False},
        ],
    },
    "model": {"name": "hillstrom-uplift", "version": "2", "learner": "s"},
}


def uplift(locale: str = "en", **changes: Any) -> dict[str, Any]:
    """A deep copy of :data:`VIEW` in ``locale`` (in euros for Italian), with top-level keys
    replaced."""
    made = copy.deepcopy(VIEW)
    made["locale"] = locale
    if locale == "it":
        made["currency"] = "EUR"
    made.update(copy.deepcopy(changes))
    return made


def failed(locale: str = "en", verdict: str = "failed", **changes: Any) -> dict[str, Any]:
    """:func:`uplift` with a model that does not beat churn risk: ``failed`` (a
    challenger) or ``forced`` (a champion all the same)."""
    alias = "champion" if verdict == "forced" else "challenger"
    made = uplift(locale, **changes)
    made["gate"] = {"verdict": verdict, "alias": alias, "checks": copy.deepcopy(FAILED_CHECKS)}
    made["qini"] |= {
        "model": 0.1012,
        "model_minus_risk": {"mean": -0.0175, "low": -0.0893, "high": 0.0541},
        "model_minus_random": {"mean": 0.1012, "low": 0.0388, "high": 0.1631},
    }
    return made


def within_chance(locale: str = "en", **changes: Any) -> dict[str, Any]:
    """:func:`uplift` with a model checked on a random part of one campaign whose Qini
    coefficient is above both others' but whose lead over a random list is within chance
    (as a new shop's first campaign gives)."""
    made = uplift(locale, **changes)
    made["holdout"] |= {"split": "random", "campaign": None}
    made["qini"] |= {
        "model": 0.1219,
        "risk": 0.0404,
        "model_minus_risk": {"mean": 0.0815, "low": -0.0702, "high": 0.2288},
        "model_minus_random": {"mean": 0.1006, "low": -0.0312, "high": 0.2321},
    }
    made["gate"] = {
        "verdict": "failed",
        "alias": "challenger",
        "checks": [
            _check("beats_random", False, 0.1219, 0.0, -0.0312, 0.2321),
            _check("beats_risk", True, 0.1219, 0.0404, -0.0702, 0.2288),
            {"check": "later_campaign", "ok": False},
        ],
    }
    return made


def hillstrom(locale: str = "en", **changes: Any) -> dict[str, Any]:
    """A deep copy of :data:`HILLSTROM` in ``locale``, with top-level keys replaced."""
    made = copy.deepcopy(HILLSTROM)
    made["locale"] = locale
    made.update(copy.deepcopy(changes))
    return made
