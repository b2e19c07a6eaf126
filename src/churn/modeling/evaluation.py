"""Evaluation metrics: plain functions from labels and scores to numbers.

Every function takes ``y_true`` (1 = churned) and a score where higher means riskier;
those named ``probability`` need probabilities in ``[0, 1]``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

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


# --- paired bootstrap over customers -----------------------------------------------------

# Resamples drawn at once: a (chunk, customers) weight matrix stays a few tens of MB.
_CHUNK = 200


def _bootstrap_draws(n_rows: int, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    """The rows drawn by each resample, in chunks of shape ``(chunk, n_rows)``; the draws
    behind :func:`bootstrap_weights`."""
    rng = np.random.default_rng(seed)
    done = 0
    while done < n_resamples:
        size = min(_CHUNK, n_resamples - done)
        yield rng.integers(0, n_rows, size=(size, n_rows))
        done += size


def bootstrap_weights(n_rows: int, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Bootstrap resamples of ``n_rows`` rows as count weights, in chunks.

    Yields arrays of shape ``(chunk, n_rows)``: how many times each row is drawn in each
    resample (each row of the array sums to ``n_rows``); ``n_resamples`` rows in all, the
    same for the same ``seed``.
    """
    for draws in _bootstrap_draws(n_rows, n_resamples, seed):
        size = len(draws)
        offsets = (np.arange(size) * n_rows)[:, None]
        counts = np.bincount((draws + offsets).ravel(), minlength=size * n_rows)
        # Counts are small whole numbers: float32 holds them exactly at half the memory.
        yield counts.reshape(size, n_rows).astype("float32")


