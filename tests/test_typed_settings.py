"""The typed settings a stage builds from its config once, at its edge."""

from __future__ import annotations

from churn.modeling.gate import GatePolicy
from churn.scoring.drift import DriftPolicy
from churn.scoring.selection import SegmentRules
from churn.stages.typed_settings import (
    drift_policy,
    feature_settings,
    gate_policy,
    segment_rules,
    selection_policy,
)
from tests.conftest import compose_config


def test_train_settings_are_read_from_their_config_groups():
    cfg = compose_config(
        "train",
        ["gate.force=true", "score.segments.vip_spend_quantile=0.8", "label.horizon_days=60"],
    )
    assert gate_policy(cfg) == GatePolicy(min_roc_auc=0.65, tolerance=0.005, force=True)
    assert segment_rules(cfg) == SegmentRules(
        new_max_tenure_days=90, dormant_min_days=90, vip_spend_quantile=0.8
    )
    assert feature_settings(cfg).active_lookback_days == cfg.label.active_lookback_days


def test_the_btyd_horizon_is_the_label_horizon_when_the_family_is_on():
    on = compose_config("train", ["label.horizon_days=60", "features.btyd.enabled=true"])
    off = compose_config("train", ["label.horizon_days=60", "features.btyd.enabled=false"])
    assert feature_settings(on).btyd_horizon_days == 60
    assert feature_settings(off).btyd_horizon_days is None


def test_an_ignored_drift_feature_carries_the_reason_given():
    cfg = compose_config(
        "score",
        [
            "score.drift.fail_psi=null",
            "score.drift.ignore=[tenure_days]",
            "score.drift.ignore_reason='the shop opened in 2024'",
        ],
    )
    assert drift_policy(cfg) == DriftPolicy(
        warn_psi=0.1,
        fail_psi=None,
        ignore={"tenure_days": "the shop opened in 2024 (score.drift.ignore)"},
    )


def test_the_selection_policy_reads_the_tiers_as_numbers():
    cfg = compose_config("score", ["score.selection=budget", "score.budget=500"])
    policy = selection_policy(cfg)
    assert (policy.mode, policy.budget) == ("budget", 500.0)
    assert all(isinstance(bound, float) for bound in policy.tiers.values())
