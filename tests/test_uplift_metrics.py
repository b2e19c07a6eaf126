"""Uplift metrics on hand-made campaigns whose curves, coefficients and budgets are worked
out by hand below (scikit-uplift's definitions)."""

from __future__ import annotations

import numpy as np
import pytest

from churn.uplift.metrics import (
    bootstrap_difference,
    budget_table,
    qini_coefficient,
    qini_curve,
    uplift_at_k,
    uplift_curve,
)

# Six customers, already in order of score. Contacted: 0, 2, 4; control: 1, 3, 5.
Y = np.array([1, 0, 1, 1, 0, 0])
W = np.array([1, 0, 1, 0, 1, 0])
U = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
# Targeting the first x:   x   = 1  2  3  4  5    6
#   contacted, outcomes:   N_t = 1  1  2  2  3    3;  Y_t = 1 1 2 2 2 2
#   control, outcomes:     N_c = 0  1  1  2  2    3;  Y_c = 0 0 0 1 1 1
# Qini = Y_t - Y_c N_t / N_c:    1  1  2  1  1/2  1
# uplift = (Y_t/N_t - Y_c/N_c) x: 1  2  3  2  5/6  2
QINI = [0, 1, 1, 2, 1, 0.5, 1]
UPLIFT = [0, 1, 2, 3, 2, 5 / 6, 2]


