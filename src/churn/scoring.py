"""Turning probabilities into a marketer's list: risk tiers and segments (reasons and the
localised names and actions are in :mod:`churn.reasons`)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd


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
