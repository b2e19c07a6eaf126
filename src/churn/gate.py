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
    (``champion`` also when an engineer forced a failed model through)."""

    passed: bool
    alias: str
    forced: bool
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``metrics.json``."""
        return {
            "verdict": "passed" if self.passed else "failed",
            "alias": self.alias,
            "forced": self.forced,
            "reasons": list(self.reasons),
        }


def promotion_verdict(
    candidate_roc_auc: float,
    recency_roc_auc: float,
    champion_roc_auc: float | None,
    *,
    min_roc_auc: float = 0.65,
    tolerance: float = 0.005,
    force: bool = False,
    champion_label: str = "the champion",
    notes: Sequence[str] = (),
) -> GateVerdict:
    """Decide the alias of a new model from its test ROC AUC and the references'.

    The model passes when its test ROC AUC is at least ``min_roc_auc``, above the recency
    baseline's, and not below the champion's (re-scored on the same rows) by more than
    ``tolerance``; with no champion the last check is skipped. ``force`` gives the alias
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
    if champion_roc_auc is None:
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
    reasons += [f"note: {note}" for note in notes]
    if force and not passed:
        reasons.append("forced: gate.force=true promoted the model despite the failed checks")
    alias = CHAMPION if passed or force else CHALLENGER
    return GateVerdict(
        passed=passed, alias=alias, forced=force and not passed, reasons=tuple(reasons)
    )
