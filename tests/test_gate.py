"""The promotion gate's verdict from the models' scores: a pure function, no MLflow."""

from __future__ import annotations

import pytest

from churn.modeling.gate import (
    MODEL,
    GatePolicy,
    best_baselines,
    promotion_verdict,
    same_data_source,
)


def scores(model=(0.80, 0.15), recency=0.70, logistic=(0.75, 0.18), bgnbd=(0.74, 0.17)):
    """Mean ROC AUC and Brier per model over the test origins, as train.py records them;
    recency ranks customers and has no Brier score."""
    return {
        MODEL: {"roc_auc": model[0], "brier": model[1]},
        "recency": {"roc_auc": recency, "brier": None},
        "logistic": {"roc_auc": logistic[0], "brier": logistic[1]},
        "bgnbd": {"roc_auc": bgnbd[0], "brier": bgnbd[1]},
    }


def test_the_best_baseline_is_chosen_per_metric():
    best = best_baselines(scores(recency=0.78, logistic=(0.75, 0.18), bgnbd=(0.74, 0.17)))
    assert best == {"roc_auc": ("recency", 0.78), "brier": ("bgnbd", 0.17)}


def test_a_model_that_beats_every_baseline_becomes_the_first_champion():
    verdict = promotion_verdict(scores(), n_origins=3)
    assert (verdict.passed, verdict.alias, verdict.forced) == (True, "champion", False)
    assert verdict.reasons[:4] == (
        "ok: ROC AUC 0.8000 averaged over 3 test origins >= floor 0.6500",
        "ok: ROC AUC 0.8000 >= the best baseline's, logistic (0.7500)",
        "ok: Brier 0.1500 <= the best baseline's, bgnbd (0.1700; lower is better)",
        "ok: no champion yet: nothing to compare with",
    )
    assert verdict.outcome == "the new version is @champion: scoring uses it from now on"
    assert verdict.as_dict()["best_baseline"] == {
        "roc_auc": {"name": "logistic", "value": 0.75},
        "brier": {"name": "bgnbd", "value": 0.17},
    }


def test_a_model_losing_to_the_best_baseline_in_roc_auc_is_refused():
    # Above the floor and above recency: the old gate passed it.
    verdict = promotion_verdict(scores(model=(0.74, 0.15), logistic=(0.76, 0.18)))
    assert (verdict.passed, verdict.alias) == (False, "challenger")
    assert "FAILED: ROC AUC 0.7400 < the best baseline's, logistic (0.7600)" in verdict.reasons


def test_a_model_losing_to_the_best_baseline_in_brier_is_refused():
    verdict = promotion_verdict(scores(model=(0.80, 0.175)))
    assert verdict.alias == "challenger"
    assert (
        "FAILED: Brier 0.1750 > the best baseline's, bgnbd (0.1700; lower is better)"
        in verdict.reasons
    )


def test_a_tie_with_the_best_baseline_is_as_good_as_it():
    assert promotion_verdict(scores(model=(0.75, 0.17))).passed


def test_the_margins_ask_for_a_clear_win():
    tight = scores(model=(0.755, 0.168))
    assert promotion_verdict(tight).passed
    refused = promotion_verdict(tight, policy=GatePolicy(baseline_margin_roc_auc=0.01))
    assert "FAILED: ROC AUC 0.7550 < the best baseline's, logistic (0.7500 + margin 0.0100)" in (
        refused.reasons
    )
    assert not promotion_verdict(tight, policy=GatePolicy(baseline_margin_brier=0.005)).passed


def test_without_beat_baselines_only_the_floor_and_the_champion_count():
    verdict = promotion_verdict(scores(model=(0.70, 0.25)), policy=GatePolicy(beat_baselines=False))
    assert verdict.passed
    assert not any("baseline" in r for r in verdict.reasons)


def test_losing_to_a_baseline_with_no_champion_says_what_to_do():
    verdict = promotion_verdict(scores(model=(0.74, 0.19)))
    assert verdict.alias == "challenger"
    assert verdict.outcome.startswith(
        "on this shop's data the model is no better than the bgnbd and logistic baselines; "
        "it stays @challenger and there is no @champion yet, so scoring has no model to use "
        "(exit 5)"
    )
    assert "gate.force=true" in verdict.outcome and "model.alias=challenger" in verdict.outcome
    assert verdict.reasons[-1] == f"outcome: {verdict.outcome}"
    assert verdict.as_dict()["outcome"] == verdict.outcome


