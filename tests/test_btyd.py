"""BG/NBD: the fit reproduces the published CDNOW estimates; the predictions behave."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.features.btyd import (
    BetaGeoParams,
    expected_purchases,
    fit_bgnbd,
    log_likelihood,
    p_no_purchase,
)

# CDNOW sample: 2,357 customers, time in weeks (as shipped with the lifetimes package).
CDNOW = pd.read_csv(Path(__file__).parent / "data" / "cdnow_customers_summary.csv")
# Fader, Hardie and Lee (2005), "Counting your customers the easy way", table in section 5.
PUBLISHED = BetaGeoParams(r=0.243, alpha=4.414, a=0.793, b=2.426)


@pytest.fixture(scope="module")
def fitted() -> BetaGeoParams:
    return fit_bgnbd(CDNOW["frequency"], CDNOW["recency"], CDNOW["T"])


def test_fit_reproduces_the_published_cdnow_estimates(fitted):
    for name in ("r", "alpha", "a", "b"):
        assert getattr(fitted, name) == pytest.approx(getattr(PUBLISHED, name), rel=0.01)


def test_log_likelihood_matches_the_published_value(fitted):
    assert log_likelihood(fitted, CDNOW["frequency"], CDNOW["recency"], CDNOW["T"]) == (
        pytest.approx(-9582.4, abs=0.5)
    )


def test_expected_purchases_match_the_paper_example():
    # The paper's example: x=2, t_x=30.43, T=38.86 expects 1.226 purchases in 39 weeks.
    value = expected_purchases(PUBLISHED, np.array([2]), np.array([30.43]), np.array([38.86]), 39)
    assert value[0] == pytest.approx(1.226, abs=0.01)


def test_no_purchase_probability_is_one_over_an_empty_window_and_falls_with_time():
    x, t_x, T = np.array([3.0]), np.array([20.0]), np.array([30.0])
    assert p_no_purchase(PUBLISHED, x, t_x, T, 0.0)[0] == pytest.approx(1.0)
    values = [p_no_purchase(PUBLISHED, x, t_x, T, t)[0] for t in (4, 12, 52)]
    assert values[0] > values[1] > values[2] > 0


def test_a_long_silence_makes_no_purchase_likelier():
    x, T = np.array([5.0, 5.0]), np.array([40.0, 40.0])
    recent, silent = p_no_purchase(PUBLISHED, x, np.array([39.0, 10.0]), T, 12)
    assert silent > recent


def test_one_time_buyers_are_not_certain_to_buy():
    # "Probability alive" is 1 for x = 0; the no-purchase probability is not 0.
    p = p_no_purchase(PUBLISHED, np.array([0.0]), np.array([0.0]), np.array([30.0]), 12)[0]
    assert 0.5 < p < 1.0


def test_analytic_gradient_matches_finite_differences():
    from scipy.optimize import approx_fprime

    from churn.features.btyd import _log_likelihood, _log_likelihood_and_gradient

    x, t_x, T = (CDNOW[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    for point in (np.log([0.243, 4.414, 0.793, 2.426]), np.log([1.5, 20.0, 0.5, 0.8])):
        _, analytic = _log_likelihood_and_gradient(point, x, t_x, T)
        numeric = approx_fprime(point, lambda p: _log_likelihood(p, x, t_x, T), 1e-6)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-3)


def test_the_summary_rows_order_does_not_change_the_btyd_features():
    from churn.features.query import btyd_features

    summary = pd.DataFrame(
        {
            "as_of": pd.to_datetime(["2024-01-31"] * 4 + ["2024-02-29"] * 2),
            "customer_id": ["a", "b", "c", "d", "a", "b"],
            "x": [0, 2, 5, 1, 1, 2],
            "t_x": [0, 40, 300, 10, 20, 40],
            "age": [30, 200, 365, 90, 59, 229],
        }
    )
    shuffled = summary.sample(frac=1, random_state=3)
    pd.testing.assert_frame_equal(btyd_features(shuffled, 30), btyd_features(summary, 30))


def test_rows_are_in_key_order_by_date_then_customer():
    from churn.features.query import _in_key_order

    dates = pd.to_datetime(["2024-01-31", "2024-01-31", "2024-02-29"])
    assert _in_key_order(pd.DataFrame({"as_of": dates, "customer_id": ["a", "b", "a"]}))
    assert not _in_key_order(pd.DataFrame({"as_of": dates, "customer_id": ["b", "a", "a"]}))
