"""Evaluation metrics on hand-computed examples."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from churn.modeling.evaluation import (
    bootstrap_weights,
    expected_calibration_error,
    interval,
    lift_and_capture,
    paired_bootstrap,
    probability_metrics,
    segment_metrics,
    weighted_roc_auc,
)


def test_ece_is_the_row_weighted_gap_per_bin():
    # Bin [0.1, 0.2): p 0.1, 0.1 vs observed 0/2 -> gap 0.1 on 2 rows.
    # Bin [0.8, 0.9): p 0.8, 0.8 vs observed 2/2 -> gap 0.2 on 2 rows.
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.1, 0.8, 0.8])
    assert expected_calibration_error(y, p) == pytest.approx((2 * 0.1 + 2 * 0.2) / 4)


def test_ece_puts_a_probability_of_one_in_the_last_bin():
    assert expected_calibration_error(np.array([1]), np.array([1.0])) == pytest.approx(0.0)


def test_perfectly_calibrated_bins_have_zero_ece():
    y = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    p = np.array([0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75])
    assert expected_calibration_error(y, p) == pytest.approx(0.0)


def test_lift_and_capture_of_the_riskiest_tenth():
    # 10 customers, 2 churners; the top 10% (1 customer) is a churner.
    y = np.array([1, 0, 0, 0, 1, 0, 0, 0, 0, 0])
    score = np.arange(10, 0, -1)
    lift, capture = lift_and_capture(y, score, 0.1)
    assert lift == pytest.approx(1.0 / 0.2)
    assert capture == pytest.approx(0.5)


def test_lift_rounds_the_top_group_up():
    # 20% of 6 rows = 1.2 -> the top 2 rows.
    y = np.array([1, 1, 0, 0, 0, 1])
    lift, capture = lift_and_capture(y, np.array([6, 5, 4, 3, 2, 1]), 0.2)
    assert capture == pytest.approx(2 / 3)
    assert lift == pytest.approx(1.0 / 0.5)


def test_probability_metrics_name_every_reported_figure():
    y = np.array([0, 1, 0, 1, 1, 0, 0, 1, 0, 1])
    p = np.linspace(0.05, 0.95, 10)
    assert set(probability_metrics(y, p)) == {
        "roc_auc",
        "pr_auc",
        "brier",
        "log_loss",
        "ece",
        "lift_at_10pct",
        "capture_at_10pct",
        "lift_at_20pct",
        "capture_at_20pct",
    }


def test_segment_metrics_leave_auc_empty_for_a_one_class_segment():
    rows = segment_metrics(
        np.array([1, 0, 1, 1]), np.array([0.9, 0.2, 0.6, 0.7]), ["a", "a", "b", "b"]
    )
    assert rows == [
        {"segment": "a", "customers": 2, "churn_rate": 0.5, "roc_auc": 1.0},
        {"segment": "b", "customers": 2, "churn_rate": 1.0, "roc_auc": None},
    ]


def test_weighted_roc_auc_with_ones_is_roc_auc_and_counts_ties_half():
    y = np.array([0, 1, 0, 1, 1, 0])
    score = np.array([1.0, 2.0, 2.0, 3.0, 0.5, 0.5])
    # Pairs (pos, neg): 2>1, 2=2 (half), 2>0.5, 3>all three, 0.5<1, 0.5<2, 0.5=0.5 (half):
    # (1 + 0.5 + 1) + 3 + (0 + 0 + 0.5) = 6 of 9.
    assert weighted_roc_auc(y, score, np.ones((1, 6)))[0] == pytest.approx(6 / 9)
    assert roc_auc_score(y, score) == pytest.approx(6 / 9)


def test_weighted_roc_auc_counts_a_row_drawn_twice_twice():
    y = np.array([0, 1, 0, 1])
    score = np.array([0.1, 0.4, 0.35, 0.8])
    counts = np.array([[2, 1, 1, 0]])
    # The positive 0.4 beats both copies of 0.1 and the 0.35: 3 of 3 pairs.
    assert weighted_roc_auc(y, score, counts)[0] == pytest.approx(1.0)
    # Both positives beat the negative 0.35, drawn twice: 4 of 4 pairs.
    counts = np.array([[0, 1, 2, 1]])
    assert weighted_roc_auc(y, score, counts)[0] == pytest.approx(1.0)
    assert weighted_roc_auc(y, score[::-1], counts)[0] == pytest.approx(0.0)


def test_bootstrap_weights_are_resamples_of_every_row_count():
    chunks = list(bootstrap_weights(7, 450, seed=1))
    weights = np.concatenate(chunks)
    assert weights.shape == (450, 7)
    assert (weights.sum(axis=1) == 7).all()
    again = np.concatenate(list(bootstrap_weights(7, 450, seed=1)))
    assert np.array_equal(weights, again)


def test_identical_predictions_give_a_zero_width_interval_at_zero():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = rng.random(200)
    draws = paired_bootstrap(y, p, {"same": p.copy()}, ["same"], n_resamples=200, seed=3)
    for metric in ("roc_auc", "brier"):
        assert interval(0.0, draws["same"][metric]) == {"estimate": 0.0, "low": 0.0, "high": 0.0}


def test_a_known_difference_is_inside_its_interval_and_a_ranking_has_no_brier():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    good = np.clip(0.5 + 0.3 * (y - 0.5) + 0.2 * rng.standard_normal(2000), 0.01, 0.99)
    coin = np.full(2000, 0.5)
    draws = paired_bootstrap(
        y, good, {"coin": coin, "rank": -good}, ["coin"], n_resamples=300, seed=0
    )
    assert set(draws["rank"]) == {"roc_auc"}
    # Against a constant 0.5: ROC AUC difference = AUC(good) - 0.5; Brier difference =
    # Brier(good) - 0.25.
    auc_gap = roc_auc_score(y, good) - 0.5
    brier_gap = np.mean((good - y) ** 2) - 0.25
    shown = interval(auc_gap, draws["coin"]["roc_auc"])
    assert shown["low"] < auc_gap < shown["high"]
    assert shown["high"] - shown["low"] < 0.05
    brier = interval(brier_gap, draws["coin"]["brier"])
    assert brier["low"] < brier_gap < brier["high"] < 0
    # Reversing the ranking: exactly 2 * AUC - 1 in every resample.
    assert np.allclose(draws["rank"]["roc_auc"], 2 * draws["coin"]["roc_auc"], atol=1e-6)


def test_paired_bootstrap_is_exactly_the_weighted_metrics_of_its_resamples():
    # Tied scores (a rounded probability, whole days) and more than one chunk of resamples:
    # the draws are the ROC AUC and Brier differences under bootstrap_weights, to the bit.
    rng = np.random.default_rng(4)
    n = 3000
    y = rng.integers(0, 2, n)
    p = np.round(np.clip(0.5 + 0.2 * (y - 0.5) + 0.2 * rng.standard_normal(n), 0.01, 0.99), 2)
    days = rng.integers(0, 40, n).astype("float64")
    coin = rng.random(n)
    draws = paired_bootstrap(y, p, {"coin": coin, "days": days}, ["coin"], n_resamples=450, seed=7)
    weights = np.concatenate(list(bootstrap_weights(n, 450, seed=7)))
    model_auc = weighted_roc_auc(y, p, weights)
    for name, score in (("coin", coin), ("days", days)):
        expected = model_auc - weighted_roc_auc(y, score, weights)
        assert np.array_equal(draws[name]["roc_auc"], expected)
    gaps = (p - y) ** 2 - (coin - y) ** 2
    brier = [w.astype("float64") @ gaps / n for w in bootstrap_weights(n, 450, seed=7)]
    assert np.array_equal(draws["coin"]["brier"], np.concatenate(brier))