def test_losing_to_a_baseline_with_a_champion_keeps_the_champion():
    verdict = promotion_verdict(
        scores(model=(0.74, 0.15)),
        champion_roc_auc=0.73,
        candidate_roc_auc_vs_champion=0.74,
        champion_label="champion v3",
    )
    assert verdict.alias == "challenger"
    assert "no better than the logistic baseline" in verdict.outcome
    assert "scoring keeps champion v3" in verdict.outcome


def test_the_floor_is_on_the_mean_over_origins():
    verdict = promotion_verdict(
        scores(model=(0.60, 0.15), recency=0.5, logistic=(0.55, 0.2), bgnbd=(0.5, 0.2))
    )
    assert (verdict.passed, verdict.alias) == (False, "challenger")
    assert verdict.reasons[0] == "FAILED: ROC AUC 0.6000 on the test snapshot < floor 0.6500"


def test_slightly_worse_than_the_champion_within_tolerance_passes():
    verdict = promotion_verdict(
        scores(),
        champion_roc_auc=0.800,
        candidate_roc_auc_vs_champion=0.798,
        policy=GatePolicy(tolerance=0.005),
    )
    assert verdict.alias == "champion"
    assert "-0.0020 on the same rows (within the tolerance of 0.0050)" in verdict.reasons[3]


def test_worse_than_the_champion_beyond_tolerance_stays_challenger():
    verdict = promotion_verdict(
        scores(),
        champion_roc_auc=0.82,
        candidate_roc_auc_vs_champion=0.80,
        champion_label="champion v3",
    )
    assert verdict.alias == "challenger"
    assert verdict.reasons[3].startswith("FAILED: champion v3 scores 0.8200")
    assert "scoring keeps champion v3" in verdict.outcome


def test_force_promotes_a_failed_model_and_says_so():
    verdict = promotion_verdict(scores(model=(0.60, 0.3)), policy=GatePolicy(force=True))
    assert (verdict.passed, verdict.alias, verdict.forced) == (False, "champion", True)
    assert verdict.reasons[-2].startswith("forced:")
    assert verdict.outcome.endswith("(forced)")
    assert verdict.as_dict()["verdict"] == "failed"


def test_force_on_a_passing_model_is_not_recorded_as_forced():
    assert promotion_verdict(scores(), policy=GatePolicy(force=True)).forced is False


def test_notes_are_kept_in_the_reasons():
    verdict = promotion_verdict(
        scores(), champion_roc_auc=0.8, notes=["champion saw later outcomes"]
    )
    assert "note: champion saw later outcomes" in verdict.reasons


def test_an_unusable_champion_does_not_hold_back_a_model_passing_floor_and_baselines():
    verdict = promotion_verdict(
        scores(), champion_label="champion v1", champion_unusable="its model files are gone"
    )
    assert (verdict.passed, verdict.alias, verdict.forced) == (True, "champion", False)
    assert (
        "skipped: champion v1 is unusable (its model files are gone): not compared; the new "
        "model is judged on the floor and the baselines only"
    ) in verdict.reasons
    assert verdict.as_dict()["champion_unusable"] == "its model files are gone"


def test_with_an_unusable_champion_a_model_below_the_floor_stays_challenger():
    verdict = promotion_verdict(scores(model=(0.6, 0.15)), champion_unusable="it cannot be loaded")
    assert (verdict.passed, verdict.alias) == (False, "challenger")


def test_another_shops_champion_is_never_replaced_silently():
    verdict = promotion_verdict(
        scores(),
        champion_label="champion v1",
        champion_not_comparable="it was trained on demo.parquet, this run on shop.csv",
    )
    assert (verdict.passed, verdict.alias) == (False, "challenger")
    assert (
        "FAILED: champion v1 is not comparable: it was trained on demo.parquet, this run on "
        "shop.csv" in verdict.reasons
    )
    assert "tracking.registered_model=NAME" in verdict.outcome
    forced = promotion_verdict(
        scores(), champion_not_comparable="another shop", policy=GatePolicy(force=True)
    )
    assert forced.alias == "champion" and forced.forced


@pytest.mark.parametrize(
    ("recorded", "current", "same"),
    [
        ("data/demo/transactions.parquet", "data/demo/transactions.parquet", True),
        ("SELECT *\n  FROM orders", "SELECT * FROM orders", True),
        ("data/demo/transactions.parquet", "shop.csv", False),
    ],
)
def test_data_sources_compare_as_configured(recorded, current, same):
    assert same_data_source(recorded, current) is same
