"""Evaluation metrics: plain functions from labels and scores to numbers."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score


def ranking_metrics(y_true: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """ROC AUC and PR AUC (average precision) of any score where higher means riskier."""
    return {
        "roc_auc": float(roc_auc_score(y_true, score)),
        "pr_auc": float(average_precision_score(y_true, score)),
    }


def probability_metrics(y_true: np.ndarray, p_churn: np.ndarray) -> dict[str, float]:
    """Ranking metrics plus Brier score and log loss of churn probabilities."""
    p = np.clip(np.asarray(p_churn, dtype="float64"), 1e-15, 1 - 1e-15)
    return {
        **ranking_metrics(y_true, p),
        "brier": float(brier_score_loss(y_true, p)),
        "log_loss": float(log_loss(y_true, p, labels=[0, 1])),
    }
