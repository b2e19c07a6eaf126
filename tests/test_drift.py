"""Population stability index against a training reference."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from churn.drift import drift_report, psi, reference_profile


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
