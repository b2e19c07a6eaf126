"""Risk tiers, segments and reasons on tiny frames."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn.scoring import assign_segments, risk_tier

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
