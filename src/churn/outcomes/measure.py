"""What a matured list shows: realised churn against the prediction, and the campaign's
effect, contacted against control. Frames in, plain dicts out (the view model of
``outcomes.json`` and the page)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, roc_auc_score

from churn.modeling.evaluation import expected_calibration_error
from churn.outcomes.arms import NOT_CONTACTED, arm_counts
from churn.outcomes.stats import difference_of_means, difference_of_rates, rate
from churn.scoring.selection import SEGMENTS

TIERS = ("high", "medium", "low")
N_DECILES = 10
# The campaign's metrics, in the order the page shows them; revenue is money, the rest rates.
EFFECT_METRICS = ("churn_rate", "response_rate", "conversion_rate", "revenue_per_customer")
_OUTCOME_OF = {
    "churn_rate": "churned",
    "response_rate": "responded",
    "conversion_rate": "converted",
}


def _ordered(values: pd.Series, known: Sequence[str]) -> list[str]:
    """The values present, the ``known`` ones in their order, any others after, sorted."""
    # Through unique(): iterating a million Arrow-backed strings one by one takes seconds.
    present = set(values.astype(str).unique())
    return [k for k in known if k in present] + sorted(present - set(known))


def realised(frame: pd.DataFrame, with_metrics: bool = True) -> dict[str, Any]:
    """Customers, mean predicted and realised churn rate with its Wilson interval, and
    (``with_metrics``) ROC AUC, Brier score and expected calibration error of the rows of
    ``frame`` (``churn_probability``, ``churned``); a metric is ``None`` where it cannot
    be computed (no rows, or one class only for ROC AUC)."""
    n = len(frame)
    churned = int(frame["churned"].sum())
    interval = rate(churned, n)
    out: dict[str, Any] = {
        "customers": n,
        "predicted": float(frame["churn_probability"].mean()) if n else None,
        "realised": interval["value"],
        "low": interval["low"],
        "high": interval["high"],
    }
    if with_metrics:
        y = frame["churned"].to_numpy()
        p = frame["churn_probability"].to_numpy(dtype="float64")
        out["roc_auc"] = float(roc_auc_score(y, p)) if 0 < churned < n else None
        out["brier"] = float(brier_score_loss(y, p, labels=[0, 1])) if n else None
        out["calibration_error"] = expected_calibration_error(y, p) if n else None
    return out


def deciles(p_churn: pd.Series) -> pd.Series:
    """Each customer's decile of churn probability as text, ``"1"`` for the tenth with
    the highest probability (ties by position, so every decile is as full as it can be)."""
    rank = p_churn.rank(method="first", ascending=False).to_numpy() - 1
    size = max(len(p_churn), 1)
    decile = np.floor(rank * N_DECILES / size).astype(int) + 1
    return pd.Series(decile.astype(str), index=p_churn.index, name="decile")


def _by(frame: pd.DataFrame, column: pd.Series, known: Sequence[str]) -> list[dict[str, Any]]:
    return [
        {"group": g, **realised(frame[column == g], with_metrics=False)}
        for g in _ordered(column, known)
    ]


def performance(frame: pd.DataFrame) -> dict[str, Any]:
    """Realised against predicted churn of a matured list.

    ``frame`` has one row per customer scored: ``churn_probability``, ``churned``,
    ``risk_tier``, ``segment`` and ``arm`` (:func:`churn.outcomes.arms.assign_arms`).
    ``not_contacted`` and the rows per tier, segment and decile are computed on the
    customers nobody contacted (:data:`~churn.outcomes.arms.NOT_CONTACTED`), so that the
    campaign does not bias the check; ``all`` on every customer.
    """
    quiet = frame[frame["arm"].isin(NOT_CONTACTED)]
    return {
        "not_contacted": realised(quiet),
        "all": realised(frame),
        "by_tier": _by(quiet, quiet["risk_tier"].astype(str), TIERS),
        "by_segment": _by(quiet, quiet["segment"].astype(str), SEGMENTS),
        "by_decile": _by(
            quiet, deciles(quiet["churn_probability"]), [str(d) for d in range(1, 11)]
        ),
    }


def _metric(contact: pd.DataFrame, control: pd.DataFrame, metric: str) -> dict[str, Any]:
    if metric == "revenue_per_customer":
        a, b = contact["revenue"].to_numpy(), control["revenue"].to_numpy()
        diff = difference_of_means(a, b)
        values = (float(a.mean()) if len(a) else None, float(b.mean()) if len(b) else None)
    else:
        column = _OUTCOME_OF[metric]
        k_a, k_b = int(contact[column].sum()), int(control[column].sum())
        diff = difference_of_rates(k_a, len(contact), k_b, len(control))
        values = (
            k_a / len(contact) if len(contact) else None,
            k_b / len(control) if len(control) else None,
        )
    return {"metric": metric, "contact": values[0], "control": values[1], **diff}


def _scaled(diff: dict[str, Any], factor: float) -> dict[str, float | None]:
    return {
        "value": None if diff["difference"] is None else diff["difference"] * factor,
        "low": None if diff["low"] is None else diff["low"] * factor,
        "high": None if diff["high"] is None else diff["high"] * factor,
    }


def _churn_by(
    contact: pd.DataFrame, control: pd.DataFrame, column: str, known: Sequence[str]
) -> list[dict[str, Any]]:
    rows = []
    for g in _ordered(pd.concat([contact[column], control[column]]).dropna(), known):
        a, b = contact[contact[column] == g], control[control[column] == g]
        diff = _metric(a, b, "churn_rate")
        rows.append(
            {
                "group": g,
                "contact": len(a),
                "control": len(b),
                "churn_contact": diff["contact"],
                "churn_control": diff["control"],
                "difference": diff["difference"],
                "low": diff["low"],
                "high": diff["high"],
            }
        )
    return rows


def campaign_effect(frame: pd.DataFrame, cost_per_contact: float) -> dict[str, Any] | None:
    """The campaign's effect: contacted against control (``None`` without both arms).

    ``frame`` has one row per customer scored with ``arm``, ``churned``, ``responded``,
    ``converted``, ``revenue``, ``segment`` and ``action``. Each metric is the contacted
    arm's value, the control's, their difference (contacted minus control) and its 95%
    interval. Incremental customers kept = (control churn rate - contacted churn rate) x
    contacted customers; incremental revenue = the difference in revenue per customer x
    contacted customers; the cost is contacted customers x ``cost_per_contact``, and the
    return on spend the incremental revenue per unit of cost (``return_on_spend_low`` and
    ``_high``: the revenue's interval over the cost).
    """
    counts = arm_counts(frame["arm"])
    contact = frame[frame["arm"] == "contact"]
    control = frame[frame["arm"] == "control"]
    if contact.empty or control.empty:
        return None
    metrics = [_metric(contact, control, m) for m in EFFECT_METRICS]
    churn, revenue = metrics[0], metrics[3]
    n = len(contact)
    incremental_revenue = _scaled(revenue, n)
    cost = n * float(cost_per_contact)
    value = incremental_revenue["value"]
    return {
        "contact": counts["contact"],
        "control": counts["control"],
        "not_reached": counts["not_reached"],
        "control_contacted": counts["control_contacted"],
        "contacted_outside": counts["contacted_outside"],
        "metrics": metrics,
        # Fewer leavers is a negative churn difference: customers kept are its opposite.
        "incremental_customers": {
            "value": None if churn["difference"] is None else -churn["difference"] * n,
            "low": None if churn["high"] is None else -churn["high"] * n,
            "high": None if churn["low"] is None else -churn["low"] * n,
        },
        "incremental_revenue": incremental_revenue,
        "cost": cost,
        "return_on_spend": None if value is None or cost <= 0 else value / cost,
        # The revenue's interval over the cost: a return is no surer than the revenue.
        **{
            f"return_on_spend_{bound}": (
                None
                if incremental_revenue[bound] is None or cost <= 0
                else incremental_revenue[bound] / cost
            )
            for bound in ("low", "high")
        },
        "by_segment": _churn_by(contact, control, "segment", SEGMENTS),
        "by_action": _churn_by(contact, control, "action", ()),
    }
