"""Promotion gate: does a newly trained model replace the current champion?

A pure decision from numbers the training stage measured: each model's mean ROC AUC and
Brier score over the test origins (the new model under :data:`MODEL`, each baseline
under its own name), and the current champion re-scored on the newest test snapshot.
:mod:`churn.tracking.store` applies the resulting alias.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CHAMPION = "champion"
CHALLENGER = "challenger"
# The new model's entry in the scores the gate reads; every other entry is a baseline.
MODEL = "model"

Scores = Mapping[str, Mapping[str, float | None]]


@dataclass(frozen=True)
class GateVerdict:
    """Outcome of the gate: ``passed`` is the checks' verdict, ``alias`` the alias given
    (``champion`` also when an engineer forced a failed model through); ``outcome`` what
    that means for scoring, in one sentence. ``champion_unusable`` says why the current
    champion could not be compared with, when it could not; ``best_baseline`` names the
    baselines the model was measured against (the best in ROC AUC and in Brier)."""

    passed: bool
    alias: str
    forced: bool
    reasons: tuple[str, ...]
    champion_unusable: str | None = None
    outcome: str = ""
    best_baseline: Mapping[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``metrics.json``."""
        shown: dict[str, Any] = {
            "verdict": "passed" if self.passed else "failed",
            "alias": self.alias,
            "forced": self.forced,
            "reasons": list(self.reasons),
        }
        if self.outcome:
            shown["outcome"] = self.outcome
        if self.best_baseline is not None:
            shown["best_baseline"] = dict(self.best_baseline)
        if self.champion_unusable is not None:
            shown["champion_unusable"] = self.champion_unusable
        return shown


def best_baselines(scores: Scores) -> dict[str, tuple[str, float]]:
    """The best baseline per metric: ``{"roc_auc": (name, highest), "brier": (name,
    lowest)}``; a metric no baseline has (recency ranks, it gives no probability, so no
    Brier) is left out. Ties go to the first name in alphabetical order."""
    best: dict[str, tuple[str, float]] = {}
    for name in sorted(scores):
        if name == MODEL:
            continue
        for metric, better in (("roc_auc", max), ("brier", min)):
            value = scores[name].get(metric)
            if value is None:
                continue
            held = best.get(metric)
            if held is None or better(value, held[1]) != held[1]:
                best[metric] = (name, float(value))
    return best


def _where(n_origins: int) -> str:
    return "on the test snapshot" if n_origins <= 1 else f"averaged over {n_origins} test origins"


@dataclass(frozen=True)
class GatePolicy:
    """What a new model must show to become the champion (``gate.*``; see
    :func:`promotion_verdict`)."""

    min_roc_auc: float = 0.65
    tolerance: float = 0.005
    beat_baselines: bool = True
    baseline_margin_roc_auc: float = 0.0
    baseline_margin_brier: float = 0.0
    force: bool = False


DEFAULT_POLICY = GatePolicy()


def promotion_verdict(
    scores: Scores,
    *,
    policy: GatePolicy = DEFAULT_POLICY,
    champion_roc_auc: float | None = None,
    candidate_roc_auc_vs_champion: float | None = None,
    n_origins: int = 1,
    champion_label: str = "the champion",
    champion_unusable: str | None = None,
    champion_not_comparable: str | None = None,
    notes: Sequence[str] = (),
) -> GateVerdict:
    """Decide the alias of a new model from its scores and the references'.

    Parameters
    ----------
    scores : mapping
        ``{name: {"roc_auc": float, "brier": float or None}}``, each model's mean over the
        test origins: the new model under :data:`MODEL`, every other name a baseline.
    policy : GatePolicy
        The thresholds (``gate.*``).
    champion_roc_auc, candidate_roc_auc_vs_champion : float, optional
        The current champion's ROC AUC re-scored on the newest test snapshot, and the new
        model's on the same rows; ``None`` without a champion to compare with.
    champion_unusable : str, optional
        Why a champion that exists could not be re-scored (its files were deleted, it
        does not load, it needs features this data cannot feed). It cannot hold the new
        model back: the comparison is skipped and the reasons say why.
    champion_not_comparable : str, optional
        Why the champion belongs to something else (another shop's data): it is never
        replaced silently, so the new model stays ``challenger`` unless ``force``.

    The model passes when its mean ROC AUC is at least ``policy.min_roc_auc``; with
    ``beat_baselines``, when its mean ROC AUC is at least the best baseline's plus
    ``baseline_margin_roc_auc`` and its mean Brier at most the best baseline's minus
    ``baseline_margin_brier``; and when it is not below the champion's ROC AUC by more
    than ``tolerance``. ``force`` gives the alias ``champion`` whatever the verdict, and
    says so in the reasons; ``notes`` (caveats of the comparison) are added to the
    reasons. The last reason, ``outcome:``, says what scoring uses from now on.
    """
    min_roc_auc, tolerance, force = policy.min_roc_auc, policy.tolerance, policy.force
    model = scores[MODEL]
    roc_auc, brier = float(model["roc_auc"]), model.get("brier")
    where = _where(n_origins)
    floor_ok = roc_auc >= min_roc_auc
    checks = [
        (
            floor_ok,
            f"ROC AUC {roc_auc:.4f} {where} {'>=' if floor_ok else '<'} floor {min_roc_auc:.4f}",
        )
    ]
    best = best_baselines(scores)
    against_baselines = (
        _baseline_checks(
            roc_auc, brier, best, policy.baseline_margin_roc_auc, policy.baseline_margin_brier
        )
        if policy.beat_baselines
        else []
    )
    checks += [(ok, text) for ok, text, _ in against_baselines]
    champion_checks, skipped, has_champion = _champion_checks(
        roc_auc,
        champion_roc_auc,
        candidate_roc_auc_vs_champion,
        tolerance,
        champion_label,
        champion_unusable,
        champion_not_comparable,
    )
    checks += champion_checks
    passed = all(ok for ok, _ in checks)
    reasons = [f"{'ok' if ok else 'FAILED'}: {text}" for ok, text in checks]
    reasons += [f"skipped: {text}" for text in skipped]
    reasons += [f"note: {note}" for note in notes]
    if force and not passed:
        reasons.append("forced: gate.force=true promoted the model despite the failed checks")
    alias = CHAMPION if passed or force else CHALLENGER
    beaten_by = sorted({name for ok, _, name in against_baselines if not ok})
    if champion_not_comparable is not None and alias != CHAMPION:
        outcome = (
            f"the new version stays @challenger and {champion_label}, another data source's "
            "model, is left in place; give each shop its own model with "
            "tracking.registered_model=NAME (and tracking.experiment=NAME), or use "
            "gate.force=true if this is the same shop's data under a new name"
        )
    else:
        outcome = _outcome(alias, passed, has_champion, champion_label, beaten_by)
    reasons.append(f"outcome: {outcome}")
    return GateVerdict(
        passed=passed,
        alias=alias,
        forced=force and not passed,
        reasons=tuple(reasons),
        champion_unusable=champion_unusable if champion_roc_auc is None else None,
        outcome=outcome,
        best_baseline={
            f"{metric}": {"name": name, "value": value} for metric, (name, value) in best.items()
        }
        or None,
    )


