"""A realistic outcomes view model, as the outcomes stage passes it to the outcomes page:
two lists still waiting, the newest matured list with a control group, an older one without
and an older model's list."""

from __future__ import annotations

import copy
from typing import Any

# Predicted and realised churn of the ten tenths of the customers not contacted, the
# highest chance first, with the realised rate's 95% interval.
DECILES = [
    ("1", 388, 0.812, 0.784, 0.741, 0.822),
    ("2", 388, 0.702, 0.716, 0.669, 0.759),
    ("3", 388, 0.611, 0.590, 0.540, 0.638),
    ("4", 388, 0.523, 0.549, 0.499, 0.598),
    ("5", 388, 0.441, 0.412, 0.364, 0.462),
    ("6", 388, 0.362, 0.381, 0.334, 0.430),
    ("7", 388, 0.287, 0.263, 0.221, 0.308),
    ("8", 388, 0.214, 0.237, 0.197, 0.281),
    ("9", 388, 0.139, 0.129, 0.099, 0.165),
    ("10", 388, 0.061, 0.077, 0.054, 0.108),
]


def _rates(group: str, customers: int, predicted: float, realised: float, low: float, high: float):
    return {
        "group": group,
        "customers": customers,
        "predicted": predicted,
        "realised": realised,
        "low": low,
        "high": high,
    }


def _effect_row(group: str, contact: int, control: int, churn_contact: float, churn_control: float):
    difference = churn_contact - churn_control
    return {
        "group": group,
        "contact": contact,
        "control": control,
        "churn_contact": churn_contact,
        "churn_control": churn_control,
        "difference": difference,
        "low": difference - 0.21,
        "high": difference + 0.21,
    }


MATURED: dict[str, Any] = {
    "as_of": "2011-09-01",
    "model_name": "churn-online-retail",
    "model_version": "3",
    "status": "matured",
    "horizon_days": 90,
    "outcome_known_on": "2011-11-30",
    "customers": 4264,
    "contact": 384,
    "control": 43,
    "not_selected": 3837,
    "predicted_churn": 0.412,
    "performance": {
        "not_contacted": {
            "customers": 3880,
            "predicted": 0.4023,
            "realised": 0.4307,
            "low": 0.4152,
            "high": 0.4463,
            "roc_auc": 0.7412,
            "brier": 0.1876,
            "calibration_error": 0.0312,
        },
        "all": {
            "customers": 4264,
            "predicted": 0.412,
            "realised": 0.4331,
            "low": 0.4183,
            "high": 0.4480,
            "roc_auc": 0.7398,
            "brier": 0.1881,
            "calibration_error": 0.0297,
        },
        "by_tier": [
            _rates("high", 512, 0.801, 0.771, 0.733, 0.806),
            _rates("medium", 1240, 0.532, 0.561, 0.533, 0.588),
            _rates("low", 2128, 0.221, 0.245, 0.227, 0.264),
        ],
        "by_segment": [
            _rates("vip", 310, 0.312, 0.287, 0.239, 0.340),
            _rates("regular", 1820, 0.354, 0.391, 0.369, 0.414),
            _rates("new", 1122, 0.489, 0.503, 0.474, 0.532),
            _rates("dormant", 628, 0.601, 0.584, 0.545, 0.622),
        ],
        "by_decile": [_rates(*row) for row in DECILES],
    },
    "effect": {
        "contact": 384,
        "control": 43,
        "not_reached": 0,
        "control_contacted": 0,
        "metrics": [
            {
                "metric": "churn_rate",
                "contact": 0.352,
                "control": 0.4651,
                "difference": -0.1131,
                "low": -0.2687,
                "high": 0.0425,
            },
            {
                "metric": "response_rate",
                "contact": 0.1823,
                "control": 0.0465,
                "difference": 0.1358,
                "low": 0.0612,
                "high": 0.2104,
            },
            {
                "metric": "conversion_rate",
                "contact": 0.648,
                "control": 0.5349,
                "difference": 0.1131,
                "low": -0.0425,
                "high": 0.2687,
            },
            {
                "metric": "revenue_per_customer",
                "contact": 412.35,
                "control": 298.1,
                "difference": 114.25,
                "low": -23.4,
                "high": 251.9,
            },
        ],
        "incremental_customers": {"value": 43.43, "low": -16.32, "high": 103.18},
        "incremental_revenue": {"value": 43872.0, "low": -8985.6, "high": 96729.6},
        "cost": 576.0,
        "return_on_spend": 76.1667,
        "return_on_spend_low": -15.6,
        "return_on_spend_high": 167.9333,
        "by_segment": [
            _effect_row("vip", 40, 5, 0.2, 0.4),
            _effect_row("regular", 180, 20, 0.3111, 0.45),
            _effect_row("new", 120, 13, 0.4417, 0.5385),
            _effect_row("dormant", 44, 5, 0.5, 0.4),
        ],
        "by_action": [
            _effect_row("loyalty_offer", 40, 5, 0.2, 0.4),
            _effect_row("rhythm_reminder", 180, 20, 0.3111, 0.45),
            _effect_row("second_purchase", 120, 13, 0.4417, 0.5385),
            _effect_row("reactivation", 44, 5, 0.5, 0.4),
        ],
    },
}