def weighted_roc_auc(y_true: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC of ``score`` under each row of ``weights``, from ranks (ties count half).

    Parameters
    ----------
    y_true : ndarray of shape (n,)
        1 = churned.
    score : ndarray of shape (n,)
        Higher means riskier.
    weights : ndarray of shape (b, n)
        Row weights (bootstrap counts); a row of ones gives the ordinary ROC AUC.

    Returns
    -------
    ndarray of shape (b,)
        The probability that a (weighted) churner scores above a non-churner; NaN where a
        resample holds only one class.
    """
    return _RankedScore(y_true, score).roc_auc(np.ascontiguousarray(np.atleast_2d(weights).T))


class _RankedScore:
    """A score sorted once, to measure its ROC AUC under many weightings."""

    def __init__(self, y_true: np.ndarray, score: np.ndarray) -> None:
        values = np.asarray(score, dtype="float64")
        self.order = np.argsort(values, kind="stable")
        ranked = values[self.order]
        self.churned = np.asarray(y_true, dtype="float64")[self.order] == 1
        # One group per distinct score: tied non-churners count half.
        self.starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
        # Per row (in the caller's order), its score group, shifted by the number of
        # groups for a churner: counting the codes of a resample's draws gives every
        # group's non-churner then churner counts at once.
        self.n_groups = len(self.starts)
        group = np.empty(len(values), dtype="int64")
        group[self.order] = np.cumsum(np.r_[True, ranked[1:] != ranked[:-1]]) - 1
        self.codes = group + self.n_groups * (np.asarray(y_true, dtype="float64") == 1)

    def roc_auc(self, weights_by_row: np.ndarray) -> np.ndarray:
        """ROC AUC under each column of ``weights_by_row``, shape ``(n, b)`` (rows first:
        gathering and summing whole rows is what numpy does fastest)."""
        w = weights_by_row[self.order]
        positives = w * self.churned[:, None]
        negatives = w - positives
        if len(self.starts) < len(w):
            positives = np.add.reduceat(positives, self.starts, axis=0)
            negatives = np.add.reduceat(negatives, self.starts, axis=0)
        below = np.cumsum(negatives, axis=0) - negatives
        pairs = positives.sum(axis=0, dtype="float64") * negatives.sum(axis=0, dtype="float64")
        wins = (positives * (below + 0.5 * negatives)).sum(axis=0, dtype="float64")
        with np.errstate(invalid="ignore", divide="ignore"):
            return wins / pairs

    def roc_auc_of_draws(self, draws: np.ndarray) -> np.ndarray:
        """ROC AUC in each resample of ``draws``, shape ``(b, n)``: the rows each resample
        drew; the same numbers as :meth:`roc_auc` of their count weights.

        Counting the draws' group codes gives the per-group counts directly, without the
        ``(n, b)`` weights, their sorted copy and the sums over tied rows. The counts are
        whole numbers below 2**24, exact in float32 as there; the products are rounded to
        float32 as there, and their float64 sums (multiples of 0.5 below 2**52) are exact
        in any order: the result is the same to the last bit.
        """
        n_groups = self.n_groups
        wins = np.empty(len(draws), dtype="float64")
        pairs = np.empty(len(draws), dtype="float64")
        for b, drawn in enumerate(draws):
            counts = np.bincount(self.codes[drawn], minlength=2 * n_groups).astype("float32")
            negatives, positives = counts[:n_groups], counts[n_groups:]
            below = np.cumsum(negatives) - negatives
            pairs[b] = positives.sum(dtype="float64") * negatives.sum(dtype="float64")
            wins[b] = (positives * (below + 0.5 * negatives)).sum(dtype="float64")
        with np.errstate(invalid="ignore", divide="ignore"):
            return wins / pairs


def paired_bootstrap(
    y_true: np.ndarray,
    model: np.ndarray,
    baselines: Mapping[str, np.ndarray],
    probabilities: Sequence[str],
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, dict[str, np.ndarray]]:
    """Bootstrap draws of the model-minus-baseline difference in ROC AUC and Brier score.

    The same resamples of customers score the model and every baseline (a paired
    bootstrap), so what the two share cancels out of the difference.

    Parameters
    ----------
    y_true : ndarray of shape (n,)
        1 = churned.
    model : ndarray of shape (n,)
        The model's churn probabilities.
    baselines : mapping of str to ndarray of shape (n,)
        Each baseline's score (higher = riskier).
    probabilities : sequence of str
        The baselines whose scores are probabilities: only they get a Brier difference.
    n_resamples : int
        Number of resamples.
    seed : int
        Seed of the resampling.

    Returns
    -------
    dict
        ``{baseline: {"roc_auc": draws, "brier": draws}}``, each an ndarray of shape
        ``(n_resamples,)``; ``brier`` only for ``probabilities``. Brier differences below 0
        and ROC AUC differences above 0 favour the model.
    """
    y = np.asarray(y_true, dtype="float64")
    p = np.asarray(model, dtype="float64")
    n = len(y)
    draws: dict[str, dict[str, list[np.ndarray]]] = {
        name: {"roc_auc": [], **({"brier": []} if name in probabilities else {})}
        for name in baselines
    }
    ranked_model = _RankedScore(y, p)
    ranked = {name: _RankedScore(y, score) for name, score in baselines.items()}
    # Per customer, the model's squared error minus the baseline's: Brier differences are
    # their weighted means.
    loss_gaps = {
        name: (p - y) ** 2 - (np.asarray(baselines[name], dtype="float64") - y) ** 2
        for name in baselines
        if name in probabilities
    }
    for drawn in _bootstrap_draws(n, n_resamples, seed):
        model_auc = ranked_model.roc_auc_of_draws(drawn)
        for name in baselines:
            draws[name]["roc_auc"].append(model_auc - ranked[name].roc_auc_of_draws(drawn))
        if loss_gaps:
            # The count weights of the resamples, as bootstrap_weights gives them.
            w = np.empty(drawn.shape, dtype="float64")
            for b, rows in enumerate(drawn):
                w[b] = np.bincount(rows, minlength=n)
            for name, gaps in loss_gaps.items():
                draws[name]["brier"].append(w @ gaps / n)
    return {
        name: {metric: np.concatenate(parts) for metric, parts in metrics.items()}
        for name, metrics in draws.items()
    }


def interval(estimate: float, draws: np.ndarray, level: float = 0.95) -> dict[str, float | None]:
    """``estimate`` with the percentile interval of its bootstrap ``draws`` (NaN draws,
    resamples with one class, left out)."""
    finite = np.asarray(draws, dtype="float64")
    finite = finite[np.isfinite(finite)]
    if not len(finite):
        return {"estimate": float(estimate), "low": None, "high": None}
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return {"estimate": float(estimate), "low": float(low), "high": float(high)}
