"""The typed settings the domain code takes, built from a stage's config at its edge.

Each stage's ``run(cfg)`` calls these once; below it, functions take
:class:`~churn.scoring.selection.SegmentRules`, :class:`~churn.modeling.gate.GatePolicy`,
:class:`~churn.scoring.drift.DriftPolicy`,
:class:`~churn.scoring.selection.SelectionPolicy` or
:class:`~churn.modeling.model.FeatureSettings`, never the config. The config's values are
checked before (:func:`churn.settings.validate_settings`).
"""

from __future__ import annotations

from omegaconf import DictConfig

from churn.modeling.gate import GatePolicy
from churn.modeling.model import FeatureSettings
from churn.scoring.actions import ActionTable
from churn.scoring.control import ControlPolicy
from churn.scoring.drift import DriftPolicy
from churn.scoring.selection import SegmentRules, SelectionPolicy


def feature_settings(cfg: DictConfig) -> FeatureSettings:
    """``features.*`` and ``label.active_lookback_days``: how the feature table is built
    (the BG/NBD features over ``label.horizon_days`` when ``features.btyd.enabled``)."""
    return FeatureSettings(
        windows=tuple(int(w) for w in cfg.features.windows),
        active_lookback_days=int(cfg.label.active_lookback_days),
        families=tuple(str(f) for f in cfg.features.families),
        btyd_horizon_days=int(cfg.label.horizon_days) if cfg.features.btyd.enabled else None,
    )


def segment_rules(cfg: DictConfig) -> SegmentRules:
    """``score.segments.*``."""
    segments = cfg.score.segments
    return SegmentRules(
        new_max_tenure_days=int(segments.new_max_tenure_days),
        dormant_min_days=int(segments.dormant_min_days),
        vip_spend_quantile=float(segments.vip_spend_quantile),
    )


def gate_policy(cfg: DictConfig) -> GatePolicy:
    """``gate.*``."""
    gate = cfg.gate
    return GatePolicy(
        min_roc_auc=float(gate.min_roc_auc),
        tolerance=float(gate.tolerance),
        beat_baselines=bool(gate.beat_baselines),
        baseline_margin_roc_auc=float(gate.baseline_margin_roc_auc),
        baseline_margin_brier=float(gate.baseline_margin_brier),
        force=bool(gate.force),
    )


def drift_policy(cfg: DictConfig) -> DriftPolicy:
    """``score.drift.*``; a feature in ``ignore`` carries ``ignore_reason`` (or says it
    was listed)."""
    drift = cfg.score.drift
    why = drift.get("ignore_reason")
    reason = f"{why} (score.drift.ignore)" if why else "listed in score.drift.ignore"
    fail_psi = drift.fail_psi
    return DriftPolicy(
        warn_psi=float(drift.warn_psi),
        fail_psi=None if fail_psi is None else float(fail_psi),
        ignore=dict.fromkeys(map(str, drift.get("ignore") or []), reason),
    )


def selection_policy(cfg: DictConfig) -> SelectionPolicy:
    """``score.selection``, ``score.tiers`` and what each selection mode reads."""
    score = cfg.score
    return SelectionPolicy(
        mode=str(score.selection),
        tiers={str(k): float(v) for k, v in score.tiers.items()},
        at_risk_tiers=tuple(str(t) for t in score.at_risk_tiers),
        top_k=None if score.top_k is None else int(score.top_k),
        budget=None if score.budget is None else float(score.budget),
        cost_per_contact=float(score.cost_per_contact),
        share=None if score.get("share") is None else float(score.share),
    )


def action_table(cfg: DictConfig) -> ActionTable:
    """``actions.*``: the cause of each theme and the action per segment and theme."""
    return ActionTable.from_config(cfg.actions)


def control_policy(cfg: DictConfig) -> ControlPolicy:
    """``score.control_fraction`` and ``score.control_salt``."""
    return ControlPolicy(
        fraction=float(cfg.score.control_fraction), salt=str(cfg.score.control_salt)
    )