def test_the_qini_curve_counts_incremental_outcomes_scaled_to_the_contacted():
    x, q = qini_curve(Y, W, U)
    assert x.tolist() == [0, 1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose(q, QINI)


def test_the_uplift_curve_is_the_difference_of_rates_times_the_customers_targeted():
    x, u = uplift_curve(Y, W, U)
    assert x.tolist() == [0, 1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose(u, UPLIFT)


def test_tied_scores_make_one_point_of_the_curves():
    # Scores 0.9 0.9 | 0.7 0.7 0.7 | 0.1: points after 2, 5 and 6 customers.
    tied = np.array([0.9, 0.9, 0.7, 0.7, 0.7, 0.1])
    x, q = qini_curve(Y, W, tied)
    assert x.tolist() == [0, 2, 5, 6]
    np.testing.assert_allclose(q, [0, 1, 0.5, 1])
    _, u = uplift_curve(Y, W, tied)
    np.testing.assert_allclose(u, [0, 2, 5 / 6, 2])


def test_the_qini_coefficient_is_the_area_above_random_over_the_perfect_one():
    # Model: trapezoids of QINI, 0.5+1+1.5+1.5+0.75+0.75 = 6. Random line to (6, 1): 3.
    # Perfect: the 2 contacted with the outcome first, the 1 control with it last:
    # (0,0) (2,2) (5,2) (6,1), area 2+6+1.5 = 9.5. (6-3)/(9.5-3) = 6/13.
    assert qini_coefficient(Y, W, U) == pytest.approx(6 / 13)


def test_the_perfect_ranking_scores_1_a_constant_0_and_the_reverse_below_0():
    perfect = Y * W - Y * (1 - W)
    assert qini_coefficient(Y, W, perfect) == pytest.approx(1.0)
    assert qini_coefficient(Y, W, np.zeros(6)) == pytest.approx(0.0)
    assert qini_coefficient(Y, W, -perfect) < 0


def test_random_rankings_score_about_0():
    rng = np.random.default_rng(0)
    w = rng.integers(0, 2, 5000)
    y = (rng.random(5000) < 0.1 + 0.05 * w).astype(int)
    scores = [qini_coefficient(y, w, rng.random(5000)) for _ in range(20)]
    assert abs(np.mean(scores)) < 0.03


def test_uplift_at_k_overall_ranks_both_arms_together():
    assert uplift_at_k(Y, W, U, 0.5) == pytest.approx(1.0)  # top 3: 2/2 - 0/1
    assert uplift_at_k(Y, W, U, 0.9, "overall") == pytest.approx(1 / 6)  # top 5: 2/3 - 1/2
    assert uplift_at_k(Y, W, U, 1.0) == pytest.approx(1 / 3)  # everyone: the average effect


def test_uplift_at_k_by_group_takes_the_top_of_each_arm():
    # int(0.9 * 3) = 2 of each arm: contacted 0, 2 (2/2), control 1, 3 (1/2).
    assert uplift_at_k(Y, W, U, 0.9, "by_group") == pytest.approx(0.5)
    assert uplift_at_k(Y, W, U, 0.5, "by_group") == pytest.approx(1.0)  # rows 0 and 1


def test_uplift_at_k_breaks_ties_as_scikit_uplift_does():
    # All tied: the later row comes first, so the top contacted is row 1 (no outcome) and
    # the top control row 3 (outcome).
    y, w = np.array([1, 0, 0, 1]), np.array([1, 1, 0, 0])
    assert uplift_at_k(y, w, np.full(4, 0.5), 0.5, "by_group") == pytest.approx(-1.0)


def test_uplift_at_k_is_nan_when_the_top_holds_one_arm_only():
    assert np.isnan(uplift_at_k(Y, W, U, 0.2))  # the top 1 is contacted


@pytest.mark.parametrize(
    ("y", "w", "u", "k", "strategy", "message"),
    [
        (Y, W, U, 0.0, "overall", "k must be"),
        (Y, W, U, 1.5, "overall", "k must be"),
        (Y, W, U, 0.5, "best", "strategy"),
        (Y, np.ones(6), U, 0.5, "overall", "both contacted"),
        (Y * 2, W, U, 0.5, "overall", "only 0 and 1"),
        (Y, W, U[:5], 0.5, "overall", "same length"),
    ],
)
def test_wrong_inputs_are_refused(y, w, u, k, strategy, message):
    with pytest.raises(ValueError, match=message):
        uplift_at_k(y, w, u, k, strategy)


def _planted(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A campaign where contacting raises the outcome by 30 points for half the customers
    and not at all for the others, with the true effect as the score."""
    rng = np.random.default_rng(seed)
    w = rng.integers(0, 2, n)
    effect = np.where(rng.random(n) < 0.5, 0.3, 0.0)
    y = (rng.random(n) < 0.2 + effect * w).astype(int)
    return y, w, effect


def test_bootstrap_of_a_score_against_itself_is_zero():
    y, w, effect = _planted(400, 1)
    assert bootstrap_difference(y, w, effect, effect, n=20) == {
        "mean": 0.0,
        "low": 0.0,
        "high": 0.0,
    }


def test_bootstrap_puts_the_true_effect_above_the_random_line_repeatably():
    y, w, effect = _planted(400, 1)
    flat = np.zeros(400)
    first = bootstrap_difference(y, w, effect, flat, n=100, seed=3)
    assert first == bootstrap_difference(y, w, effect, flat, n=100, seed=3)
    assert first != bootstrap_difference(y, w, effect, flat, n=100, seed=4)
    assert 0 < first["low"] < qini_coefficient(y, w, effect) < first["high"]


# Ten customers; contacted: 0, 2, 4, 6, 8. y = kept, value = revenue over the horizon.
B_W = np.array([1, 0, 1, 0, 1, 0, 1, 0, 1, 0])
B_Y = np.array([1, 0, 1, 1, 0, 1, 1, 0, 0, 0])
B_UPLIFT = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
B_RISK = np.array([0.2, 0.3, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.1, 0.0])
B_VALUE = np.array([50, 0, 30, 20, 0, 10, 40, 0, 0, 0.0])


def test_budget_table_counts_customers_kept_and_revenue_by_each_way_of_choosing():
    rows = budget_table(B_Y, B_W, B_UPLIFT, B_RISK, B_VALUE, shares=(0.2, 0.5))
    got = {(r["share"], r["targeting"]): r for r in rows}
    assert [(r["share"], r["targeting"]) for r in rows] == [
        (0.2, "uplift"),
        (0.2, "risk"),
        (0.2, "random"),
        (0.5, "uplift"),
        (0.5, "risk"),
        (0.5, "random"),
    ]
    assert {r["customers"] for r in rows if r["share"] == 0.5} == {5}
    # 2 by uplift: rows 0 (contacted, kept, 50) and 1 (control, lost, 0): (1 - 0) x 2.
    assert got[0.2, "uplift"] == {
        "share": 0.2,
        "customers": 2,
        "targeting": "uplift",
        "contacted": 1,
        "control": 1,
        "kept": pytest.approx(2.0),
        "revenue": pytest.approx(100.0),
    }
    # 2 by risk: rows 2 (contacted, kept, 30) and 3 (control, kept, 20).
    assert got[0.2, "risk"]["kept"] == pytest.approx(0.0)
    assert got[0.2, "risk"]["revenue"] == pytest.approx(20.0)
    # At random: kept 3/5 contacted vs 2/5 control, revenue 24 vs 6 per customer.
    assert (got[0.2, "random"]["contacted"], got[0.2, "random"]["control"]) == (5, 5)
    assert got[0.2, "random"]["kept"] == pytest.approx(0.2 * 2)
    assert got[0.2, "random"]["revenue"] == pytest.approx(18 * 2)
    # 5 by uplift: rows 0-4, kept 2/3 vs 1/2, revenue 80/3 vs 10 per customer.
    assert got[0.5, "uplift"]["kept"] == pytest.approx(5 / 6)
    assert got[0.5, "uplift"]["revenue"] == pytest.approx(250 / 3)
    # 5 by risk: rows 2-6, kept 2/3 vs 2/2, revenue 70/3 vs 15.
    assert got[0.5, "risk"]["kept"] == pytest.approx(-5 / 3)
    assert got[0.5, "risk"]["revenue"] == pytest.approx(125 / 3)
    assert got[0.5, "random"]["kept"] == pytest.approx(1.0)


def test_budget_table_leaves_an_estimate_out_when_the_chosen_hold_one_arm():
    (by_uplift, *_) = budget_table(B_Y, B_W, B_UPLIFT, B_RISK, B_VALUE, shares=(0.1,))
    assert (by_uplift["contacted"], by_uplift["control"]) == (1, 0)
    assert by_uplift["kept"] is None and by_uplift["revenue"] is None


def test_budget_table_refuses_a_share_outside_0_1():
    with pytest.raises(ValueError, match="shares"):
        budget_table(B_Y, B_W, B_UPLIFT, B_RISK, B_VALUE, shares=(0.0,))
