"""Feature drift: population stability index (PSI) between a training reference and
tonight's population.

The reference (per feature: decile edges of the training population, each bin's share,
and the share of missing values) is computed at training time and saved with the model.
PSI = sum over bins of ``(actual - expected) * ln(actual / expected)``, with missing
values as one more bin and shares floored at ``1e-4`` so an empty bin stays finite.
Rules of thumb: below 0.1 stable, 0.1 to 0.25 a shift worth a look, above 0.25 a shift
that makes the model's scores unreliable.

Ages drift by construction. A feature in :data:`AGES` counts the days since a fixed event
of the customer's past, so every customer's value grows by one a day: between the
reference (the newest labelled snapshot, at least a label horizon before the end of the
data) and tonight, ``elapsed`` days pass. A shop whose customers all arrived after its data
starts (a young shop, or a short export) sees its whole population age by ``elapsed``
days; a mature shop, where newcomers replace leavers, sees a stable distribution. Either,
or anything between, is the calendar at work, not a broken export; so is a young shop
whose customers aged while newcomers kept arriving, which stretches its ages in
proportion (the oldest customer's from ``max`` to ``max + elapsed``). So an age is
compared after the best alignment: the reference's edges shifted, or stretched, by every
whole number of days from 0 to ``elapsed`` (at most :data:`ALIGNMENT_STEPS` of them),
keeping the smallest PSI. Ages moving backwards (fewer old customers) or by more than
``elapsed`` still count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from churn.errors import DriftError

FLOOR = 1e-4
# Features that grow by one a day for every customer: days since their first order, since
# they signed up. Their reference remembers its date, to allow for the days elapsed.
AGES = ("tenure_days", "account_age_days")
ALIGNMENT_STEPS = 60


def _bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Shares of ``values`` per interior bin (``len(edges) + 1`` bins), then missing."""
    missing = np.isnan(values)
    index = np.searchsorted(edges, values[~missing], side="right")
    counts = np.bincount(index, minlength=len(edges) + 1).astype("float64")
    shares = np.append(counts, missing.sum()) / max(len(values), 1)
    return shares


def reference_profile(
    features: pd.DataFrame, names: Sequence[str], n_bins: int = 10
) -> dict[str, dict[str, Any]]:
    """Per feature: the interior bin edges (distinct deciles of the non-missing values) and
    the reference share of each bin, the last entry being the missing values' share; for an
    age (:data:`AGES`), also the cutoff ``as_of`` of the reference when ``features`` has
    that column."""
    as_of = None
    if "as_of" in features and len(features):
        as_of = pd.Timestamp(features["as_of"].max()).date().isoformat()
    profile = {}
    for name in names:
        values = features[name].to_numpy(dtype="float64")
        present = values[~np.isnan(values)]
        if len(present):
            quantiles = np.quantile(present, np.linspace(0, 1, n_bins + 1)[1:-1])
            edges = np.unique(np.round(quantiles, 9))
        else:
            edges = np.array([])
        profile[name] = {
            "edges": edges.tolist(),
            "shares": _bin_shares(values, edges).tolist(),
        }
        if name in AGES and as_of is not None:
            profile[name]["as_of"] = as_of
            profile[name]["max"] = float(present.max()) if len(present) else None
    return profile


def psi(reference: Mapping[str, Any], values: np.ndarray) -> float:
    """Population stability index of ``values`` against one feature's reference."""
    expected = np.maximum(np.asarray(reference["shares"], dtype="float64"), FLOOR)
    actual = np.maximum(
        _bin_shares(np.asarray(values, dtype="float64"), np.asarray(reference["edges"])), FLOOR
    )
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def aligned_psi(
    reference: Mapping[str, Any], values: np.ndarray, elapsed_days: int
) -> tuple[float, int]:
    """The smallest PSI of an age against its reference with the reference's edges moved
    forward by 0 to ``elapsed_days`` days, and the shift that gives it (see the module
    docstring)."""
    if elapsed_days <= 0:
        return psi(reference, values), 0
    steps = min(elapsed_days, ALIGNMENT_STEPS)
    shifts = np.unique(np.round(np.linspace(0, elapsed_days, steps + 1)).astype(int))
    edges = np.asarray(reference["edges"], dtype="float64")
    oldest = reference.get("max")
    best = (psi(reference, values), 0)
    for shift in shifts[1:]:
        candidates = [edges + shift]
        if oldest:
            # A young shop: everyone aged and newcomers arrived, so the ages stretch in
            # proportion, as far as the oldest customer's can.
            candidates.append(edges * (oldest + shift) / oldest)
        for moved in candidates:
            value = psi({"edges": moved.tolist(), "shares": reference["shares"]}, values)
            if value < best[0]:
                best = (value, int(shift))
    return best


