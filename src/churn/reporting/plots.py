"""Evaluation plots built with matplotlib's object API: each function returns a ``Figure``.

No ``matplotlib.pyplot``: figures are not registered with a global figure manager, so nothing
needs closing, no GUI backend is chosen, and importing this module has no side effects.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from churn.modeling.evaluation import calibration_bins

FIGSIZE = (6.4, 4.8)
REFERENCE_STYLE = {"color": "0.5", "linestyle": "--", "linewidth": 1.0}
MARKER_STYLE = {"color": "0.8", "linestyle": "-", "linewidth": 1.0}


def roc_figure(y_true: np.ndarray, scores: Mapping[str, np.ndarray]) -> Figure:
    """ROC curves, one per named score, with the chance diagonal.

    Parameters
    ----------
    y_true : ndarray of shape (n_customers,)
        1 if the customer churned, else 0. Both classes must be present.
    scores : mapping of str to ndarray of shape (n_customers,)
        Named scores where higher means riskier (probabilities or any ranking score).

    Returns
    -------
    Figure
        One line per score, labelled with its name and ROC AUC to 3 decimals, plus the
        chance diagonal.
    """
    y = _labels(y_true, scores)
    fig, ax = _new_figure("ROC curve", "False positive rate", "True positive rate")
    for name, score in scores.items():
        fpr, tpr, _ = roc_curve(y, score)
        auc = roc_auc_score(y, score)
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], label="chance (AUC 0.500)", **REFERENCE_STYLE)
    _finish(ax, legend_loc="lower right")
    return fig


def pr_figure(y_true: np.ndarray, scores: Mapping[str, np.ndarray]) -> Figure:
    """Precision-recall curves, one per named score, with the base churn rate.

    Parameters
    ----------
    y_true : ndarray of shape (n_customers,)
        1 if the customer churned, else 0. Both classes must be present.
    scores : mapping of str to ndarray of shape (n_customers,)
        Named scores where higher means riskier.

    Returns
    -------
    Figure
        One line per score, labelled with its name and average precision to 3 decimals, plus
        a horizontal line at the share of churners (the precision of a random list).
    """
    y = _labels(y_true, scores)
    fig, ax = _new_figure("Precision-recall curve", "Recall", "Precision")
    for name, score in scores.items():
        precision, recall, _ = precision_recall_curve(y, score)
        ap = average_precision_score(y, score)
        ax.plot(recall, precision, label=f"{name} (AP {ap:.3f})", drawstyle="steps-post")
    base_rate = float(y.mean())
    ax.axhline(base_rate, label=f"base rate ({base_rate:.3f})", **REFERENCE_STYLE)
    _finish(ax, legend_loc="upper right")
    return fig


def gains_figure(y_true: np.ndarray, scores: Mapping[str, np.ndarray]) -> Figure:
    """Cumulative gains: share of all churners captured when contacting the riskiest first.

    Parameters
    ----------
    y_true : ndarray of shape (n_customers,)
        1 if the customer churned, else 0. At least one churner must be present.
    scores : mapping of str to ndarray of shape (n_customers,)
        Named scores where higher means riskier.

    Returns
    -------
    Figure
        One line per score (x: share of customers contacted, y: share of churners captured),
        plus the random diagonal and the perfect-model line; light vertical lines mark 10%
        and 20% contacted.
    """
    y = _labels(y_true, scores)
    fig, ax = _new_figure(
        "Cumulative gains", "Share of customers contacted", "Share of all churners captured"
    )
    for share in (0.1, 0.2):
        ax.axvline(share, **MARKER_STYLE)
    for name, score in scores.items():
        contacted, captured = _gains_curve(y, score)
        ax.plot(contacted, captured, label=name)
    ax.plot([0, 1], [0, 1], label="random", **REFERENCE_STYLE)
    base_rate = float(y.mean())
    ax.plot([0, base_rate, 1], [0, 1, 1], label="perfect model", color="0.3", linestyle=":")
    _finish(ax, legend_loc="lower right")
    return fig


def _gains_curve(y_true: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points of the cumulative gains curve, starting at (0, 0).

    Parameters
    ----------
    y_true : ndarray of shape (n_customers,)
        1 if the customer churned, else 0; at least one churner.
    score : ndarray of shape (n_customers,)
        Higher means riskier. Ties keep input order (stable sort).

    Returns
    -------
    contacted : ndarray of shape (n_customers + 1,)
        Share of customers contacted, 0 to 1.
    captured : ndarray of shape (n_customers + 1,)
        Share of all churners among those contacted, 0 to 1.
    """
    y = np.asarray(y_true, dtype="float64")
    order = np.argsort(-np.asarray(score, dtype="float64"), kind="stable")
    captured = np.concatenate([[0.0], np.cumsum(y[order]) / y.sum()])
    contacted = np.arange(len(y) + 1) / len(y)
    return contacted, captured


