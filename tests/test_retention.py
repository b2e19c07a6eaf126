"""Retention, churn, repeat purchase and cohort tables, hand-computed on tiny data.

Three customers, January to June 2024:
A orders on 31 Jan (last day of the month), 1 Feb and 10 Apr, and returns an item in March
(a return is not an order). B orders twice in January and once on 5 Mar. C orders twice on
29 Feb (last day of the month) and once on 2 Jun. Nobody orders in May.
"""

from __future__ import annotations

import math

import pytest

from churn.errors import ConfigError
from churn.reporting.retention import cohort_retention, retention_by_period, retention_by_segment
from tests.conftest import connect_to, make_transactions

ROWS = [
    ("A", "o1", "2024-01-31 10:00", 10.0),
    ("A", "o2", "2024-02-01 09:00", 20.0),
    ("A", "r1", "2024-03-10 12:00", -5.0),
    ("A", "o3", "2024-04-10 12:00", 30.0),
    ("B", "o4", "2024-01-15 12:00", 40.0),
    ("B", "o5", "2024-01-20 12:00", 50.0),
    ("B", "o6", "2024-03-05 12:00", 60.0),
    ("C", "o7", "2024-02-29 12:00", 70.0),
    ("C", "o8", "2024-02-29 23:00", 80.0),
    ("C", "o9", "2024-06-02 12:00", 90.0),
]


@pytest.fixture(scope="module")
def con():
    return connect_to(make_transactions(ROWS))


def _rows(table):
    return [
        tuple(None if isinstance(v, float) and math.isnan(v) else v for v in row)
        for row in table.itertuples(index=False)
    ]


def test_monthly_retention_churn_repeat_new_and_revenue(con):
    assert _rows(retention_by_period(con)) == [
        # period, active, retained, retention, churn, repeat purchase, new, revenue
        ("2024-01", 2, 0, None, None, 0.5, 2, 100.0),
        ("2024-02", 2, 1, 0.5, 0.5, 0.5, 1, 170.0),
        ("2024-03", 1, 0, 0.0, 1.0, 0.0, 0, 55.0),
        ("2024-04", 1, 0, 0.0, 1.0, 0.0, 0, 30.0),
        ("2024-05", 0, 0, 0.0, 1.0, None, 0, 0.0),
        ("2024-06", 1, 0, None, None, 0.0, 0, 90.0),
    ]


def test_quarterly_periods(con):
    assert _rows(retention_by_period(con, "quarter")) == [
        ("2024-Q1", 3, 0, None, None, 1.0, 3, 325.0),
        ("2024-Q2", 2, 2, 2 / 3, 1 - 2 / 3, 0.0, 0, 120.0),
    ]


def test_cohorts_by_month_of_first_order_including_empty_months(con):
    assert _rows(cohort_retention(con)) == [
        ("2024-01", 0, 2, 2, 1.0),
        ("2024-01", 1, 2, 1, 0.5),
        ("2024-01", 2, 2, 1, 0.5),
        ("2024-01", 3, 2, 1, 0.5),
        ("2024-01", 4, 2, 0, 0.0),
        ("2024-01", 5, 2, 0, 0.0),
        ("2024-02", 0, 1, 1, 1.0),
        ("2024-02", 1, 1, 0, 0.0),
        ("2024-02", 2, 1, 0, 0.0),
        ("2024-02", 3, 1, 0, 0.0),
        ("2024-02", 4, 1, 1, 1.0),
    ]


def test_an_unknown_period_is_a_config_error(con):
    with pytest.raises(ConfigError, match="report.period"):
        retention_by_period(con, "week")


def test_segments_follow_the_channel_of_the_first_order():
    frame = make_transactions(ROWS)
    frame["channel"] = ["web", "app", "web", "app", "app", "app", "app", "web", "web", "web"]
    by_channel = retention_by_segment(connect_to(frame), "channel")
    # First orders: A's o1 and C's o7 on the web, B's o4 in the app. A segment's periods
    # run from its own first order to its own last row.
    assert sorted(by_channel) == ["app", "web"]
    assert by_channel["app"]["active"].tolist() == [1, 0, 1]
    assert by_channel["web"]["active"].tolist() == [1, 2, 0, 1, 0, 1]