def pending_run(as_of: str, known_on: str, version: str = "4") -> dict[str, Any]:
    """A list whose horizon has not passed: no performance and no effect."""
    return {
        "as_of": as_of,
        "model_name": "churn-online-retail",
        "model_version": version,
        "status": "pending",
        "horizon_days": 90,
        "outcome_known_on": known_on,
        "customers": 4338,
        "contact": 379,
        "control": 42,
        "not_selected": 3917,
        "predicted_churn": 0.3876,
        "performance": None,
        "effect": None,
    }


def matured_run(as_of: str = "2011-09-01", **changes: Any) -> dict[str, Any]:
    """A deep copy of :data:`MATURED`, with top-level keys replaced."""
    made = copy.deepcopy(MATURED)
    made["as_of"] = as_of
    made.update(changes)
    return made


def without_control(run: dict[str, Any]) -> dict[str, Any]:
    """``run`` as scored with no control group (``score.control_fraction=0``)."""
    return dict(run, contact=run["contact"] + run["control"], control=0, effect=None)


VIEW: dict[str, Any] = {
    "locale": "en",
    "currency": "GBP",
    "data_last_date": "2011-12-09",
    "scores_dir": "outputs/scores/en",
    "contacts": {"source": "assumed"},
    "response_days": 14,
    "cost_per_contact": 1.5,
    "runs": [
        pending_run("2011-12-09", "2012-03-08"),
        pending_run("2011-11-01", "2012-01-30"),
        matured_run("2011-09-01"),
        without_control(matured_run("2011-06-01", outcome_known_on="2011-08-30")),
        matured_run("2011-03-01", model_version="2", outcome_known_on="2011-05-30"),
    ],
    "by_model": [
        {
            "model_version": "3",
            "runs": 2,
            "customers": 7760,
            "roc_auc": 0.7389,
            "calibration_error": 0.0305,
            "predicted": 0.4023,
            "realised": 0.4307,
        },
        {
            "model_version": "2",
            "runs": 1,
            "customers": 3880,
            "roc_auc": 0.7012,
            "calibration_error": 0.0521,
            "predicted": 0.4023,
            "realised": 0.4307,
        },
    ],
    "retrain": None,
}

RETRAIN: dict[str, Any] = {
    "model_version": "3",
    "as_of": "2011-09-01",
    "roc_auc": 0.6123,
    "min_roc_auc": 0.65,
    "calibration_error": 0.1234,
    "max_calibration_error": 0.1,
    "reasons": ["roc_auc", "calibration_error"],
}


def outcomes(locale: str = "en", **changes: Any) -> dict[str, Any]:
    """A deep copy of :data:`VIEW` in ``locale``, with top-level keys replaced."""
    made = copy.deepcopy(VIEW)
    made["locale"] = locale
    if locale == "it":
        made["currency"] = "EUR"
        made["scores_dir"] = "outputs/scores/it"
    made.update(changes)
    return made