def reliability_figure(
    y_true: np.ndarray, probabilities: Mapping[str, np.ndarray], n_bins: int = 10
) -> Figure:
    """Reliability diagram with a histogram of the predicted probabilities underneath.

    Parameters
    ----------
    y_true : ndarray of shape (n_customers,)
        1 if the customer churned, else 0.
    probabilities : mapping of str to ndarray of shape (n_customers,)
        Named churn probabilities in [0, 1], e.g. ``"before calibration"`` and
        ``"after calibration"``.
    n_bins : int, default 10
        Number of equal-width probability bins on [0, 1]. Empty bins are skipped.

    Returns
    -------
    Figure
        Top axes: mean predicted probability against observed churn rate per bin, one line
        per name, plus the perfect-calibration diagonal. Bottom axes: step histogram of the
        predicted probabilities, one per name, on the same bins.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    y = _labels(y_true, probabilities, need_both_classes=False)
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    curve_ax, hist_ax = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    for name, p in probabilities.items():
        _, mean_predicted, observed = calibration_bins(y, p, n_bins)
        (line,) = curve_ax.plot(mean_predicted, observed, marker="o", label=name)
        hist_ax.hist(
            np.asarray(p, dtype="float64"), bins=edges, histtype="step", color=line.get_color()
        )
    curve_ax.plot([0, 1], [0, 1], label="perfectly calibrated", **REFERENCE_STYLE)
    curve_ax.set_title("Reliability diagram")
    curve_ax.set_ylabel("Observed churn rate")
    curve_ax.set_ylim(-0.02, 1.02)
    _finish(curve_ax, legend_loc="upper left")
    hist_ax.set_xlabel("Predicted churn probability")
    hist_ax.set_ylabel("Customers")
    hist_ax.set_xlim(0, 1)
    hist_ax.grid(alpha=0.3)
    return fig


def save_png(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG at 100 dpi and return ``path``.

    The parent folder must exist.
    """
    fig.savefig(path, format="png", dpi=100)
    return path


def _labels(
    y_true: np.ndarray, scores: Mapping[str, np.ndarray], need_both_classes: bool = True
) -> np.ndarray:
    """``y_true`` as a 0/1 int array, after checking it against every named score."""
    y = np.asarray(y_true)
    if y.ndim != 1 or not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must be a 1-D array of 0/1 labels")
    if not scores:
        raise ValueError("at least one named score is needed")
    for name, score in scores.items():
        if np.shape(score) != y.shape:
            raise ValueError(f"score {name!r} has shape {np.shape(score)}, labels {y.shape}")
    if need_both_classes and len(np.unique(y)) < 2:
        raise ValueError("y_true must contain both churners and non-churners")
    return y.astype(int)


def _new_figure(title: str, xlabel: str, ylabel: str) -> tuple[Figure, Axes]:
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.02)
    return fig, ax


def _finish(ax: Axes, legend_loc: str) -> None:
    ax.grid(alpha=0.3)
    ax.legend(loc=legend_loc, fontsize="small")


def shap_ranking(contributions: pd.DataFrame) -> pd.Series:
    """Mean absolute SHAP value per feature, largest first (the ``bias`` column dropped)."""
    contrib = contributions.drop(columns=["bias"], errors="ignore")
    return contrib.abs().mean().sort_values(ascending=False, kind="stable")


def shap_bar_figure(contributions: pd.DataFrame, top: int = 20) -> Figure:
    """Mean |SHAP| of the ``top`` features: how much each moves the log-odds on average."""
    ranking = shap_ranking(contributions).head(top)[::-1]
    fig = Figure(figsize=(7.0, 0.28 * len(ranking) + 1.2), layout="constrained")
    ax = fig.add_subplot()
    ax.barh(ranking.index, ranking.to_numpy(), color="#1f77b4")
    ax.set_title("Mean |SHAP value| per feature")
    ax.set_xlabel("Mean absolute contribution to the churn log-odds")
    ax.tick_params(axis="y", labelsize="small")
    ax.grid(axis="x", alpha=0.3)
    return fig