def _champion_checks(
    roc_auc: float,
    champion_roc_auc: float | None,
    candidate_roc_auc_vs_champion: float | None,
    tolerance: float,
    champion_label: str,
    champion_unusable: str | None,
    champion_not_comparable: str | None,
) -> tuple[list[tuple[bool, str]], list[str], bool]:
    """The comparison with the current champion: its checks, what was skipped and why, and
    whether there is a champion to compare with (see :func:`promotion_verdict`)."""
    if champion_not_comparable is not None:
        return [(False, f"{champion_label} is not comparable: {champion_not_comparable}")], [], True
    if champion_roc_auc is None and champion_unusable is not None:
        skipped = (
            f"{champion_label} is unusable ({champion_unusable}): not compared; the new "
            "model is judged on the floor and the baselines only"
        )
        return [], [skipped], False
    if champion_roc_auc is None:
        return [(True, "no champion yet: nothing to compare with")], [], False
    candidate = roc_auc if candidate_roc_auc_vs_champion is None else candidate_roc_auc_vs_champion
    within = candidate >= champion_roc_auc - tolerance
    text = (
        f"{champion_label} scores {champion_roc_auc:.4f} on the newest test snapshot; "
        f"the new model is {candidate - champion_roc_auc:+.4f} on the same rows "
        f"({'within' if within else 'beyond'} the tolerance of {tolerance:.4f})"
    )
    return [(within, text)], [], True


def _baseline_checks(
    roc_auc: float,
    brier: float | None,
    best: Mapping[str, tuple[str, float]],
    margin_roc_auc: float,
    margin_brier: float,
) -> list[tuple[bool, str, str]]:
    """``(passed, reason, baseline name)`` of the ROC AUC and Brier comparisons."""
    checks = []
    if "roc_auc" in best:
        name, value = best["roc_auc"]
        ok = roc_auc >= value + margin_roc_auc
        margin = f" + margin {margin_roc_auc:.4f}" if margin_roc_auc else ""
        checks.append(
            (
                ok,
                f"ROC AUC {roc_auc:.4f} {'>=' if ok else '<'} the best baseline's, "
                f"{name} ({value:.4f}{margin})",
                name,
            )
        )
    if "brier" in best:
        name, value = best["brier"]
        ok = brier is not None and brier <= value - margin_brier
        margin = f" - margin {margin_brier:.4f}" if margin_brier else ""
        shown = "missing" if brier is None else f"{brier:.4f}"
        checks.append(
            (
                ok,
                f"Brier {shown} {'<=' if ok else '>'} the best baseline's, "
                f"{name} ({value:.4f}{margin}; lower is better)",
                name,
            )
        )
    return checks


def _outcome(
    alias: str,
    passed: bool,
    has_champion: bool,
    champion_label: str,
    beaten_by: Sequence[str],
) -> str:
    """What the verdict means for the nightly scoring, and what to do about it."""
    if alias == CHAMPION:
        return "the new version is @champion: scoring uses it from now on" + (
            "" if passed else " (forced)"
        )
    if beaten_by:
        lead = (
            f"on this shop's data the model is no better than the {' and '.join(beaten_by)} "
            "baseline" + ("s" if len(beaten_by) > 1 else "")
        )
    else:
        lead = "the new version failed the gate"
    if has_champion:
        return (
            f"{lead}; it stays @challenger and scoring keeps {champion_label}; "
            "gate.force=true would promote it anyway"
        )
    return (
        f"{lead}; it stays @challenger and there is no @champion yet, so scoring has no "
        "model to use (exit 5): retrain with gate.force=true to accept it anyway "
        "(recorded as forced), or score this version explicitly with model.alias=challenger"
    )


def same_data_source(recorded: str, current: str) -> bool:
    """Whether two data sources (a path, glob or query, as configured) name the same data;
    spacing inside a query does not count."""
    return " ".join(recorded.split()) == " ".join(current.split())
