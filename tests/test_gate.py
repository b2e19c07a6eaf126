"""The promotion gate's verdict from test-snapshot numbers."""

from __future__ import annotations

from churn.gate import promotion_verdict


def test_first_model_above_the_floor_and_recency_becomes_champion():
    verdict = promotion_verdict(0.80, 0.75, None, min_roc_auc=0.65)
    assert (verdict.passed, verdict.alias, verdict.forced) == (True, "champion", False)
    assert "no champion yet" in verdict.reasons[-1]


def test_model_below_the_floor_stays_challenger():
    verdict = promotion_verdict(0.60, 0.55, None, min_roc_auc=0.65)
    assert (verdict.passed, verdict.alias) == (False, "challenger")
    assert verdict.reasons[0].startswith("FAILED: test ROC AUC 0.6000 < floor 0.6500")


def test_model_not_beating_recency_stays_challenger():
    verdict = promotion_verdict(0.70, 0.70, None, min_roc_auc=0.65)
    assert verdict.alias == "challenger"
    assert "does not beat the recency baseline (0.7000)" in verdict.reasons[1]


def test_slightly_worse_than_the_champion_within_tolerance_passes():
    verdict = promotion_verdict(0.798, 0.70, 0.800, tolerance=0.005)
    assert verdict.alias == "champion"
    assert "-0.0020 (within the tolerance of 0.0050)" in verdict.reasons[2]


def test_worse_than_the_champion_beyond_tolerance_stays_challenger():
    verdict = promotion_verdict(0.79, 0.70, 0.80, tolerance=0.005, champion_label="champion v3")
    assert verdict.alias == "challenger"
    assert verdict.reasons[2].startswith("FAILED: champion v3 scores 0.8000")


def test_force_promotes_a_failed_model_and_says_so():
    verdict = promotion_verdict(0.60, 0.70, 0.80, force=True)
    assert (verdict.passed, verdict.alias, verdict.forced) == (False, "champion", True)
    assert verdict.reasons[-1].startswith("forced:")
    assert verdict.as_dict()["verdict"] == "failed"


def test_force_on_a_passing_model_is_not_recorded_as_forced():
    assert promotion_verdict(0.9, 0.7, None, force=True).forced is False


def test_notes_are_appended_to_the_reasons():
    verdict = promotion_verdict(0.9, 0.7, 0.8, notes=["champion saw later outcomes"])
    assert verdict.reasons[-1] == "note: champion saw later outcomes"


def test_an_unusable_champion_does_not_hold_back_a_model_passing_floor_and_recency():
    verdict = promotion_verdict(
        0.80,
        0.75,
        None,
        champion_label="champion v1",
        champion_unusable="its model files are gone",
    )
    assert (verdict.passed, verdict.alias, verdict.forced) == (True, "champion", False)
    assert verdict.reasons[2] == (
        "skipped: champion v1 is unusable (its model files are gone): not compared; the new "
        "model is judged on the floor and the recency baseline only"
    )
    assert verdict.as_dict()["champion_unusable"] == "its model files are gone"


def test_with_an_unusable_champion_a_model_below_the_floor_stays_challenger():
    verdict = promotion_verdict(0.60, 0.55, None, champion_unusable="it cannot be loaded")
    assert (verdict.passed, verdict.alias) == (False, "challenger")
