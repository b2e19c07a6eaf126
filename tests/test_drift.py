"""Population stability index against a training reference."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from churn.errors import DriftError
from churn.scoring.drift import DriftPolicy, drift_report, psi, reference_profile


def test_psi_by_hand_for_two_bins():
    # One edge at 5: reference 50% / 50% / 0% missing; tonight 75% / 25%.
    reference = {"edges": [5.0], "shares": [0.5, 0.5, 0.0]}
    expected = (0.75 - 0.5) * math.log(0.75 / 0.5) + (0.25 - 0.5) * math.log(0.25 / 0.5)
    assert psi(reference, np.array([1.0, 2.0, 3.0, 9.0])) == pytest.approx(expected)


def test_the_same_population_has_zero_psi():
    frame = pd.DataFrame({"x": np.arange(100, dtype="float64")})
    profile = reference_profile(frame, ["x"])
    assert psi(profile["x"], frame["x"].to_numpy()) == pytest.approx(0.0)


def test_missing_values_are_a_bin_of_their_own():
    profile = reference_profile(pd.DataFrame({"x": [1.0, 2.0, np.nan, np.nan]}), ["x"])
    assert profile["x"]["shares"][-1] == 0.5
    assert psi(profile["x"], np.array([1.0, 2.0, 1.0, 2.0])) > 0.25


def test_report_flags_warn_and_fail_and_sorts_by_psi():
    profile = {
        "stable": {"edges": [5.0], "shares": [0.5, 0.5, 0.0]},
        "moved": {"edges": [5.0], "shares": [0.5, 0.5, 0.0]},
    }
    tonight = pd.DataFrame({"stable": [1.0, 9.0] * 50, "moved": [1.0] * 90 + [9.0] * 10})
    report = drift_report(profile, tonight, warn_psi=0.1, fail_psi=0.25)
    assert [(r["feature"], r["status"]) for r in report] == [("moved", "fail"), ("stable", "ok")]
    assert drift_report(profile, tonight, warn_psi=0.1, fail_psi=None)[0]["status"] == "warn"


def test_ignored_features_warn_but_never_fail():
    profile = {"seasonal": {"edges": [5.0], "shares": [0.5, 0.5, 0.0]}}
    tonight = pd.DataFrame({"seasonal": [1.0] * 95 + [9.0] * 5})
    report = drift_report(profile, tonight, warn_psi=0.1, fail_psi=0.25, ignore=["seasonal"])
    assert report[0]["status"] == "warn"


def test_an_ignored_feature_that_would_fail_says_why_it_did_not():
    profile = {"seasonal": {"edges": [5.0], "shares": [0.5, 0.5, 0.0]}}
    tonight = pd.DataFrame({"seasonal": [1.0] * 95 + [9.0] * 5})
    report = drift_report(
        profile, tonight, 0.1, 0.25, ignore={"seasonal": "promotions move it with the calendar"}
    )
    assert report[0]["ignored"] == "promotions move it with the calendar"
    listed = drift_report(profile, tonight, 0.1, 0.25, ignore=["seasonal"])
    assert listed[0]["ignored"] == "listed in score.drift.ignore"


def _young_shop(as_of: str, ages: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"tenure_days": ages, "as_of": pd.Timestamp(as_of)})


def test_tenure_of_a_young_shop_ageing_with_the_calendar_is_not_drift():
    # Everyone arrived after the data starts: 90 days later, every tenure is 90 days longer.
    ages = np.arange(0, 300, dtype="float64")
    profile = reference_profile(_young_shop("2024-01-01", ages), ["tenure_days"])
    assert profile["tenure_days"]["as_of"] == "2024-01-01"
    tonight = _young_shop("2024-03-31", ages + 90)
    assert psi(profile["tenure_days"], tonight["tenure_days"].to_numpy()) > 0.25
    row = drift_report(profile, tonight, 0.1, 0.25, as_of=dt.date(2024, 3, 31))[0]
    assert row["status"] == "ok"
    assert row["psi"] == pytest.approx(0.0, abs=1e-9)
    assert (row["aligned_days"], row["elapsed_days"]) == (90, 90)
    assert row["psi_as_measured"] > 0.25


def test_tenure_moving_more_than_the_calendar_allows_still_fails():
    ages = np.arange(0, 300, dtype="float64")
    profile = reference_profile(_young_shop("2024-01-01", ages), ["tenure_days"])
    # Ten days elapsed, but everyone looks 200 days older: a broken export.
    row = drift_report(
        profile, _young_shop("2024-01-11", ages + 200), 0.1, 0.25, as_of=dt.date(2024, 1, 11)
    )[0]
    assert row["status"] == "fail"
    # Younger than at the reference: the calendar never does that.
    younger = drift_report(
        profile, _young_shop("2024-03-31", ages / 3), 0.1, 0.25, as_of=dt.date(2024, 3, 31)
    )[0]
    assert younger["status"] == "fail"


def test_a_mature_shops_stable_tenure_stays_stable():
    ages = np.arange(0, 300, dtype="float64")
    profile = reference_profile(_young_shop("2024-01-01", ages), ["tenure_days"])
    row = drift_report(
        profile, _young_shop("2024-03-31", ages), 0.1, 0.25, as_of=dt.date(2024, 3, 31)
    )[0]
    assert (row["psi"], row["aligned_days"], row["status"]) == (0.0, 0, "ok")


def test_only_ages_are_aligned():
    frame = pd.DataFrame({"spend_365d": np.arange(300.0), "as_of": pd.Timestamp("2024-01-01")})
    profile = reference_profile(frame, ["spend_365d"])
    assert "as_of" not in profile["spend_365d"]
    tonight = pd.DataFrame({"spend_365d": np.arange(300.0) + 90})
    row = drift_report(profile, tonight, 0.1, 0.25, as_of=dt.date(2024, 3, 31))[0]
    assert row["status"] == "fail" and "aligned_days" not in row


def test_a_young_shop_gaining_customers_stretches_its_tenures_and_that_is_not_drift():
    # Steady arrivals since the data starts: 270 days of history at the reference, 360
    # tonight, the same share of customers in every period.
    rng = np.random.default_rng(0)
    reference = _young_shop("2024-01-01", rng.uniform(0, 270, 3000).round())
    tonight = _young_shop("2024-03-31", rng.uniform(0, 360, 3000).round())
    profile = reference_profile(reference, ["tenure_days"])
    row = drift_report(profile, tonight, 0.1, 0.25, as_of=dt.date(2024, 3, 31))[0]
    assert row["psi_as_measured"] > 0.25
    assert row["status"] == "ok"


def test_a_drift_policy_stops_the_run_on_the_worst_failed_feature_only():
    policy = DriftPolicy(warn_psi=0.1, fail_psi=0.25, ignore={"seasonal": "summer sale"})
    profile = {name: {"edges": [5.0], "shares": [0.5, 0.5, 0.0]} for name in ("a", "seasonal")}
    tonight = pd.DataFrame({"a": [1.0, 9.0] * 50, "seasonal": [1.0] * 90 + [9.0] * 10})
    report = policy.report(profile, tonight, as_of=dt.date(2024, 3, 31))
    assert [(r["feature"], r["status"]) for r in report] == [("seasonal", "warn"), ("a", "ok")]
    policy.check(report)
    with pytest.raises(DriftError, match="seasonal has PSI .* >= score.drift.fail_psi=0.25"):
        DriftPolicy(warn_psi=0.1, fail_psi=0.25).check(drift_report(profile, tonight, 0.1, 0.25))


def test_a_date_before_the_models_reference_says_the_model_is_from_later_data():
    policy = DriftPolicy(warn_psi=0.1, fail_psi=0.25)
    report = [{"feature": "tenure_days", "psi": 0.85, "status": "fail", "elapsed_days": -9}]
    with pytest.raises(DriftError, match="9 days before the model's reference snapshot"):
        policy.check(report)
