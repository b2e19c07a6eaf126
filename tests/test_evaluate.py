"""Evaluation metrics on hand-computed examples."""

from __future__ import annotations

import numpy as np
import pytest

from churn.evaluate import (
    expected_calibration_error,
    lift_and_capture,
    probability_metrics,
    segment_metrics,
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
