"""Evaluation plots: each function returns a Figure with one line per named score."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from churn.reporting import plots
from churn.reporting.plots import gains_figure, pr_figure, reliability_figure, roc_figure, save_png

Y = np.array([1, 1, 0, 1, 0, 0, 0, 0])
MODEL = np.array([0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1])
RECENCY = np.array([0.2, 0.9, 0.5, 0.1, 0.8, 0.3, 0.6, 0.4])
SCORES = {"model": MODEL, "recency": RECENCY}


def legend_texts(fig: Figure, axes: int = 0) -> list[str]:
    return [t.get_text() for t in fig.axes[axes].get_legend().get_texts()]


def test_roc_figure_has_one_curve_per_score_plus_the_chance_diagonal():
    fig = roc_figure(Y, SCORES)
    assert isinstance(fig, Figure)
    assert len(fig.axes[0].lines) == 3


def test_roc_legend_names_each_score_with_its_auc_to_three_decimals():
    # Model: churners at ranks 1, 2, 4 -> 14 of 15 (churner, non-churner) pairs ordered.
    texts = legend_texts(roc_figure(Y, {"model": MODEL}))
    assert texts[0] == "model (AUC 0.933)"
    assert texts[1].startswith("chance")


def test_pr_figure_draws_the_base_rate_as_a_horizontal_line():
    fig = pr_figure(Y, SCORES)
    ax = fig.axes[0]
    assert len(ax.lines) == 3
    base = ax.lines[-1]
    assert set(base.get_ydata()) == {3 / 8}
    assert legend_texts(fig)[-1] == "base rate (0.375)"


def test_pr_legend_shows_average_precision():
    # Model: precision 1, 1, 3/4 at the three churners -> AP = (1 + 1 + 0.75) / 3.
    assert legend_texts(pr_figure(Y, {"model": MODEL}))[0] == "model (AP 0.917)"


def test_gains_curve_captures_churners_riskiest_first():
    ax = gains_figure(Y, {"model": MODEL}).axes[0]
    curve = next(line for line in ax.lines if line.get_label() == "model")
    x, y = curve.get_xdata(), curve.get_ydata()
    assert x[0] == 0 and y[0] == 0
    # Contacting the riskiest 2 of 8 customers finds 2 of the 3 churners.
    assert x[2] == pytest.approx(0.25)
    assert y[2] == pytest.approx(2 / 3)
    assert y[-1] == pytest.approx(1.0)


def test_gains_figure_has_random_and_perfect_lines_and_marks_10_and_20_percent():
    ax = gains_figure(Y, SCORES).axes[0]
    labels = [line.get_label() for line in ax.lines]
    assert {"model", "recency", "random", "perfect model"} <= set(labels)
    perfect = ax.lines[labels.index("perfect model")]
    assert list(perfect.get_xdata()) == pytest.approx([0, 3 / 8, 1])
    vertical = [line for line in ax.lines if len(set(line.get_xdata())) == 1]
    assert sorted(line.get_xdata()[0] for line in vertical) == [0.1, 0.2]


def test_reliability_figure_has_curve_axes_and_histogram_axes():
    fig = reliability_figure(Y, {"before calibration": MODEL, "after calibration": RECENCY})
    curve_ax, hist_ax = fig.axes
    assert legend_texts(fig) == ["before calibration", "after calibration", "perfectly calibrated"]
    assert len(hist_ax.patches) == 2


def test_reliability_points_are_per_bin_means_and_empty_bins_are_skipped():
    y = np.array([0, 1, 0, 0, 1, 1, 1, 0])
    p = np.array([0.05, 0.05, 0.15, 0.15, 0.95, 0.95, 1.0, 0.92])
    curve = reliability_figure(y, {"model": p}).axes[0].lines[0]
    # Bins 0.0-0.1, 0.1-0.2 and 0.9-1.0 are filled (1.0 belongs to the last bin).
    assert curve.get_xdata() == pytest.approx([0.05, 0.15, 0.955])
    assert curve.get_ydata() == pytest.approx([0.5, 0.0, 0.75])


def test_mismatched_lengths_are_rejected():
    with pytest.raises(ValueError, match="shape"):
        roc_figure(Y, {"model": MODEL[:-1]})


def test_save_png_writes_a_png_file_and_returns_its_path(tmp_path: Path):
    path = save_png(roc_figure(Y, SCORES), tmp_path / "roc.png")
    assert path == tmp_path / "roc.png"
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_plots_module_never_imports_pyplot():
    # pyplot keeps global figure state and picks a GUI backend; the module must not touch it.
    tree = ast.parse(Path(plots.__file__).read_text(encoding="utf-8"))
    imports = [
        ast.unparse(node)
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    assert imports and not any("pyplot" in line for line in imports)
