"""Snapshot schedules: out-of-time on a long history, recent and denser on a short one;
several test origins; never a label window past the test cutoff."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest

from churn.errors import ConfigError
from churn.modeling.schedule import (
    OUT_OF_TIME,
    RECENT,
    SINGLE,
    holdout_customers,
    longest_horizon,
    origin_cutoffs,
    origin_schedules,
    snapshot_schedule,
)

FIRST, LAST = dt.date(2023, 1, 1), dt.date(2025, 12, 30)
DAY = dt.timedelta(days=1)


def assert_no_window_after_the_test_cutoff(schedule, horizon, first, min_history):
    h = dt.timedelta(days=horizon)
    assert all(c + h <= schedule.test for c in (*schedule.train, schedule.validation))
    assert schedule.validation + h == schedule.test
    assert min(schedule.train) >= first + dt.timedelta(days=min_history)
    assert list(schedule.train) == sorted(set(schedule.train))


def test_test_and_validation_cutoffs_step_back_one_horizon_each():
    schedule = snapshot_schedule(FIRST, LAST, horizon_days=90)
    assert schedule.test == dt.date(2025, 10, 1)
    assert schedule.validation == dt.date(2025, 7, 3)


def test_a_long_history_trains_out_of_time_before_the_validation_cutoff():
    schedule = snapshot_schedule(FIRST, LAST, 90, n_train_cutoffs=3, spacing_days=30)
    assert schedule.mode == OUT_OF_TIME
    assert schedule.train == (dt.date(2025, 2, 3), dt.date(2025, 3, 5), dt.date(2025, 4, 4))
    assert all(c + dt.timedelta(days=90) <= schedule.validation for c in schedule.train)


def test_a_year_of_history_trains_on_the_most_recent_windows_denser():
    # 373 days (the UCI Online Retail export): test day 283, validation day 193, training
    # cutoffs from day 30 on; 163 days of room / 6 cutoffs -> every 27 days.
    first = dt.date(2010, 12, 1)
    last = first + 373 * DAY
    schedule = snapshot_schedule(first, last, 90, n_train_cutoffs=6, spacing_days=30)
    assert schedule.mode == RECENT
    assert schedule.spacing_days == 27
    validation = first + 193 * DAY
    assert schedule.validation == validation
    assert schedule.train == tuple(validation - k * 27 * DAY for k in (6, 5, 4, 3, 2, 1))
    assert_no_window_after_the_test_cutoff(schedule, 90, first, 30)
    assert "shorter than" in schedule.notes[0]


def test_spacing_never_gets_denser_than_the_minimum():
    # 2 * 90 + 30 + 10 days: 10 days of room, 6 cutoffs wanted -> one cutoff 7 days back.
    last = FIRST + 220 * DAY
    schedule = snapshot_schedule(FIRST, last, 90, n_train_cutoffs=6, min_spacing_days=7)
    assert schedule.spacing_days == 7
    assert schedule.train == (schedule.validation - 7 * DAY,)
    assert any("only one training cutoff" in note for note in schedule.notes)


def test_two_horizons_plus_the_minimum_history_trains_on_one_cutoff_split_by_customer():
    last = FIRST + (2 * 90 + 30) * DAY
    schedule = snapshot_schedule(FIRST, last, 90)
    assert schedule.mode == SINGLE
    assert schedule.train == (schedule.validation,) == (FIRST + 30 * DAY,)
    assert schedule.validation_holdout == pytest.approx(0.2)


@pytest.mark.parametrize("days", [210, 211, 250, 300, 373, 449, 450, 500, 800, 1094])
@pytest.mark.parametrize("horizon", [30, 60, 90])
def test_no_training_or_validation_window_ends_after_the_test_cutoff(days, horizon):
    last = FIRST + days * DAY
    if days < 2 * horizon + 30:
        with pytest.raises(ConfigError):
            snapshot_schedule(FIRST, last, horizon)
        return
    schedule = snapshot_schedule(FIRST, last, horizon)
    assert_no_window_after_the_test_cutoff(schedule, horizon, FIRST, 30)
    assert schedule.test == last - horizon * DAY


def test_too_short_data_names_the_longest_horizon_that_fits():
    first, last = dt.date(2025, 6, 1), LAST  # 212 days
    with pytest.raises(ConfigError, match="too short") as error:
        snapshot_schedule(first, last, 120)
    suggested = int(re.search(r"label\.horizon_days=(\d+)", str(error.value)).group(1))
    assert suggested == longest_horizon(first, last, 30) == (212 - 30) // 2
    schedule = snapshot_schedule(first, last, suggested)
    assert_no_window_after_the_test_cutoff(schedule, suggested, first, 30)
    with pytest.raises(ConfigError):
        snapshot_schedule(first, last, suggested + 1)


def test_origins_step_back_a_month_oldest_first():
    assert origin_cutoffs(FIRST, LAST, 90, n_origins=3, origin_spacing_days=30) == (
        dt.date(2025, 8, 2),
        dt.date(2025, 9, 1),
        dt.date(2025, 10, 1),
    )


def test_only_origins_with_a_schedule_are_kept():
    # 240 days, 90-day horizon: origin o needs o - 90 >= first + 30, i.e. o >= day 120;
    # origins at days 150, 120, 90 -> the first two.
    last = FIRST + 240 * DAY
    assert origin_cutoffs(FIRST, last, 90, n_origins=3, origin_spacing_days=30) == (
        FIRST + 120 * DAY,
        FIRST + 150 * DAY,
    )


def test_each_origin_has_its_own_schedule_as_if_the_data_ended_a_horizon_after_it():
    schedules = origin_schedules(FIRST, LAST, 90, n_origins=3, origin_spacing_days=30)
    assert [s.test for s in schedules] == list(origin_cutoffs(FIRST, LAST, 90, 3, 30))
    for schedule in schedules:
        assert_no_window_after_the_test_cutoff(schedule, 90, FIRST, 30)
    assert schedules[-1] == snapshot_schedule(FIRST, LAST, 90)


def test_holdout_is_a_fixed_share_chosen_by_customer_id():
    ids = pd.Series([f"c{i}" for i in range(5000)])
    held = holdout_customers(ids, 0.2)
    assert held.mean() == pytest.approx(0.2, abs=0.02)
    assert np.array_equal(held[::-1], holdout_customers(ids[::-1].reset_index(drop=True), 0.2))
    assert not holdout_customers(ids, 0.0).any()
