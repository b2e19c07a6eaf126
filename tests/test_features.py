"""Each feature on a hand-made history, values worked out by hand (as_of = 2024-03-31)."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest

from churn.errors import ConfigError
from churn.features.query import build_features, chosen_features, feature_names, finish_table
from churn.features.registry import FAMILIES, registry
from tests.conftest import connect_to, make_transactions

AS_OF = dt.date(2024, 3, 31)

# Customer A: orders on Jan 1, Mar 1 and Mar 31 (last second of the cutoff day), a return
# of 20 on Mar 10, and an order on Apr 1 that the cutoff must not see.
# Customer B: orders on 2023-03-01 (outside 365 days) and 2023-10-02 (181 days before).
# Customer C: one order in 2022, outside the population's 365-day lookback.
HISTORY = make_transactions(
    [
        ("A", "a1", "2024-01-01 10:00:00", 10.0),
        ("A", "a1", "2024-01-01 10:00:00", 20.0),
        ("A", "a2", "2024-03-01 09:00:00", 50.0),
        ("A", "Ra2", "2024-03-10 12:00:00", -20.0),
        ("A", "a3", "2024-03-31 23:59:59", 5.0),
        ("A", "a4", "2024-04-01 00:00:00", 100.0),
        ("B", "b1", "2023-03-01 08:00:00", 40.0),
        ("B", "b2", "2023-10-02 08:00:00", 60.0),
        ("C", "c1", "2022-01-01 08:00:00", 70.0),
    ]
)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return build_features(connect_to(HISTORY), [AS_OF]).set_index("customer_id")


def test_population_is_customers_with_an_order_in_the_lookback(table):
    assert list(table.index) == ["A", "B"]


def test_days_since_last_order_counts_calendar_days_and_includes_the_cutoff_day(table):
    assert table.loc["A", "days_since_last_order"] == 0
    assert table.loc["B", "days_since_last_order"] == 181


def test_order_counts_cover_the_window_ending_on_the_cutoff(table):
    # a2 on Mar 1 is 30 days old: outside the 30-day window; a1 on Jan 1 is 90 days old.
    assert table.loc["A", ["orders_30d", "orders_90d", "orders_365d"]].tolist() == [1, 2, 3]
    assert table.loc["B", ["orders_30d", "orders_90d", "orders_365d"]].tolist() == [0, 0, 1]


def test_spend_is_net_of_returns_by_the_return_date(table):
    assert table.loc["A", "spend_30d"] == pytest.approx(5.0 - 20.0)
    assert table.loc["A", "spend_90d"] == pytest.approx(50.0 - 20.0 + 5.0)
    assert table.loc["A", "spend_365d"] == pytest.approx(30.0 + 50.0 - 20.0 + 5.0)
    assert table.loc["B", "spend_365d"] == pytest.approx(60.0)


def test_lifetime_totals(table):
    assert table.loc["A", "orders_total"] == 3
    assert table.loc["B", ["orders_total", "spend_total"]].tolist() == [2, 100.0]


def test_tenure_counts_days_since_the_first_order(table):
    assert table.loc["A", "tenure_days"] == 90
    assert table.loc["B", "tenure_days"] == 396


def test_mean_gap_and_overdue_ratio(table):
    assert table.loc["A", "mean_gap_days"] == pytest.approx(45.0)
    assert table.loc["A", "overdue_ratio"] == pytest.approx(0.0)
    assert table.loc["B", "mean_gap_days"] == pytest.approx(215.0)
    assert table.loc["B", "overdue_ratio"] == pytest.approx(181 / 215)


def test_one_order_customer_has_no_gap():
    history = make_transactions([("D", "d1", "2024-03-01 12:00:00", 10.0)])
    row = build_features(connect_to(history), [AS_OF]).iloc[0]
    assert pd.isna(row["mean_gap_days"]) and pd.isna(row["overdue_ratio"])


def test_active_months_and_weekdays_count_the_30_day_periods_and_days_with_an_order():
    # Ages 0 and 29 share the first 30-day period, 30 and 59 the second, 360 and 364 the
    # last (5 days long); 365 days is outside the year. Sundays (0, 364 days ago), a
    # Saturday (29), a Friday (30) and Thursdays (59, 360): 4 weekdays.
    ages = [0, 29, 30, 59, 360, 364, 365]
    history = make_transactions(
        [("G", f"g{age}", f"{AS_OF - dt.timedelta(days=age)} 12:00:00", 10.0) for age in ages]
    )
    row = build_features(connect_to(history), [AS_OF]).iloc[0]
    assert row["active_months_365d"] == 3
    assert row["weekdays_distinct_365d"] == 4


def test_money_is_summed_exactly_whatever_order_the_lines_come_in():
    # In doubles, 1e11 + 0.0001 - 1e11 is 0.0001068...: the small line is mostly lost
    # when it is added to the large one first, and kept when the large ones cancel first,
    # so a parallel sum would change with the lines' order. Exactly, it is 0.0001.
    history = make_transactions(
        [
            ("H", "h1", "2024-03-01 12:00:00", 1e11),
            ("H", "h2", "2024-03-02 12:00:00", 0.0001),
            ("H", "Rh1", "2024-03-03 12:00:00", -1e11),
        ]
    )
    row = build_features(connect_to(history), [AS_OF]).iloc[0]
    assert row["spend_total"] == 0.0001
    assert row["spend_90d"] == 0.0001


def test_returns_share_is_returned_over_purchased_in_365_days(table):
    assert table.loc["A", "returns_share_365d"] == pytest.approx(20.0 / 85.0)
    assert table.loc["B", "returns_share_365d"] == 0.0


def test_return_rows_are_not_orders():
    history = make_transactions(
        [
            ("E", "e1", "2024-01-10 12:00:00", 30.0),
            ("E", "Re1", "2024-03-30 12:00:00", -30.0),
        ]
    )
    row = build_features(connect_to(history), [AS_OF]).iloc[0]
    assert row["days_since_last_order"] == 81
    assert row["orders_total"] == 1


def test_missing_order_id_means_one_order_per_customer_and_timestamp():
    history = make_transactions(
        [
            ("F", "", "2024-03-01 12:00:00", 10.0),
            ("F", "", "2024-03-01 12:00:00", 15.0),
            ("F", "", "2024-03-02 12:00:00", 5.0),
        ]
    ).drop(columns="order_id")
    row = build_features(connect_to(history), [AS_OF]).iloc[0]
    assert row["orders_total"] == 2


def test_several_cutoffs_in_one_call_match_single_cutoffs():
    con = connect_to(HISTORY)
    cutoffs = [dt.date(2024, 1, 15), AS_OF]
    both = build_features(con, cutoffs)
    singles = pd.concat([build_features(con, [c]) for c in cutoffs], ignore_index=True)
    pd.testing.assert_frame_equal(both, singles)


def test_an_order_on_both_sides_of_a_cutoff_and_in_two_channels_counts_only_lines_before_it():
    # Order g1 starts on the cutoff day (web) and goes on after midnight (app, with a
    # discount); order g2 is a return-only order id.
    history = make_transactions(
        [
            ("G", "g0", "2024-03-01 10:00:00", 40.0),
            ("G", "g1", "2024-03-31 23:00:00", 10.0),
            ("G", "g1", "2024-04-01 01:00:00", 30.0),
            ("G", "g2", "2024-04-01 02:00:00", -5.0),
        ]
    )
    history["channel"] = ["app", "web", "app", "app"]
    history["discount"] = [0.0, 0.0, 3.0, 0.0]
    history["quantity"] = [1.0, 1.0, 2.0, 1.0]
    con = connect_to(history)
    cutoffs = [AS_OF, dt.date(2024, 4, 1)]
    both = build_features(con, cutoffs)
    singles = pd.concat([build_features(con, [c]) for c in cutoffs], ignore_index=True)
    pd.testing.assert_frame_equal(both, singles)
    before, after = (row for _, row in both.iterrows())
    assert before["orders_total"] == after["orders_total"] == 2
    assert before["last_basket_value"] == 10.0 and after["last_basket_value"] == 40.0
    assert before["basket_items_mean_365d"] == 1.0 and after["basket_items_mean_365d"] == 2.0
    assert before["last_order_discounted"] == 0 and after["last_order_discounted"] == 1
    assert before["channels_distinct_365d"] == 2 and after["channels_distinct_365d"] == 2
    assert before["top_channel_share_365d"] == 0.5
    # After midnight g1 is in both channels: 3 order-channel pairs, app has 2 of them.
    assert after["top_channel_share_365d"] == pytest.approx(2 / 3)
    # g1 is dated by its first line, on the first cutoff day.
    assert before["days_since_last_order"] == 0 and after["days_since_last_order"] == 1
    assert after["returns_count_365d"] == 1 and before["returns_count_365d"] == 0


def test_columns_follow_the_registry_and_skip_families_without_their_columns():
    table = build_features(connect_to(HISTORY), [AS_OF], windows=[7, 90, 365])
    # HISTORY has no quantity, discount, category, product_id or channel column.
    expected = feature_names([7, 90, 365], available=())
    assert list(table.columns) == ["customer_id", "as_of", *expected]
    assert "discount_order_share_365d" not in expected and "orders_7d" in expected


def test_switched_off_families_are_not_computed():
    table = build_features(connect_to(HISTORY), [AS_OF], families=["recency", "tenure"])
    assert list(table.columns) == ["customer_id", "as_of", "days_since_last_order", "tenure_days"]


def test_non_positive_window_is_a_config_error():
    with pytest.raises(ConfigError, match="features.windows"):
        build_features(connect_to(HISTORY), [AS_OF], windows=[0, 90, 365])


def test_windows_must_include_90_and_365_days():
    with pytest.raises(ConfigError, match="must include"):
        build_features(connect_to(HISTORY), [AS_OF], windows=[30, 90])


def test_unknown_family_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown feature families"):
        build_features(connect_to(HISTORY), [AS_OF], families=["recency", "astrology"])


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_builds_on_its_own(family):
    table = build_features(connect_to(HISTORY), [AS_OF], families=[family])
    assert "days_since_last_order" in table.columns
    assert len(table) == 2


def test_final_features_only_use_their_own_family_or_recency():
    features = registry()
    family_of = {f.name: f.family for f in features}
    for f in features:
        if f.level != "final":
            continue
        used = {name for name in family_of if re.search(rf"\b{name}\b", f.sql)}
        assert {family_of[n] for n in used} <= {f.family, "recency"}, f.name


def test_spend_ratio_is_missing_when_the_previous_period_nets_out_to_a_float_residue():
    # D bought 0.1 and 0.2 and returned 0.3 between 90 and 180 days before the cutoff: in
    # floats 0.1 + 0.2 - 0.3 is 5.6e-17, not 0, and dividing by it gave about 1e17.
    history = make_transactions(
        [
            ("D", "d1", "2023-11-01 10:00:00", 0.1),
            ("D", "d2", "2023-11-02 10:00:00", 0.2),
            ("D", "Rd2", "2023-11-03 10:00:00", -0.3),
            ("D", "d3", "2024-03-01 10:00:00", 40.0),
        ]
    )
    features = build_features(connect_to(history), [AS_OF]).set_index("customer_id")
    assert pd.isna(features.loc["D", "spend_ratio_90d"])


def test_a_sum_that_cancels_to_minus_zero_is_stored_as_zero():
    # A sum that cancels (a purchase and its return) ends a hair above or below zero by
    # the order it was added in, and rounds to 0.0 or -0.0: the file's bytes must not
    # follow that order.
    (spend,) = [
        f
        for f in chosen_features([30, 90, 180, 365], 365, FAMILIES, None, [])
        if f.name == "spend_90d"
    ]
    raw = pd.DataFrame(
        {"customer_id": ["a", "b"], "as_of": ["2024-01-01"] * 2, "spend_90d": [-0.0, 1.0]}
    )
    values = finish_table(raw, [spend])["spend_90d"].to_numpy()
    assert values.tolist() == [0.0, 1.0] and not np.signbit(values[0])
