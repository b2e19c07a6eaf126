"""Promotion gate: does a newly trained model replace the current champion?

A pure decision from numbers measured on the newest test snapshot; the training stage
measures them and :mod:`churn.tracking` applies the resulting alias.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

CHAMPION = "champion"
CHALLENGER = "challenger"


@dataclass(frozen=True)
class GateVerdict:
    """Outcome of the gate: ``passed`` is the checks' verdict, ``alias`` the alias given
    (``champion`` also when an engineer forced a failed model through);
    ``champion_unusable`` says why the current champion could not be compared with, when
    it could not."""

    passed: bool
    alias: str
    forced: bool
    reasons: tuple[str, ...]
    champion_unusable: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``metrics.json``."""
        shown: dict[str, Any] = {
            "verdict": "passed" if self.passed else "failed",
            "alias": self.alias,
            "forced": self.forced,
            "reasons": list(self.reasons),
        }
        if self.champion_unusable is not None:
            shown["champion_unusable"] = self.champion_unusable
        return shown


def promotion_verdict(
    candidate_roc_auc: float,
    recency_roc_auc: float,
    champion_roc_auc: float | None,
    *,
    min_roc_auc: float = 0.65,
    tolerance: float = 0.005,
    force: bool = False,
    champion_label: str = "the champion",
    champion_unusable: str | None = None,
    notes: Sequence[str] = (),
) -> GateVerdict:
    """Decide the alias of a new model from its test ROC AUC and the references'.

    The model passes when its test ROC AUC is at least ``min_roc_auc``, above the recency
    baseline's, and not below the champion's (re-scored on the same rows) by more than
    ``tolerance``; with no champion the last check is skipped. A champion that exists but
    cannot be re-scored (``champion_unusable`` says why: its files were deleted, it does
    not load) cannot hold a new model back: the last check is skipped and the reasons say
    why. ``force`` gives the alias
    ``champion`` whatever the verdict, and says so in the reasons; ``notes`` (caveats of
    the comparison) are added to the reasons.
    """
    checks = [
        (
            candidate_roc_auc >= min_roc_auc,
            f"test ROC AUC {candidate_roc_auc:.4f} "
            f"{'>=' if candidate_roc_auc >= min_roc_auc else '<'} floor {min_roc_auc:.4f}",
        ),
        (
            candidate_roc_auc > recency_roc_auc,
            f"test ROC AUC {candidate_roc_auc:.4f} "
            f"{'beats' if candidate_roc_auc > recency_roc_auc else 'does not beat'} "
            f"the recency baseline ({recency_roc_auc:.4f})",
        ),
    ]
    skipped = []
    if champion_roc_auc is None and champion_unusable is not None:
        skipped.append(
            f"{champion_label} is unusable ({champion_unusable}): not compared; the new "
            "model is judged on the floor and the recency baseline only"
        )
    elif champion_roc_auc is None:
        checks.append((True, "no champion yet: nothing to compare with"))
    else:
        within = candidate_roc_auc >= champion_roc_auc - tolerance
        checks.append(
            (
                within,
                f"{champion_label} scores {champion_roc_auc:.4f} on the same rows; "
                f"the new model is {candidate_roc_auc - champion_roc_auc:+.4f} "
                f"({'within' if within else 'beyond'} the tolerance of {tolerance:.4f})",
            )
        )
    passed = all(ok for ok, _ in checks)
    reasons = [f"{'ok' if ok else 'FAILED'}: {text}" for ok, text in checks]
    reasons += [f"skipped: {text}" for text in skipped]
    reasons += [f"note: {note}" for note in notes]
    if force and not passed:
        reasons.append("forced: gate.force=true promoted the model despite the failed checks")
    alias = CHAMPION if passed or force else CHALLENGER
    return GateVerdict(
        passed=passed,
        alias=alias,
        forced=force and not passed,
        reasons=tuple(reasons),
        champion_unusable=champion_unusable if champion_roc_auc is None else None,
    )
