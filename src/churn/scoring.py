"""Turning probabilities into a marketer's list: risk tiers and segments (reasons and the
localised names and actions are in :mod:`churn.reasons`)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from churn.errors import ConfigError


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


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
    ``@``, tab or carriage return) get a leading apostrophe, as OWASP's CSV-injection
    guidance advises; numeric columns are left as numbers."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_numeric_dtype(out[column]):
            continue
        text = out[column].astype("string")
        risky = text.str.startswith(FORMULA_PREFIXES).fillna(False).astype(bool)
        if risky.any():
            out[column] = text.where(~risky, "'" + text).astype(object)
    return out


def expected_value_at_risk(p_churn: np.ndarray, spend_365d: np.ndarray) -> np.ndarray:
    """Churn probability times the expected spend of the next year, estimated as the
    customer's net spend of the last 365 days (floored at 0)."""
    return np.asarray(p_churn, dtype="float64") * np.clip(
        np.asarray(spend_365d, dtype="float64"), 0, None
    )


def select_at_risk(
    scores: pd.DataFrame,
    mode: str,
    at_risk_tiers: list[str],
    top_k: int | None = None,
    budget: float | None = None,
    cost_per_contact: float = 1.0,
) -> pd.DataFrame:
    """The at-risk list, most expected value at risk first (ties by ``customer_id``).

    ``mode`` is ``tiers`` (rows whose ``risk_tier`` is in ``at_risk_tiers``), ``top_k``
    (the ``top_k`` rows with most value at risk) or ``budget`` (``floor(budget /
    cost_per_contact)`` of them). ``scores`` needs ``customer_id``, ``risk_tier`` and
    ``expected_value_at_risk``.
    """
    ranked = scores.sort_values(
        ["expected_value_at_risk", "customer_id"], ascending=[False, True], kind="stable"
    )
    if mode == "tiers":
        return ranked[ranked["risk_tier"].isin(at_risk_tiers)]
    if mode == "top_k" and top_k is not None and top_k >= 0:
        return ranked.head(int(top_k))
    if mode == "budget" and budget is not None and budget >= 0 and cost_per_contact > 0:
        return ranked.head(int(budget // cost_per_contact))
    raise ConfigError(
        "score.selection must be tiers, top_k (with score.top_k >= 0) or budget (with "
        f"score.budget >= 0 and score.cost_per_contact > 0); got {mode!r}"
    )