def drift_report(
    profile: Mapping[str, Mapping[str, Any]],
    features: pd.DataFrame,
    warn_psi: float,
    fail_psi: float | None,
    ignore: Mapping[str, str] | Sequence[str] = (),
    as_of: dt.date | None = None,
) -> list[dict[str, Any]]:
    """PSI of every profiled feature present in ``features``, largest first, each with a
    status: ``ok``, ``warn`` (at least ``warn_psi``) or ``fail`` (at least ``fail_psi``;
    ``None`` never fails).

    Features in ``ignore`` (a list, or a mapping from feature to the reason) can warn but
    never fail; a row that would have failed says so in ``ignored`` (the reason, or
    ``"listed in score.drift.ignore"``). An age (:data:`AGES`) whose reference has a
    date is compared after allowing for the days from that date to ``as_of``: its row
    then has ``psi`` aligned, ``psi_as_measured`` and ``aligned_days``.
    """
    reasons = (
        dict(ignore)
        if isinstance(ignore, Mapping)
        else dict.fromkeys(ignore, "listed in score.drift.ignore")
    )
    rows = []
    for name, reference in profile.items():
        if name not in features:
            continue
        values = features[name].to_numpy(dtype="float64")
        row: dict[str, Any] = {"feature": name}
        if name in AGES and as_of is not None and reference.get("as_of"):
            elapsed = (as_of - dt.date.fromisoformat(reference["as_of"])).days
            measured = psi(reference, values)
            value, shift = aligned_psi(reference, values, elapsed)
            row.update(
                psi=round(value, 6),
                psi_as_measured=round(measured, 6),
                aligned_days=shift,
                elapsed_days=elapsed,
            )
        else:
            row["psi"] = round(psi(reference, values), 6)
        value = row["psi"]
        status = "ok"
        if fail_psi is not None and value >= fail_psi:
            if name in reasons:
                row["ignored"] = reasons[name]
                status = "warn"
            else:
                status = "fail"
        elif value >= warn_psi:
            status = "warn"
        row["status"] = status
        rows.append(row)
    return sorted(rows, key=lambda r: (-r["psi"], r["feature"]))


@dataclass(frozen=True)
class DriftPolicy:
    """When drift warns and when it stops a scoring run (``score.drift.*``).

    Attributes
    ----------
    warn_psi : float
        A feature whose PSI reaches this is logged as a warning.
    fail_psi : float or None
        A feature whose PSI reaches this stops the run; ``None`` never stops it.
    ignore : mapping of str to str
        Features that may warn but never stop the run, each with the reason.
    """

    warn_psi: float
    fail_psi: float | None
    ignore: Mapping[str, str] = field(default_factory=dict)

    def report(
        self, profile: Mapping[str, Mapping[str, Any]], features: pd.DataFrame, as_of: dt.date
    ) -> list[dict[str, Any]]:
        """:func:`drift_report` of ``features`` against ``profile`` under this policy."""
        return drift_report(
            profile, features, self.warn_psi, self.fail_psi, ignore=self.ignore, as_of=as_of
        )

    def check(self, report: Sequence[Mapping[str, Any]]) -> None:
        """Raise :class:`~churn.errors.DriftError` naming the worst failed feature, if any."""
        failed = [r for r in report if r["status"] == "fail"]
        if failed:
            worst = failed[0]
            others = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
            earlier = [r for r in failed if r.get("elapsed_days", 0) < 0]
            if earlier:
                days = -int(earlier[0]["elapsed_days"])
                raise DriftError(
                    f"feature drift: {earlier[0]['feature']} has PSI {earlier[0]['psi']:.3f} "
                    f">= score.drift.fail_psi={self.fail_psi}{others}, because as_of is {days} "
                    "days before the model's reference snapshot: this model was trained on "
                    "later data. To make a past list, score with a model trained on the "
                    "history up to as_of (see `make demo-loop`), or set "
                    "score.drift.fail_psi=null to score anyway"
                )
            raise DriftError(
                f"feature drift: {worst['feature']} has PSI {worst['psi']:.3f} >= "
                f"score.drift.fail_psi={self.fail_psi} against the model's training "
                f"population{others}; check the input data, retrain, or set "
                "score.drift.fail_psi=null to score anyway"
            )