def shap_beeswarm_figure(
    contributions: pd.DataFrame, features: pd.DataFrame, top: int = 15, seed: int = 0
) -> Figure:
    """SHAP summary: one row of points per feature (the ``top`` by mean |SHAP|), each point
    a customer at its contribution, coloured by the customer's feature value (rank within
    the feature: blue low, red high; grey missing)."""
    ranking = shap_ranking(contributions).head(top)
    names = list(ranking.index)[::-1]
    rng = np.random.default_rng(seed)
    fig = Figure(figsize=(7.5, 0.35 * len(names) + 1.4), layout="constrained")
    ax = fig.add_subplot()
    scatter = None
    for row, name in enumerate(names):
        shap_values = contributions[name].to_numpy(dtype="float64")
        value = features[name].to_numpy(dtype="float64")
        colour = pd.Series(value).rank(pct=True).to_numpy()
        jitter = rng.uniform(-0.3, 0.3, len(shap_values))
        missing = np.isnan(colour)
        ax.scatter(shap_values[missing], row + jitter[missing], s=4, color="0.7", alpha=0.6)
        scatter = ax.scatter(
            shap_values[~missing],
            row + jitter[~missing],
            s=4,
            c=colour[~missing],
            cmap="coolwarm",
            vmin=0,
            vmax=1,
            alpha=0.6,
        )
    ax.set_yticks(range(len(names)), names, fontsize="small")
    ax.axvline(0, **REFERENCE_STYLE)
    ax.set_title("SHAP summary: contribution of each feature, one dot per customer")
    ax.set_xlabel("Contribution to the churn log-odds (right = towards churn)")
    ax.grid(axis="x", alpha=0.3)
    if scatter is not None:
        bar = fig.colorbar(scatter, ax=ax, ticks=[0, 1], aspect=40)
        bar.ax.set_yticklabels(["low", "high"])
        bar.set_label("feature value")
    return fig


def shap_dependence_figure(
    contributions: pd.DataFrame, features: pd.DataFrame, name: str
) -> Figure:
    """SHAP dependence of one feature: its value against its contribution, per customer."""
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.add_subplot()
    ax.scatter(features[name], contributions[name], s=5, alpha=0.4)
    ax.axhline(0, **REFERENCE_STYLE)
    ax.set_title(f"SHAP dependence: {name}")
    ax.set_xlabel(name)
    ax.set_ylabel("Contribution to the churn log-odds")
    ax.grid(alpha=0.3)
    return fig


def differences_figure(rows: list[dict]) -> Figure:
    """Model minus baseline, with 95% intervals: one panel for ROC AUC, one for Brier.

    Parameters
    ----------
    rows : list of dict
        One per (baseline, origin): ``label`` (str, the row's name on the y axis),
        ``mean`` (bool, drawn in black: the mean over origins), and ``roc_auc`` and
        ``brier``, each ``None`` or a dict with ``estimate``, ``low`` and ``high``.

    Returns
    -------
    Figure
        Points at the estimates, horizontal bars over the intervals and a dashed line at
        0; right of 0 favours the model in ROC AUC, left of 0 in Brier.
    """
    fig = Figure(figsize=(9.0, 0.32 * len(rows) + 1.6), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    positions = np.arange(len(rows))[::-1]
    for ax, metric, title in (
        (axes[0], "roc_auc", "ROC AUC: model - baseline (> 0: model better)"),
        (axes[1], "brier", "Brier: model - baseline (< 0: model better)"),
    ):
        for y, row in zip(positions, rows, strict=True):
            value = row.get(metric)
            if not value:
                continue
            low, high = value.get("low"), value.get("high")
            colour = "black" if row.get("mean") else "#1f77b4"
            if low is not None and high is not None:
                ax.plot([low, high], [y, y], color=colour, linewidth=2 if row.get("mean") else 1)
            ax.plot([value["estimate"]], [y], "o", color=colour)
        ax.axvline(0, **REFERENCE_STYLE)
        ax.set_title(title, fontsize="medium")
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(positions, [row["label"] for row in rows], fontsize="small")
    return fig
