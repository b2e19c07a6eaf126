"""Turning probabilities into a marketer's list: risk tiers, segments and reasons."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

ACTIONS = {
    "new": "welcome / onboarding",
    "regular": "loyalty offer",
    "dormant": "reactivation campaign",
    "vip": "exclusive preview or event",
}


def risk_tier(p_churn: np.ndarray, thresholds: Mapping[str, float]) -> np.ndarray:
    """Name the risk tier of each probability.

    Parameters
    ----------
    p_churn : array of float
        Churn probabilities.
    thresholds : mapping of tier name to lower bound
        A probability gets the tier with the highest bound it reaches; below every bound
        it is ``"low"``. Example: ``{"high": 0.7, "medium": 0.4}``.
    """
    p = np.asarray(p_churn, dtype="float64")
    tiers = np.full(p.shape, "low", dtype=object)
    for name, bound in sorted(thresholds.items(), key=lambda kv: kv[1]):
        tiers[p >= bound] = name
    return tiers


def assign_segments(
    features: pd.DataFrame,
    new_max_tenure_days: int,
    dormant_min_days: int,
    vip_min_spend_365d: float,
) -> pd.Series:
    """Marketing segment of each customer, first rule that matches wins.

    1. ``new``: first order less than ``new_max_tenure_days`` ago;
    2. ``vip``: ``spend_365d`` at least ``vip_min_spend_365d``;
    3. ``dormant``: no order for ``dormant_min_days`` or more;
    4. ``regular``: everyone else.
    """
    segment = np.select(
        [
            features["tenure_days"] < new_max_tenure_days,
            features["spend_365d"] >= vip_min_spend_365d,
            features["days_since_last_order"] >= dormant_min_days,
        ],
        ["new", "vip", "dormant"],
        default="regular",
    )
    return pd.Series(segment, index=features.index, name="segment")


def _format_value(value: float) -> str:
    if pd.isna(value):
        return "missing"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}"


def top_reasons(
    contributions: pd.DataFrame, features: pd.DataFrame, n_reasons: int = 3
) -> pd.DataFrame:
    """The features pushing each customer hardest towards churn, as ``name=value`` text.

    Only positive contributions count: a feature that lowers the risk is never a reason,
    so a row may have fewer than ``n_reasons`` (the rest are empty strings).

    Parameters
    ----------
    contributions : pandas.DataFrame
        SHAP contributions to the log-odds, one column per feature (a ``bias`` column
        is ignored).
    features : pandas.DataFrame
        The customers' feature values, same index.
    """
    contrib = contributions.drop(columns=["bias"], errors="ignore")
    names = np.asarray(contrib.columns)
    values = contrib.to_numpy()
    feature_values = features[list(names)].to_numpy(dtype="float64")
    order = np.argsort(-values, axis=1, kind="stable")[:, :n_reasons]
    rows = np.arange(len(values))
    out = {}
    for k in range(n_reasons):
        idx = order[:, k]
        positive = values[rows, idx] > 0
        shown = feature_values[rows, idx]
        out[f"reason_{k + 1}"] = [
            f"{names[j]}={_format_value(v)}" if ok else ""
            for j, v, ok in zip(idx, shown, positive, strict=True)
        ]
    return pd.DataFrame(out, index=contributions.index)
