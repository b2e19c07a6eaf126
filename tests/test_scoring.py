"""Risk tiers, segments and reasons on tiny frames."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn.scoring import assign_segments, risk_tier, top_reasons

TIERS = {"high": 0.7, "medium": 0.4}


def test_risk_tier_bounds_are_inclusive():
    p = np.array([0.0, 0.39, 0.4, 0.69, 0.7, 1.0])
    assert list(risk_tier(p, TIERS)) == ["low", "low", "medium", "medium", "high", "high"]


def test_segments_first_matching_rule_wins():
    features = pd.DataFrame(
        {
            "tenure_days": [10, 400, 400, 400, 10],
            "spend_365d": [50.0, 900.0, 100.0, 100.0, 900.0],
            "days_since_last_order": [5, 200, 120, 20, 100],
        }
    )
    segments = assign_segments(
        features, new_max_tenure_days=90, dormant_min_days=90, vip_min_spend_365d=800.0
    )
    assert list(segments) == ["new", "vip", "dormant", "regular", "new"]


def test_reasons_are_the_largest_positive_contributions_with_values():
    contributions = pd.DataFrame(
        {"recency": [0.9], "spend": [0.1], "gap": [0.5], "tenure": [0.3], "bias": [2.0]}
    )
    features = pd.DataFrame({"recency": [84.0], "spend": [12.5], "gap": [3.25], "tenure": [400.0]})
    reasons = top_reasons(contributions, features)
    assert reasons.iloc[0].tolist() == ["recency=84", "gap=3.25", "tenure=400"]


def test_features_that_lower_the_risk_are_never_reasons():
    contributions = pd.DataFrame({"recency": [0.4], "spend": [-0.2], "gap": [0.0], "bias": [0.0]})
    features = pd.DataFrame({"recency": [30.0], "spend": [100.0], "gap": [np.nan]})
    reasons = top_reasons(contributions, features)
    assert reasons.iloc[0].tolist() == ["recency=30", "", ""]
