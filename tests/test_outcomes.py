"""Outcomes of past lists: each customer's outcome windows, who counts as contacted, and the
figures with their intervals, on tiny hand-made histories."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from churn.outcomes.arms import arm_counts, assign_arms
from churn.outcomes.measure import campaign_effect, deciles, performance, realised
from churn.outcomes.stats import (
    MIN_ARM_FOR_MONEY,
    difference_of_means,
    difference_of_rates,
    rate,
)
from churn.outcomes.windows import customer_outcomes, label_window_end
from tests.conftest import connect_to, ingest_contact_log, make_transactions

AS_OF = dt.date(2024, 3, 31)


# --- intervals ----------------------------------------------------------------------------


def test_a_rate_has_wilsons_interval():
    # Wilson's interval of 3/10 at 95%: 0.1078 to 0.6032 (worked out from the formula).
    figures = rate(3, 10)
    assert figures["value"] == 0.3
    assert figures["low"] == pytest.approx(0.1078, abs=1e-4)
    assert figures["high"] == pytest.approx(0.6032, abs=1e-4)


def test_a_rate_of_no_rows_is_unknown():
    assert rate(0, 0) == {"value": None, "low": None, "high": None}


def test_the_difference_of_rates_has_newcombes_interval():
    # Newcombe (1998), table II, example (a): 56/70 - 48/80 = 0.2, interval 0.0524 to 0.3339.
    diff = difference_of_rates(56, 70, 48, 80)
    assert diff["difference"] == pytest.approx(0.2)
    assert diff["low"] == pytest.approx(0.0524, abs=1e-4)
    assert diff["high"] == pytest.approx(0.3339, abs=1e-4)


def test_the_difference_of_means_has_welchs_interval():
    # Two arms of MIN_ARM_FOR_MONEY: 0..99 + 2 against 0..99, so the difference is 2 and
    # Welch's interval is 2 -/+ t(0.975, df 198) x sqrt(2 x var/100), var = 841.67.
    b = np.arange(MIN_ARM_FOR_MONEY, dtype="float64")
    diff = difference_of_means(b + 2.0, b)
    half = 1.97202 * np.sqrt(2 * b.var(ddof=1) / MIN_ARM_FOR_MONEY)
    assert diff["difference"] == pytest.approx(2.0)
    assert diff["low"] == pytest.approx(2.0 - half, abs=1e-3)
    assert diff["high"] == pytest.approx(2.0 + half, abs=1e-3)


def test_means_without_spread_have_no_interval():
    diff = difference_of_means(np.zeros(MIN_ARM_FOR_MONEY), np.zeros(MIN_ARM_FOR_MONEY))
    assert diff == {"difference": 0.0, "low": None, "high": None}


def heavy_tailed_arms() -> tuple[np.ndarray, np.ndarray]:
    """300 contacted and 33 control customers with the same spending and no effect: most
    spend a few hundred, one in forty about a hundred thousand; eight of those big spenders
    fell in the contacted arm and, as happens to 33 customers about half the time, none in
    the control (as on Online Retail)."""
    ordinary = np.resize(np.array([0.0, 50.0, 120.0, 300.0, 800.0]), 292)
    big = np.linspace(90_000.0, 117_000.0, 8)
    contact = np.concatenate([ordinary, big])
    control = np.resize(np.array([0.0, 50.0, 120.0, 300.0, 800.0]), 33)
    return contact, control


def test_a_small_control_arm_gives_revenue_no_interval():
    contact, control = heavy_tailed_arms()
    # Welch's interval claims a gain where there is none...
    welch = stats.ttest_ind(contact, control, equal_var=False).confidence_interval(0.95)
    assert welch.low > 0
    # ...so below MIN_ARM_FOR_MONEY on either side none is given.
    diff = difference_of_means(contact, control)
    assert diff["difference"] == pytest.approx(contact.mean() - control.mean())
    assert diff["low"] is None and diff["high"] is None
    assert difference_of_means(control, contact)["low"] is None


def test_the_difference_of_means_is_the_same_on_rerun():
    rng = np.random.default_rng(7)
    a, b = rng.lognormal(5, 2, 300), rng.lognormal(5, 2, 120)
    assert difference_of_means(a, b) == difference_of_means(a.copy(), b.copy())


# --- arms ---------------------------------------------------------------------------------


def test_without_a_log_the_draw_is_the_arm():
    group = pd.Series(["contact", "control", "not_selected"])
    arm = assign_arms(group, pd.Series([None, None, None]), log_given=False)
    assert arm.tolist() == ["contact", "control", "not_selected"]


def test_with_a_log_the_log_says_who_was_reached():
    group = pd.Series(["contact", "contact", "contact", "control", "control", "not_selected"])
    logged = pd.Series(["contact", None, "control", "contact", None, "contact"])
    arm = assign_arms(group, logged, log_given=True)
    assert arm.tolist() == [
        "contact",
        "not_reached",
        "control",
        "control_contacted",
        "control",
        "contacted_outside",
    ]


def test_arm_counts_name_every_arm():
    counts = arm_counts(pd.Series(["contact", "contact", "control"]))
    assert counts["contact"] == 2 and counts["control"] == 1 and counts["not_reached"] == 0


# --- outcome windows -----------------------------------------------------------------------


def history() -> pd.DataFrame:
    """A: orders on day 5 after the list (responds, converts, stays); B: orders 30 days
    after (stays, converts, no response); C: no order after (churns), a refund inside;
    D: ordered the day after the window ends (churns); E: an order started before the
    list with a late line inside the window (not a new order: churns)."""
    return make_transactions(
        [
            ("A", "a1", "2024-03-01 10:00", 10.0),
            ("A", "a2", "2024-04-05 10:00", 25.0),
            ("B", "b1", "2024-03-02 10:00", 10.0),
            ("B", "b2", "2024-05-01 10:00", 40.0),
            ("C", "c1", "2024-03-03 10:00", 30.0),
            ("C", "rc1", "2024-04-10 10:00", -30.0),
            ("D", "d1", "2024-03-04 10:00", 10.0),
            ("D", "d2", "2024-06-30 10:00", 10.0),
            ("E", "e1", "2024-03-30 10:00", 10.0),
            ("E", "e1", "2024-04-02 10:00", 5.0),
        ]
    )


def outcomes_of(con, ids=("A", "B", "C", "D", "E"), contacts=False) -> pd.DataFrame:
    return customer_outcomes(
        con,
        pd.Series(list(ids)),
        AS_OF,
        horizon_days=90,
        response_days=14,
        contact_window_days=14,
        contacts=contacts,
    ).set_index("customer_id")


def test_the_label_window_ends_horizon_days_after_the_day_after():
    assert label_window_end(AS_OF, 90) == dt.date(2024, 6, 30)


def test_churn_response_conversion_and_revenue_after_the_list():
    out = outcomes_of(connect_to(history()))
    assert out["churned"].to_dict() == {"A": 0, "B": 0, "C": 1, "D": 1, "E": 1}
    assert out["responded"].to_dict() == {"A": 1, "B": 0, "C": 0, "D": 0, "E": 0}
    assert out["converted"].to_dict() == {"A": 1, "B": 1, "C": 0, "D": 0, "E": 0}
    assert out["revenue"].to_dict() == {"A": 25.0, "B": 40.0, "C": -30.0, "D": 0.0, "E": 5.0}


def test_without_a_log_everyone_is_contacted_the_day_after_the_list():
    out = outcomes_of(connect_to(history()))
    assert (out["contacted_at"] == pd.Timestamp("2024-04-01")).all()
    assert out["log_group"].isna().all()


def test_a_logged_contact_moves_the_response_window_to_the_contact():
    con = connect_to(history())
    # A contacted on April 6, the day after their order: it stays, but did not respond.
    ingest_contact_log(con, [("A", "2024-04-06 09:00", "spring", "contact")])
    out = outcomes_of(con, contacts=True)
    assert out.loc["A", "log_group"] == "contact"
    assert (out.loc["A", "churned"], out.loc["A", "responded"], out.loc["A", "converted"]) == (
        0,
        0,
        0,
    )
    # B, not in the log, takes the campaign's start.
    assert out.loc["B", "contacted_at"] == pd.Timestamp("2024-04-06 09:00")
    assert out.loc["B", "converted"] == 1


def test_a_contact_outside_the_window_belongs_to_no_list():
    con = connect_to(history())
    ingest_contact_log(con, [("B", "2024-05-20 09:00", "later", "contact")])
    out = outcomes_of(con, contacts=True)
    assert out["log_group"].isna().all()


def test_a_control_row_of_the_log_is_read_as_control():
    con = connect_to(history())
    ingest_contact_log(
        con,
        [
            ("A", "2024-04-02 09:00", "spring", "contact"),
            ("B", "2024-04-02 09:00", "spring", "holdout"),
        ],
    )
    out = outcomes_of(con, contacts=True)
    assert out.loc["A", "log_group"] == "contact" and out.loc["B", "log_group"] == "control"


# --- realised performance and the campaign's effect -----------------------------------------


def scored(n_contact: int, churn_contact: int, n_control: int, churn_control: int) -> pd.DataFrame:
    """A list of contacted and control customers with the given numbers of leavers."""
    rows = []
    for arm, n, leavers in (
        ("contact", n_contact, churn_contact),
        ("control", n_control, churn_control),
    ):
        for i in range(n):
            rows.append(
                {
                    "customer_id": f"{arm}{i}",
                    "arm": arm,
                    "churn_probability": 0.8 if i < leavers else 0.2,
                    "churned": int(i < leavers),
                    "responded": int(i >= leavers and i % 2 == 0),
                    "converted": int(i >= leavers),
                    "revenue": 0.0 if i < leavers else 50.0,
                    "risk_tier": "high" if i < leavers else "low",
                    "segment": "regular" if i % 2 else "vip",
                    "action": "reactivation",
                }
            )
    return pd.DataFrame(rows)


def test_realised_churn_comes_with_its_interval_and_metrics():
    figures = realised(scored(10, 3, 0, 0))
    assert figures["customers"] == 10 and figures["realised"] == 0.3
    assert figures["predicted"] == pytest.approx(0.38)
    assert figures["roc_auc"] == 1.0
    assert figures["brier"] == pytest.approx(0.04)


def test_roc_auc_is_unknown_with_one_class():
    assert realised(scored(4, 0, 0, 0))["roc_auc"] is None


def test_performance_is_checked_on_the_customers_not_contacted():
    frame = scored(10, 1, 20, 10)
    perf = performance(frame)
    assert perf["not_contacted"]["customers"] == 20
    assert perf["not_contacted"]["realised"] == 0.5
    assert perf["all"]["customers"] == 30
    assert [row["group"] for row in perf["by_tier"]] == ["high", "low"]


def test_deciles_put_the_highest_probabilities_first():
    p = pd.Series(np.linspace(0.0, 0.99, 20))
    d = deciles(p)
    assert d.iloc[-1] == "1" and d.iloc[0] == "10"
    assert d.value_counts().eq(2).all()


def test_the_effect_compares_contacted_with_control():
    effect = campaign_effect(scored(100, 20, 100, 40), cost_per_contact=2.0)
    churn = effect["metrics"][0]
    assert churn["metric"] == "churn_rate"
    assert (churn["contact"], churn["control"]) == (0.2, 0.4)
    assert churn["difference"] == pytest.approx(-0.2)
    assert churn["high"] < 0  # fewer leavers, clearly
    assert effect["incremental_customers"]["value"] == pytest.approx(20.0)
    # Revenue per customer: 80% x 50 against 60% x 50, times 100 contacted.
    assert effect["incremental_revenue"]["value"] == pytest.approx(1000.0)
    assert effect["cost"] == 200.0 and effect["return_on_spend"] == pytest.approx(5.0)


def test_an_effect_needs_a_control_group():
    assert campaign_effect(scored(10, 2, 0, 0), cost_per_contact=1.0) is None


def test_the_effect_is_broken_down_by_segment_and_action():
    effect = campaign_effect(scored(40, 10, 40, 20), cost_per_contact=1.0)
    assert [row["group"] for row in effect["by_segment"]] == ["regular", "vip"]
    assert effect["by_action"][0]["group"] == "reactivation"
    assert effect["by_action"][0]["contact"] == 40


def test_the_return_carries_the_revenues_interval_over_the_cost():
    effect = campaign_effect(scored(100, 20, 100, 40), cost_per_contact=2.0)
    revenue = effect["incremental_revenue"]
    assert effect["return_on_spend_low"] == pytest.approx(revenue["low"] / 200.0)
    assert effect["return_on_spend_high"] == pytest.approx(revenue["high"] / 200.0)
