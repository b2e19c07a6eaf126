"""A night's features from the last night's (churn.features.incremental) equal the full
recomputation, whatever arrived, changed or left between the nights."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churn.data.ingest import SourceSpec, ingest_customers, ingest_transactions
from churn.engines import duckdb_engine
from churn.features import incremental
from churn.features.incremental import (
    NotIncremental,
    crossing_ages,
    cutoff_dependence,
    nightly_features,
)
from churn.features.query import OPTIONAL_COLUMNS, build_features, feature_sql
from churn.features.registry import FAMILIES, select_features
from tests.reference_features import reference_features, reference_shop

WINDOWS = [30, 90, 180, 365]
HORIZON = 30
NIGHT0 = dt.date(2023, 10, 1)


@pytest.fixture(scope="module")
def shop() -> tuple[pd.DataFrame, pd.DataFrame]:
    return reference_shop(150)


def through(tx: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """The lines an export made at the end of ``day`` holds."""
    return tx[tx["ts"] < pd.Timestamp(day) + pd.Timedelta(days=1)]


def connection(tx: pd.DataFrame, customers: pd.DataFrame):
    con = duckdb_engine.connect()
    ingest_transactions(con, SourceSpec(), frame=tx)
    ingest_customers(
        con,
        SourceSpec(columns={"customer_id": "customer_id", "signup_ts": "signup_ts"}),
        frame=customers,
    )
    return con


def night(tx, customers, day: dt.date, state: Path, windows=WINDOWS):
    return nightly_features(connection(tx, customers), day, state, windows, 365, FAMILIES, HORIZON)


def full(tx, customers, day: dt.date) -> pd.DataFrame:
    return build_features(connection(tx, customers), [day], WINDOWS, btyd_horizon_days=HORIZON)


def edited(tx: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """``day``'s export with what real exports do to the past: a deleted line, a
    corrected amount and a late return dated before the first night."""
    out = through(tx, day).copy()
    past = out.index[out["ts"] < pd.Timestamp(NIGHT0)]
    out.loc[past[50], "amount"] += 1.0
    late = out.loc[[past[100]]].assign(amount=-3.0, order_id="R-late")
    return pd.concat([out.drop(past[5]), late], ignore_index=True)


def test_crossing_ages_are_the_new_days_and_each_boundary_passed():
    # Two days on: lines of the last two days, and those 30 or 31 days old (the 30-day
    # window's end passed them).
    assert crossing_ages([30], 2) == [0, 1, 30, 31]


def test_the_registry_is_classified_by_how_it_moves_with_the_cutoff():
    available = [*OPTIONAL_COLUMNS, "customers"]
    features = select_features(WINDOWS, FAMILIES, available)
    dependence = cutoff_dependence(features, feature_sql(features, available, 365))
    assert set(dependence.shifted) == {
        "days_since_last_order",
        "tenure_days",
        "days_since_last_return",
        "days_since_last_discount",
    }
    assert set(dependence.derived) == {"overdue_ratio", "last_basket_vs_mean"}
    # The windows, and the ends of active_months_365d's 30-day periods.
    assert dependence.boundaries == (30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 330, 360, 365)


@pytest.mark.parametrize(
    "sql",
    [
        "SUM(age_days * age_days)",
        "SUM(CASE WHEN age_days < 30.5 THEN 1 ELSE 0 END)",
        "SUM(CASE WHEN age_days < 29 + 2 THEN 1 ELSE 0 END)",
        "SUM(CASE WHEN order_date > as_of - 45 THEN 1 ELSE 0 END)",
        "COUNT(DISTINCT CAST(FLOOR(age_days / 30.0) AS INTEGER))",
    ],
)
def test_a_feature_reading_the_cutoff_otherwise_is_refused(sql):
    feature = select_features(WINDOWS, ["recency"], [])[0]
    odd = dataclasses.replace(feature, name="odd_feature", sql=sql)
    with pytest.raises(NotIncremental, match="odd_feature"):
        cutoff_dependence([odd], "")


@pytest.fixture
def always_follow(monkeypatch):
    """Follow the stored night however many customers it recomputes."""
    monkeypatch.setattr(incremental, "MAX_RECOMPUTED_SHARE", 1.0)


@pytest.mark.parametrize("days", [1, 7, 31])
def test_a_night_after_a_stored_one_equals_the_full_recomputation(
    shop, tmp_path, days, always_follow
):
    tx, customers = shop
    night(through(tx, NIGHT0), customers, NIGHT0, tmp_path)
    day = NIGHT0 + dt.timedelta(days=days)
    got, report = night(edited(tx, day), customers, day, tmp_path)
    assert report.mode == "incremental" and report.previous == NIGHT0.isoformat()
    assert report.changed >= 3  # the three edited customers, and the new days' buyers
    pd.testing.assert_frame_equal(got, full(edited(tx, day), customers, day))


def test_one_day_on_recomputes_only_some_customers(shop, tmp_path):
    tx, customers = shop
    night(through(tx, NIGHT0), customers, NIGHT0, tmp_path)
    day = NIGHT0 + dt.timedelta(days=1)
    _, report = night(through(tx, day), customers, day, tmp_path)
    assert 0 < report.recomputed < report.customers / 2


def test_a_night_matches_the_pandas_reference(shop, tmp_path):
    tx, customers = shop
    night(through(tx, NIGHT0), customers, NIGHT0, tmp_path)
    day = NIGHT0 + dt.timedelta(days=3)
    data = edited(tx, day)
    got = night(data, customers, day, tmp_path)[0].drop(columns="as_of").set_index("customer_id")
    want = reference_features(data, day.isoformat(), WINDOWS, customers=customers, horizon=HORIZON)
    want = want.set_index("customer_id").loc[got.index, got.columns]
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9, atol=1e-9)


def test_other_settings_start_afresh(shop, tmp_path):
    tx, customers = shop
    night(through(tx, NIGHT0), customers, NIGHT0, tmp_path)
    day = NIGHT0 + dt.timedelta(days=1)
    _, report = night(through(tx, day), customers, day, tmp_path, windows=[30, 60, 90, 365])
    assert report.mode == "full"


def test_an_earlier_date_than_every_stored_night_is_computed_whole(shop, tmp_path):
    tx, customers = shop
    night(through(tx, NIGHT0), customers, NIGHT0, tmp_path)
    day = NIGHT0 - dt.timedelta(days=1)
    got, report = night(through(tx, NIGHT0), customers, day, tmp_path)
    assert report.mode == "full"
    pd.testing.assert_frame_equal(got, full(through(tx, NIGHT0), customers, day))


def test_a_damaged_stored_night_costs_a_full_night_not_a_wrong_one(shop, tmp_path):
    tx, customers = shop
    night(through(tx, NIGHT0), customers, NIGHT0, tmp_path)
    (stored,) = tmp_path.glob(f"*/{NIGHT0}.*")
    (stored / "raw.parquet").write_bytes(b"not parquet")
    day = NIGHT0 + dt.timedelta(days=1)
    got, report = night(through(tx, day), customers, day, tmp_path)
    assert report.mode == "full" and "could not be read" in report.why
    pd.testing.assert_frame_equal(got, full(through(tx, day), customers, day))


def test_a_state_folder_that_cannot_be_written_still_gives_the_table(shop, tmp_path, caplog):
    tx, customers = shop
    blocked = tmp_path / "a file"
    blocked.write_text("")
    got, _ = night(through(tx, NIGHT0), customers, NIGHT0, blocked)
    pd.testing.assert_frame_equal(got, full(through(tx, NIGHT0), customers, NIGHT0))
    assert "not kept for the next" in caplog.text


def test_the_three_newest_nights_are_kept(shop, tmp_path):
    tx, customers = shop
    for days in range(5):
        day = NIGHT0 + dt.timedelta(days=days)
        night(through(tx, day), customers, day, tmp_path)
    (folder,) = tmp_path.iterdir()
    kept = sorted(p.name.split(".")[0] for p in folder.iterdir())
    assert kept == [(NIGHT0 + dt.timedelta(days=d)).isoformat() for d in (2, 3, 4)]


def test_what_was_not_written_for_two_weeks_goes(shop, tmp_path):
    import os

    tx, customers = shop
    old_key, recent_key = tmp_path / "0123456789abcdef", tmp_path / "fedcba9876543210"
    for key in (old_key, recent_key):
        (key / "2023-01-01.0000aaaa").mkdir(parents=True)
    leftover = tmp_path / "fedcba9876543210" / ".2023-01-02.0000bbbb"
    leftover.mkdir()
    weeks_ago = (tmp_path / "0123456789abcdef").stat().st_mtime - 15 * 86400
    for path in (old_key / "2023-01-01.0000aaaa", old_key, leftover):
        os.utime(path, (weeks_ago, weeks_ago))
    night(through(tx, NIGHT0), customers, NIGHT0, tmp_path)
    assert not old_key.exists() and not leftover.exists()
    assert (recent_key / "2023-01-01.0000aaaa").exists()


def test_a_rerun_of_a_date_replaces_its_stored_night(shop, tmp_path):
    tx, customers = shop
    night(through(tx, NIGHT0), customers, NIGHT0, tmp_path)
    night(through(tx, NIGHT0), customers, NIGHT0, tmp_path)
    assert len(list(tmp_path.glob(f"*/{NIGHT0}.*"))) == 1


def test_a_night_most_customers_would_recompute_is_computed_whole(shop, tmp_path):
    tx, customers = shop
    night(through(tx, NIGHT0), customers, NIGHT0, tmp_path)
    day = NIGHT0 + dt.timedelta(days=45)
    got, report = night(through(tx, day), customers, day, tmp_path)
    assert report.mode == "full" and "computing everyone is cheaper" in report.why
    pd.testing.assert_frame_equal(got, full(through(tx, day), customers, day))


def test_the_engine_follows_the_stored_night_when_told_where(shop, tmp_path):
    tx, customers = shop
    engine = duckdb_engine.DuckDBEngine(connection(through(tx, NIGHT0), customers))
    engine.feature_state = tmp_path
    args = (WINDOWS, 365, FAMILIES, HORIZON)
    engine.features([NIGHT0], *args)
    assert engine.feature_night["mode"] == "full"
    day = NIGHT0 + dt.timedelta(days=1)
    engine = duckdb_engine.DuckDBEngine(connection(through(tx, day), customers), tmp_path)
    got = engine.features([day], *args)
    assert engine.feature_night["mode"] == "incremental"
    pd.testing.assert_frame_equal(got, full(through(tx, day), customers, day))


BETWEEN_NIGHTS = st.lists(
    st.tuples(
        st.integers(0, 149),  # which customer
        st.integers(-400, 40),  # the line's day, from the first night
        st.floats(-50, 200, allow_nan=False),
        st.sampled_from(["web", "app", None]),
        st.booleans(),  # a line of an existing order instead of a new order
    ),
    max_size=30,
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=BETWEEN_NIGHTS, days=st.integers(1, 40), dropped=st.integers(0, 20))
def test_whatever_arrives_between_nights_the_table_is_the_full_one(
    shop, tmp_path_factory, always_follow, rows, days, dropped
):
    tx, customers = shop
    state = tmp_path_factory.mktemp("state")
    first = through(tx, NIGHT0)
    night(first, customers, NIGHT0, state)
    day = NIGHT0 + dt.timedelta(days=days)
    ids = sorted(tx["customer_id"].unique())
    arrived = pd.DataFrame(
        [
            {
                "customer_id": ids[c],
                "order_id": first["order_id"].iloc[c] if existing else f"N{i}",
                "ts": pd.Timestamp(NIGHT0) + pd.Timedelta(days=d, hours=12),
                "amount": amount,
                "quantity": 1.0,
                "product_id": "P9999",
                "category": "new-category",
                "discount": 0.0,
                "channel": channel,
            }
            for i, (c, d, amount, channel, existing) in enumerate(rows)
        ],
        columns=tx.columns,
    ).astype({"ts": "datetime64[us]"})
    later = through(tx, day)
    later = pd.concat([later.drop(later.index[::50][:dropped]), arrived], ignore_index=True)
    got, report = night(later, customers, day, state)
    assert report.mode == "incremental"
    pd.testing.assert_frame_equal(got, full(later, customers, day))
