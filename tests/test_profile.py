"""The personalisation fields of the at-risk list on hand-made histories, worked out by hand
(as_of = 2024-03-31, a Sunday)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from churn.data.ingest import SourceSpec, ingest_customers
from churn.features.profile import PROFILE_COLUMNS, customer_profile
from churn.features.query import build_features
from tests.conftest import connect_to, has_java_17

AS_OF = dt.date(2024, 3, 31)
COLUMNS = ["customer_id", "order_id", "ts", "amount", "product_id", "category", "channel"]


def shop(rows: list[tuple]) -> pd.DataFrame:
    """A canonical frame from (customer, order, ts, amount, product, category, channel)."""
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["ts"] = pd.to_datetime(frame["ts"])
    return frame


# A: orders on Mon Jan 1 (10:00, two lines), Fri Mar 1 (09:15) and Mon Mar 25 (10:30); a
#    return on Mar 10; an order on Apr 1 the cutoff must not see.
# B: orders on Thu 2023-06-15 and Thu 2023-09-14 (20:05, 20:40), Sat 2024-02-03 (14:00).
# C: one order in the last second of the cutoff day.
# D: first orders after the cutoff.
HISTORY = shop(
    [
        ("A", "a1", "2024-01-01 10:00:00", 10.0, "p1", "tea", "web"),
        ("A", "a1", "2024-01-01 10:00:00", 20.0, "p2", "cups", "web"),
        ("A", "a2", "2024-03-01 09:15:00", 50.0, "p3", "tea", "app"),
        ("A", "Ra2", "2024-03-10 12:00:00", -50.0, "p3", "tea", "app"),
        ("A", "a3", "2024-03-25 10:30:00", 5.0, "p1", "tea", "web"),
        ("A", "a4", "2024-04-01 08:00:00", 100.0, "p9", "toys", "shop"),
        ("B", "b1", "2023-06-15 20:05:00", 30.0, "p5", "toys", "shop"),
        ("B", "b2", "2023-09-14 20:40:00", 40.0, "p6", "toys", "shop"),
        ("B", "b3", "2024-02-03 14:00:00", 15.0, "p7", "tea", "web"),
        ("C", "c1", "2024-03-31 23:59:59", 12.0, "p8", "cups", "app"),
        ("D", "d1", "2024-04-01 00:00:00", 9.0, "p8", "cups", "app"),
    ]
)


def profile_of(frame: pd.DataFrame, as_of: dt.date = AS_OF) -> pd.DataFrame:
    return customer_profile(connect_to(frame), as_of).set_index("customer_id")


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return profile_of(HISTORY)


def column(table: pd.DataFrame, name: str) -> list:
    return [None if pd.isna(v) else v for v in table[name]]


def test_one_row_per_customer_with_an_order_up_to_as_of_sorted_by_id():
    profile = customer_profile(connect_to(HISTORY), AS_OF)
    assert list(profile.columns) == ["customer_id", *PROFILE_COLUMNS]
    assert profile["customer_id"].tolist() == ["A", "B", "C"]


def test_profiles_asked_for_some_customers_are_theirs_in_the_full_frame(table):
    some = customer_profile(connect_to(HISTORY), AS_OF, customer_ids=["C", "A", "D"])
    # D first ordered after the cutoff: absent, as in the full frame.
    assert list(some["customer_id"]) == ["A", "C"]
    pd.testing.assert_frame_equal(some.set_index("customer_id"), table.loc[["A", "C"]])


def test_profiles_asked_for_nobody_are_an_empty_frame_with_every_column(table):
    none = customer_profile(connect_to(HISTORY), AS_OF, customer_ids=[])
    assert none.empty and list(none.columns) == ["customer_id", *PROFILE_COLUMNS]


def test_every_column_has_a_description_for_the_docs():
    assert all(isinstance(text, str) and text.endswith(".") for text in PROFILE_COLUMNS.values())


def test_favourite_category_has_most_purchase_lines_of_the_last_365_days(table):
    # A: tea 3 lines, cups 1 (the return and the order after as_of do not count).
    assert column(table, "favourite_category") == ["tea", "toys", "cups"]


def test_last_category_and_product_are_those_of_the_latest_purchase_line(table):
    assert column(table, "last_category") == ["tea", "tea", "cups"]
    assert column(table, "last_product") == ["p1", "p7", "p8"]


def test_days_since_last_purchase_counts_calendar_days_and_0_is_the_as_of_day(table):
    assert column(table, "days_since_last_purchase") == [6, 57, 0]


def test_usual_gap_is_the_mean_gap_between_orders_rounded_and_sets_the_next_order(table):
    # A: 60 and 24 days, mean 42. B: 91 and 142 days, mean 116.5, halves round up.
    assert column(table, "usual_gap_days")[:2] == [42, 117]
    assert column(table, "expected_next_order")[:2] == ["2024-05-06", "2024-05-30"]


def test_one_order_date_has_no_usual_gap_nor_expected_next_order(table):
    assert pd.isna(table.loc["C", "usual_gap_days"])
    assert pd.isna(table.loc["C", "expected_next_order"])


def test_usual_gap_is_the_mean_gap_feature_rounded():
    features = build_features(connect_to(HISTORY), [AS_OF]).set_index("customer_id")
    profile = profile_of(HISTORY)
    assert profile.loc["A", "usual_gap_days"] == round(features.loc["A", "mean_gap_days"])


def test_two_orders_on_one_day_are_a_gap_of_0_days_as_in_the_mean_gap_feature():
    profile = profile_of(
        shop(
            [
                ("A", "a1", "2024-03-01 09:00:00", 10.0, "p1", "tea", "web"),
                ("A", "a2", "2024-03-01 18:00:00", 10.0, "p1", "tea", "web"),
            ]
        )
    )
    assert profile.loc["A", "usual_gap_days"] == 0
    assert profile.loc["A", "expected_next_order"] == "2024-03-01"


def test_preferred_weekday_is_the_iso_number_of_the_most_frequent_order_day(table):
    # A: Mon, Fri, Mon. B: Thu, Thu, Sat. C: Sun.
    assert column(table, "preferred_weekday") == [1, 4, 7]


def test_preferred_hour_is_the_most_frequent_order_hour(table):
    assert column(table, "preferred_hour") == [10, 20, 23]


def test_preferred_channel_has_most_orders_of_the_last_365_days(table):
    assert column(table, "preferred_channel") == ["web", "shop", "app"]


def test_rows_after_as_of_change_nothing(table):
    before = HISTORY[HISTORY["ts"] < pd.Timestamp(AS_OF) + pd.Timedelta(days=1)]
    pd.testing.assert_frame_equal(profile_of(before), table)


def test_a_customer_whose_only_order_is_after_as_of_is_absent(table):
    assert "D" not in table.index
    assert "D" in profile_of(HISTORY, dt.date(2024, 4, 1)).index


def test_before_the_first_order_the_frame_is_empty_with_every_column():
    profile = customer_profile(connect_to(HISTORY), dt.date(2020, 1, 1))
    assert profile.empty
    assert list(profile.columns) == ["customer_id", *PROFILE_COLUMNS]


def test_habits_count_only_the_last_365_days():
    # Two old orders on Tuesday 08:00 in channel "shop", one recent on Friday 18:00 online.
    profile = profile_of(
        shop(
            [
                ("A", "a1", "2023-01-03 08:00:00", 10.0, "p1", "toys", "shop"),
                ("A", "a2", "2023-01-10 08:00:00", 10.0, "p1", "toys", "shop"),
                ("A", "a3", "2024-03-08 18:00:00", 10.0, "p2", "tea", "web"),
            ]
        )
    )
    assert profile.loc["A", ["preferred_weekday", "preferred_hour"]].tolist() == [5, 18]
    assert profile.loc["A", ["preferred_channel", "favourite_category"]].tolist() == ["web", "tea"]


def test_a_customer_without_orders_in_365_days_has_no_habits_but_a_last_purchase():
    profile = profile_of(shop([("A", "a1", "2023-01-03 08:00:00", 10.0, "p1", "toys", "shop")]))
    row = profile.loc["A"]
    assert row[["preferred_weekday", "preferred_hour", "preferred_channel"]].isna().all()
    assert pd.isna(row["favourite_category"])
    assert row[["last_category", "last_product"]].tolist() == ["toys", "p1"]
    assert row["days_since_last_purchase"] == 453


def test_returns_are_not_purchases():
    profile = profile_of(
        shop(
            [
                ("A", "a1", "2024-03-01 10:00:00", 10.0, "p1", "tea", "web"),
                ("A", "Ra1", "2024-03-20 11:00:00", -30.0, "p2", "cups", "app"),
                ("A", "Ra1", "2024-03-20 11:00:00", -30.0, "p3", "cups", "app"),
            ]
        )
    )
    assert profile.loc["A", ["last_product", "favourite_category"]].tolist() == ["p1", "tea"]
    assert profile.loc["A", ["days_since_last_purchase", "preferred_channel"]].tolist() == [
        30,
        "web",
    ]


# --- ties ---------------------------------------------------------------------------------


def test_favourite_category_tie_on_lines_goes_to_the_larger_purchased_amount():
    profile = profile_of(
        shop(
            [
                ("A", "a1", "2024-03-01 10:00:00", 10.0, "p1", "tea", "web"),
                ("A", "a1", "2024-03-01 10:00:00", 30.0, "p2", "cups", "web"),
            ]
        )
    )
    assert profile.loc["A", "favourite_category"] == "cups"


def test_favourite_category_tie_on_lines_and_amount_goes_to_the_name():
    # Two lines each for 0.30: tea's sum is 0.30000000000000004 in floats, which must not
    # decide (amounts are compared to the millionth).
    profile = profile_of(
        shop(
            [
                ("A", "a1", "2024-03-01 10:00:00", 0.1, "p1", "tea", "web"),
                ("A", "a1", "2024-03-01 10:00:00", 0.2, "p2", "tea", "web"),
                ("A", "a2", "2024-03-02 10:00:00", 0.15, "p3", "cups", "web"),
                ("A", "a2", "2024-03-02 10:00:00", 0.15, "p4", "cups", "web"),
            ]
        )
    )
    assert profile.loc["A", "favourite_category"] == "cups"


def test_last_line_tie_at_one_time_goes_to_the_largest_amount_then_the_smallest_product():
    at = "2024-03-30 12:00:00"
    profile = profile_of(
        shop(
            [
                ("A", "a1", at, 5.0, "p1", "tea", "web"),
                ("A", "a1", at, 9.0, "p7", "toys", "web"),
                ("B", "b1", at, 9.0, "p7", "toys", "web"),
                ("B", "b1", at, 9.0, "p3", "cups", "web"),
            ]
        )
    )
    assert column(profile, "last_product") == ["p7", "p3"]
    assert column(profile, "last_category") == ["toys", "cups"]


def test_weekday_and_hour_ties_go_to_the_earliest():
    # Friday 09:00 and Monday 17:00: one order each.
    profile = profile_of(
        shop(
            [
                ("A", "a1", "2024-03-08 09:00:00", 10.0, "p1", "tea", "web"),
                ("A", "a2", "2024-03-04 17:00:00", 10.0, "p1", "tea", "web"),
            ]
        )
    )
    assert profile.loc["A", ["preferred_weekday", "preferred_hour"]].tolist() == [1, 9]


def test_channel_tie_goes_to_the_name():
    profile = profile_of(
        shop(
            [
                ("A", "a1", "2024-03-08 09:00:00", 10.0, "p1", "tea", "web"),
                ("A", "a2", "2024-03-09 09:00:00", 99.0, "p1", "tea", "app"),
            ]
        )
    )
    assert profile.loc["A", "preferred_channel"] == "app"


# --- what the shop does not record -------------------------------------------------------


def test_a_shop_without_category_channel_and_product_gives_nulls():
    frame = HISTORY.drop(columns=["product_id", "category", "channel"])
    profile = profile_of(frame)
    for name in ("favourite_category", "last_category", "last_product", "preferred_channel"):
        assert profile[name].isna().all(), name
    assert column(profile, "days_since_last_purchase") == [6, 57, 0]


def test_orders_at_midnight_have_no_hour():
    # A: dates only. B: one order with a time, one at midnight (not a vote for hour 0).
    profile = profile_of(
        shop(
            [
                ("A", "a1", "2024-03-01 00:00:00", 10.0, "p1", "tea", "web"),
                ("A", "a2", "2024-03-08 00:00:00", 10.0, "p1", "tea", "web"),
                ("B", "b1", "2024-03-01 00:00:00", 10.0, "p1", "tea", "web"),
                ("B", "b2", "2024-03-02 00:00:00", 10.0, "p1", "tea", "web"),
                ("B", "b3", "2024-03-08 15:30:00", 10.0, "p1", "tea", "web"),
            ]
        )
    )
    assert pd.isna(profile.loc["A", "preferred_hour"])
    assert profile.loc["A", "preferred_weekday"] == 5
    assert profile.loc["B", "preferred_hour"] == 15


# --- the customers table -----------------------------------------------------------------


def with_customers(tmp_path: Path, text: str):
    path = tmp_path / "customers.csv"
    path.write_text(text)
    con = connect_to(HISTORY)
    spec = SourceSpec(
        transactions=str(path),
        columns={"customer_id": "id", "first_name": "name", "email": "mail"},
    )
    ingest_customers(con, spec)
    return con


def test_first_name_and_email_come_from_the_customers_table(tmp_path):
    con = with_customers(tmp_path, "id,name,mail\nA,Anna,anna@example.com\nB, Bo ,\nZ,Zed,z@x.io\n")
    profile = customer_profile(con, AS_OF).set_index("customer_id")
    assert column(profile, "first_name") == ["Anna", "Bo", None]
    assert column(profile, "email") == ["anna@example.com", None, None]


def test_the_customers_table_can_be_left_out(tmp_path):
    con = with_customers(tmp_path, "id,name,mail\nA,Anna,anna@example.com\n")
    profile = customer_profile(con, AS_OF, customers_table=False)
    assert profile[["first_name", "email"]].isna().all().all()


def test_a_customers_table_without_names_gives_nulls(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,marketing_opt_out\nA,no\n")
    con = connect_to(HISTORY)
    columns = {"customer_id": "customer_id", "marketing_opt_out": "marketing_opt_out"}
    ingest_customers(con, SourceSpec(transactions=str(path), columns=columns))
    profile = customer_profile(con, AS_OF)
    assert profile[["first_name", "email"]].isna().all().all()


# --- Spark --------------------------------------------------------------------------------


@pytest.mark.spark
@pytest.mark.skipif(not has_java_17(), reason="Spark 4 needs a Java 17+ runtime")
def test_spark_gives_the_same_frame(tmp_path):
    pytest.importorskip("pyspark", reason="the spark extra is not installed")
    from churn.data.ingest import ingest_transactions
    from churn.engines.spark_engine import SparkEngine, get_session

    path = tmp_path / "customers.csv"
    path.write_text("id,name,mail\nA,Anna,anna@example.com\nB,Bo,\n")
    customers = SourceSpec(
        transactions=str(path),
        columns={"customer_id": "id", "first_name": "name", "email": "mail"},
    )
    duck = connect_to(HISTORY)
    ingest_customers(duck, customers)
    session = get_session("local[2]", {"spark.sql.shuffle.partitions": 4})
    try:
        spark = SparkEngine(session)
        ingest_transactions(spark, SourceSpec(), frame=HISTORY)
        ingest_customers(spark, customers)
        for as_of in (AS_OF, dt.date(2024, 4, 1)):
            pd.testing.assert_frame_equal(
                customer_profile(spark, as_of), customer_profile(duck, as_of)
            )
        for ids in (["B", "C"], []):
            pd.testing.assert_frame_equal(
                customer_profile(spark, AS_OF, customer_ids=ids),
                customer_profile(duck, AS_OF, customer_ids=ids),
            )
    finally:
        session.stop()
