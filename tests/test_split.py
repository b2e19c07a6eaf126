"""Snapshot schedule: test = last - h, validation = test - h, training before validation - h."""

from __future__ import annotations

import datetime as dt

import pytest

from churn.errors import ConfigError
from churn.split import snapshot_schedule

FIRST, LAST = dt.date(2023, 1, 1), dt.date(2025, 12, 30)


def test_test_and_validation_cutoffs_step_back_one_horizon_each():
    schedule = snapshot_schedule(FIRST, LAST, horizon_days=90)
    assert schedule.test == dt.date(2025, 10, 1)
    assert schedule.validation == dt.date(2025, 7, 3)


def test_training_label_windows_end_on_or_before_the_validation_cutoff():
    schedule = snapshot_schedule(FIRST, LAST, 90, n_train_cutoffs=3, spacing_days=30)
    assert schedule.train == (dt.date(2025, 2, 3), dt.date(2025, 3, 5), dt.date(2025, 4, 4))
    assert all(c + dt.timedelta(days=90) <= schedule.validation for c in schedule.train)


def test_cutoffs_without_enough_history_are_skipped():
    schedule = snapshot_schedule(
        dt.date(2024, 10, 1), LAST, 90, n_train_cutoffs=6, spacing_days=30, min_history_days=180
    )
    assert schedule.train == (dt.date(2025, 4, 4),)


def test_too_short_data_is_a_config_error():
    with pytest.raises(ConfigError, match="too short"):
        snapshot_schedule(dt.date(2025, 6, 1), LAST, 90)
