"""Risk tiers, segments and reasons on tiny frames."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest

from churn.errors import ConfigError
from churn.scoring.selection import (
    SEGMENTS,
    SegmentRules,
    SelectionPolicy,
    assign_segments,
    empty_list_reason,
    expected_incremental_value,
    expected_value_at_risk,
    list_size,
    list_size_tradeoff,
    neutralise_formulas,
    risk_tier,
    select_at_risk,
)
from churn.stages.score import csv_dialect, for_value_alone

TIERS = {"high": 0.7, "medium": 0.4}


def test_risk_tier_bounds_are_inclusive():
    p = np.array([0.0, 0.39, 0.4, 0.69, 0.7, 1.0])
    assert list(risk_tier(p, TIERS)) == ["low", "low", "medium", "medium", "high", "high"]


def test_segments_first_matching_rule_wins():
    features = pd.DataFrame(
        {
            "tenure_days": [10, 400, 400, 400, 10],
            "spend_365d": [50.0, 900.0, 100.0, 100.0, 900.0],
            "days_since_last_order": [5, 200, 120, 20, 100],
        }
    )
    segments = assign_segments(
        features, new_max_tenure_days=90, dormant_min_days=90, vip_min_spend_365d=800.0
    )
    assert list(segments) == ["new", "vip", "dormant", "regular", "new"]


def test_segment_rules_make_the_top_spenders_of_the_population_vips():
    # spend_365d 100, 200, 300, 400: the 0.75 quantile is 325, so only the last is a VIP.
    features = pd.DataFrame(
        {
            "tenure_days": [400, 400, 400, 400],
            "spend_365d": [100.0, 200.0, 300.0, 400.0],
            "days_since_last_order": [5, 200, 20, 20],
        }
    )
    rules = SegmentRules(new_max_tenure_days=90, dormant_min_days=90, vip_spend_quantile=0.75)
    assert rules.vip_min_spend(features) == 325.0
    assert list(rules.assign(features)) == ["regular", "dormant", "regular", "vip"]
    assert set(rules.assign(features)) <= set(SEGMENTS)


def test_a_selection_policy_lists_its_tiers_and_says_why_its_list_is_empty():
    policy = SelectionPolicy(
        mode="tiers",
        tiers=TIERS,
        at_risk_tiers=("high",),
        top_k=None,
        budget=None,
        cost_per_contact=1.0,
    )
    assert list(policy.tier(np.array([0.2, 0.5, 0.9]))) == ["low", "medium", "high"]
    assert policy.empty_reason(wanted=0, highest_probability=0.5)["code"] == "no_one_in_tiers"


def test_formula_cells_get_an_apostrophe_and_numbers_stay_numbers():
    frame = pd.DataFrame(
        {
            "customer_id": ["=HYPERLINK(1)", "+1", "-2", "@SUM", " =1+1", "x=1", "C1"],
            "spend": [-5.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    out = neutralise_formulas(frame)
    assert out["customer_id"].tolist() == [
        "'=HYPERLINK(1)",
        "'+1",
        "'-2",
        "'@SUM",
        "' =1+1",
        "x=1",
        "C1",
    ]
    assert out["spend"].tolist() == [-5.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


def test_value_at_risk_is_probability_times_trailing_spend_floored_at_zero():
    assert expected_value_at_risk(np.array([0.5, 0.9]), np.array([200.0, -30.0])).tolist() == [
        100.0,
        0.0,
    ]


SCORES = pd.DataFrame(
    {
        "customer_id": ["a", "b", "c", "d"],
        "risk_tier": ["high", "low", "medium", "high"],
        "expected_value_at_risk": [10.0, 50.0, 30.0, 30.0],
    }
)


def test_tier_selection_sorts_by_value_at_risk_then_id():
    chosen = select_at_risk(SCORES, "tiers", ["high", "medium"])
    assert chosen["customer_id"].tolist() == ["c", "d", "a"]


def test_top_k_takes_the_most_value_at_risk_whatever_the_tier():
    assert select_at_risk(SCORES, "top_k", [], top_k=2)["customer_id"].tolist() == ["b", "c"]


def test_budget_buys_whole_contacts():
    chosen = select_at_risk(SCORES, "budget", [], budget=7.5, cost_per_contact=2.5)
    assert chosen["customer_id"].tolist() == ["b", "c", "d"]


def test_an_unknown_selection_is_a_config_error():
    with pytest.raises(ConfigError, match="score.selection"):
        select_at_risk(SCORES, "random", [])


def test_control_characters_inside_a_cell_become_replacement_characters():
    frame = pd.DataFrame({"customer_id": ["\r=1+1", "a\nb", "nul\x00", "tab\tx", "ok"]})
    assert neutralise_formulas(frame)["customer_id"].tolist() == [
        "\ufffd=1+1",
        "a\ufffdb",
        "nul\ufffd",
        "tab\ufffdx",
        "ok",
    ]


@pytest.mark.parametrize(("sep", "decimal"), [(",", "."), (";", ",")])
def test_a_carriage_return_cannot_split_a_row_or_start_a_formula(tmp_path, sep, decimal):
    frame = pd.DataFrame({"customer_id": ["\r=1+1", "C2;x", "\n@SUM(A1)"], "p": [0.5, 0.25, 0.125]})
    path = tmp_path / "list.csv"
    neutralise_formulas(frame).to_csv(path, index=False, sep=sep, decimal=decimal)
    raw = path.read_bytes()
    assert b"\r" not in raw and raw.count(b"\n") == 4
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter=sep))
    assert len(rows) == 4
    assert not any(cell.lstrip().startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    assert pd.read_csv(path, sep=sep, decimal=decimal)["p"].tolist() == [0.5, 0.25, 0.125]


def test_a_misspelled_tier_name_is_a_config_error_not_an_empty_list():
    with pytest.raises(ConfigError, match=r"unknown tiers \['hihg'\]"):
        select_at_risk(SCORES, "tiers", ["hihg", "medium"], known_tiers=["high", "medium", "low"])


def test_an_empty_list_says_why():
    assert empty_list_reason("top_k", 0, 0, None, 1.0, 0.9, None) == {"code": "top_k_zero"}
    assert empty_list_reason("budget", 0, None, 0.5, 1.0, 0.9, None)["code"] == ("budget_too_small")
    assert empty_list_reason("tiers", 0, 10, None, 1.0, 0.38, 0.4) == {
        "code": "no_one_in_tiers",
        "highest_probability": 0.38,
        "lowest_listed_bound": 0.4,
    }
    assert empty_list_reason("top_k", 8, 8, None, 1.0, 0.9, None) == {
        "code": "all_left_out",
        "customers": 8,
    }


def _ranked_scores(values: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(len(values))],
            "risk_tier": ["low"] * len(values),
            "expected_value_at_risk": values,
        }
    )


def test_share_mode_lists_the_share_of_the_population_rounded_up():
    scores = _ranked_scores([5.0, 4.0, 3.0, 2.0, 1.0])
    listed = select_at_risk(scores, "share", [], share=0.25)
    # ceil(0.25 * 5) = 2: the two with most value at risk.
    assert listed["customer_id"].tolist() == ["c0", "c1"]


def test_share_mode_counts_the_population_scored_not_the_rows_left():
    scores = _ranked_scores([5.0, 4.0, 3.0])
    listed = select_at_risk(scores, "share", [], share=0.1, population=30)
    assert len(listed) == 3


def test_list_size_rounds_up_without_float_noise():
    assert list_size(0.1, 50) == 5
    assert list_size(0.01, 50) == 1
    assert list_size(0.0, 50) == 0


def test_tradeoff_sums_the_probabilities_of_each_list_prefix():
    rows = list_size_tradeoff(
        np.array([0.9, 0.8, 0.5, 0.1]),
        np.array([9.0, 4.0, 5.0, 2.0]),
        population=4,
        chosen=2,
        shares=(0.25, 0.5, 1.0),
    )
    assert [r["customers"] for r in rows] == [1, 2, 4]
    assert [r["expected_leavers"] for r in rows] == [0.9, 1.7, 2.3]
    assert [r["would_stay"] for r in rows] == [0.1, 0.3, 1.7]
    assert rows[1]["leavers_reached_share"] == round(1.7 / 2.3, 4)
    assert [r["value_reached_share"] for r in rows] == [0.45, 0.65, 1.0]
    assert [r["chosen"] for r in rows] == [False, True, False]


def test_tradeoff_adds_the_chosen_size_when_no_share_gives_it():
    rows = list_size_tradeoff(
        np.array([0.5, 0.5, 0.5]), np.ones(3), population=3, chosen=2, shares=(1.0,)
    )
    assert [(r["customers"], r["share"], r["chosen"]) for r in rows] == [
        (2, None, True),
        (3, 1.0, False),
    ]


def test_an_empty_share_list_says_the_share_is_zero():
    assert empty_list_reason("share", 0, None, None, 1.0, 0.9, None, share=0.0) == {
        "code": "share_zero"
    }


def test_the_csv_separators_follow_the_language_unless_set():
    assert csv_dialect(None, None, "en") == (",", ".")
    assert csv_dialect(None, None, "it") == (";", ",")
    assert csv_dialect("\t", None, "it") == ("\t", ",")
    # A comma separator set for Italian keeps the decimal point.
    assert csv_dialect(",", None, "it") == (",", ".")


def test_a_low_risk_customer_without_a_behaviour_is_listed_for_their_value():
    reason = pd.Series(["No single behaviour stands out", "No single behaviour stands out"])
    out = for_value_alone(reason, pd.Series(["none", "none"]), pd.Series(["low", "high"]), "en")
    assert out[0].startswith("On the list for the value they bring")
    assert out[1] == "No single behaviour stands out"


UPLIFTS = pd.DataFrame(
    {
        "customer_id": ["a", "b", "c", "d", "e"],
        "risk_tier": ["high", "high", "medium", "low", "high"],
        "expected_value_at_risk": [90.0, 80.0, 70.0, 60.0, 50.0],
        "uplift": [0.10, -0.05, 0.20, 0.05, 0.0],
        # uplift x spend: a 100 x 0.1, c 50 x 0.2, d 400 x 0.05
        "expected_incremental_value": [10.0, -5.0, 10.0, 20.0, 0.0],
    }
)


def test_expected_incremental_value_is_uplift_times_spend_floored_at_zero():
    value = expected_incremental_value(np.array([0.1, 0.2, 0.3]), np.array([100.0, -50.0, 10.0]))
    assert value.tolist() == pytest.approx([10.0, 0.0, 3.0])


def test_uplift_selection_ranks_by_incremental_value_and_never_lists_a_negative_uplift():
    chosen = select_at_risk(UPLIFTS, "uplift", [], share=1.0)
    # d first; a and c tie at 10 and go by id; b (negative) and e (zero) never.
    assert chosen["customer_id"].tolist() == ["d", "a", "c"]


def test_uplift_selection_is_cut_by_the_budget_when_one_is_set():
    chosen = select_at_risk(UPLIFTS, "uplift", [], share=1.0, budget=2.0, cost_per_contact=1.0)
    assert chosen["customer_id"].tolist() == ["d", "a"]


def test_uplift_selection_takes_its_share_of_the_population():
    chosen = select_at_risk(UPLIFTS, "uplift", [], share=0.2, population=10)
    assert chosen["customer_id"].tolist() == ["d", "a"]
