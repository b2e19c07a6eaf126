"""Labels: churned = no order in (as_of, as_of + horizon], windows end-exclusive at midnight."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from churn.errors import ConfigError
from churn.modeling.labels import last_labelled_cutoff, make_labels
from tests.conftest import connect_to, make_transactions

AS_OF = "2024-03-31"
LAST_DATE = dt.date(2024, 12, 31)


def label_of(rows, horizon_days: int = 90) -> int:
    history = make_transactions([("X", "x0", "2024-03-01 12:00:00", 10.0), *rows])
    population = pd.DataFrame({"customer_id": ["X"], "as_of": [pd.Timestamp(AS_OF)]})
    return int(make_labels(connect_to(history), population, horizon_days, LAST_DATE).iloc[0])


def test_no_later_order_is_churn():
    assert label_of([]) == 1


def test_order_on_the_last_day_of_the_horizon_is_not_churn():
    # 90 days after Mar 31 is Jun 29.
    assert label_of([("X", "x1", "2024-06-29 23:59:59", 10.0)]) == 0


def test_order_the_day_after_the_horizon_is_churn():
    assert label_of([("X", "x1", "2024-06-30 00:00:00", 10.0)]) == 1


def test_order_later_on_the_cutoff_day_belongs_to_the_features_not_the_label():
    assert label_of([("X", "x1", "2024-03-31 23:00:00", 10.0)]) == 1


def test_a_return_in_the_window_is_not_an_order():
    assert label_of([("X", "Rx0", "2024-04-10 12:00:00", -10.0)]) == 1


def test_a_late_line_of_an_order_placed_before_the_cutoff_is_not_a_new_order():
    assert label_of([("X", "x0", "2024-04-10 12:00:00", 5.0)]) == 1


def test_horizon_comes_from_the_argument():
    rows = [("X", "x1", "2024-05-15 12:00:00", 10.0)]  # 45 days after the cutoff
    assert (label_of(rows, horizon_days=30), label_of(rows, horizon_days=60)) == (1, 0)


def test_cutoff_without_a_complete_window_is_refused():
    history = make_transactions([("X", "x0", "2024-03-01 12:00:00", 10.0)])
    population = pd.DataFrame({"customer_id": ["X"], "as_of": [pd.Timestamp("2024-12-01")]})
    with pytest.raises(ConfigError, match="latest fully labelled cutoff is 2024-10-02"):
        make_labels(connect_to(history), population, 90, LAST_DATE)


def test_last_labelled_cutoff_is_last_date_minus_horizon():
    assert last_labelled_cutoff(dt.date(2025, 12, 30), 90) == dt.date(2025, 10, 1)
