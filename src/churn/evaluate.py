"""Evaluation metrics: plain functions from labels and scores to numbers.

Every function takes ``y_true`` (1 = churned) and a score where higher means riskier;
those named ``probability`` need probabilities in ``[0, 1]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

TOP_FRACTIONS = (0.1, 0.2)


def ranking_metrics(y_true: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """ROC AUC, PR AUC (average precision), and lift and capture rate at the top 10% and
    20% of any score where higher means riskier."""
    out = {
        "roc_auc": float(roc_auc_score(y_true, score)),
        "pr_auc": float(average_precision_score(y_true, score)),
    }
    for fraction in TOP_FRACTIONS:
        lift, capture = lift_and_capture(y_true, score, fraction)
        pct = f"{round(fraction * 100)}pct"
        out[f"lift_at_{pct}"] = lift
        out[f"capture_at_{pct}"] = capture
    return out


def probability_metrics(y_true: np.ndarray, p_churn: np.ndarray) -> dict[str, float]:
    """Ranking metrics plus Brier score, log loss and expected calibration error."""
    p = np.clip(np.asarray(p_churn, dtype="float64"), 1e-15, 1 - 1e-15)
    return {
        **ranking_metrics(y_true, p),
        "brier": float(brier_score_loss(y_true, p)),
        "log_loss": float(log_loss(y_true, p, labels=[0, 1])),
        "ece": expected_calibration_error(y_true, p),
    }


def calibration_bins(
    y_true: np.ndarray, p_churn: np.ndarray, n_bins: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per non-empty equal-width probability bin, in increasing order: the number of rows,
    the mean predicted probability and the observed churn rate (a probability of exactly 1
    falls in the last bin)."""
    y = np.asarray(y_true, dtype="float64")
    p = np.asarray(p_churn, dtype="float64")
    bins = np.clip((p * n_bins).astype(int), 0, n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    filled = counts > 0
    mean_p = np.bincount(bins, weights=p, minlength=n_bins)[filled] / counts[filled]
    rate = np.bincount(bins, weights=y, minlength=n_bins)[filled] / counts[filled]
    return counts[filled], mean_p, rate


def expected_calibration_error(y_true: np.ndarray, p_churn: np.ndarray, n_bins: int = 10) -> float:
    """Expected calibration error: the row-weighted mean gap between the mean predicted
    probability and the observed churn rate in the bins of :func:`calibration_bins`."""
    counts, mean_p, rate = calibration_bins(y_true, p_churn, n_bins)
    return float(np.sum(counts * np.abs(mean_p - rate)) / counts.sum())


def lift_and_capture(y_true: np.ndarray, score: np.ndarray, fraction: float) -> tuple[float, float]:
    """Lift and capture rate when contacting the riskiest ``fraction`` of customers.

    The top ``ceil(fraction * n)`` rows by score are taken (ties broken by row order, a
    stable sort). Lift = churn rate among them / overall churn rate; capture = share of
    all churners among them.
    """
    y = np.asarray(y_true, dtype="float64")
    order = np.argsort(-np.asarray(score, dtype="float64"), kind="stable")
    k = int(np.ceil(fraction * len(y)))
    caught = y[order[:k]].sum()
    total = y.sum()
    if k == 0 or total == 0:
        return float("nan"), float("nan")
    return float((caught / k) / (total / len(y))), float(caught / total)


def segment_metrics(
    y_true: np.ndarray, p_churn: np.ndarray, segments: Sequence[str]
) -> list[dict[str, object]]:
    """Per segment: customers, observed churn rate, and ROC AUC (``None`` when the
    segment has only one class), in segment name order."""
    frame = pd.DataFrame({"y": np.asarray(y_true), "p": np.asarray(p_churn), "s": segments})
    rows: list[dict[str, object]] = []
    for name, group in frame.groupby("s", sort=True):
        auc = roc_auc_score(group["y"], group["p"]) if group["y"].nunique() == 2 else None
        rows.append(
            {
                "segment": str(name),
                "customers": len(group),
                "churn_rate": float(group["y"].mean()),
                "roc_auc": None if auc is None else float(auc),
            }
        )
    return rows
