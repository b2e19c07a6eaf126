"""Feature drift: population stability index (PSI) between a training reference and
tonight's population.

The reference (per feature: decile edges of the training population, each bin's share,
and the share of missing values) is computed at training time and saved with the model.
PSI = sum over bins of ``(actual - expected) * ln(actual / expected)``, with missing
values as one more bin and shares floored at ``1e-4`` so an empty bin stays finite.
Rules of thumb: below 0.1 stable, 0.1 to 0.25 a shift worth a look, above 0.25 a shift
that makes the model's scores unreliable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

FLOOR = 1e-4


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
    the reference share of each bin, the last entry being the missing values' share."""
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
    return profile


def psi(reference: Mapping[str, Any], values: np.ndarray) -> float:
    """Population stability index of ``values`` against one feature's reference."""
    expected = np.maximum(np.asarray(reference["shares"], dtype="float64"), FLOOR)
    actual = np.maximum(
        _bin_shares(np.asarray(values, dtype="float64"), np.asarray(reference["edges"])), FLOOR
    )
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def drift_report(
    profile: Mapping[str, Mapping[str, Any]],
    features: pd.DataFrame,
    warn_psi: float,
    fail_psi: float | None,
    ignore: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """PSI of every profiled feature present in ``features``, largest first, each with a
    status: ``ok``, ``warn`` (at least ``warn_psi``) or ``fail`` (at least ``fail_psi``;
    ``None`` never fails). Features in ``ignore`` can warn but never fail."""
    rows = []
    for name, reference in profile.items():
        if name not in features:
            continue
        value = round(psi(reference, features[name].to_numpy(dtype="float64")), 6)
        status = "ok"
        if fail_psi is not None and value >= fail_psi and name not in ignore:
            status = "fail"
        elif value >= warn_psi:
            status = "warn"
        rows.append({"feature": name, "psi": value, "status": status})
    return sorted(rows, key=lambda r: (-r["psi"], r["feature"]))
