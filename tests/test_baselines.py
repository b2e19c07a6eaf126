"""The logistic RFM baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn.modeling.baselines import fit_logistic_rfm, predict_logistic_rfm


def test_logistic_rfm_learns_that_long_absence_means_churn():
    rng = np.random.default_rng(0)
    days = rng.integers(0, 365, 400)
    features = pd.DataFrame(
        {
            "days_since_last_order": days,
            "orders_365d": rng.integers(1, 10, 400),
            "spend_365d": rng.uniform(-20, 500, 400),
        }
    )
    churned = (days + rng.normal(0, 30, 400) > 180).astype(int)
    model = fit_logistic_rfm(features, churned)
    probe = pd.DataFrame(
        {"days_since_last_order": [10, 300], "orders_365d": [3, 3], "spend_365d": [100.0, 100.0]}
    )
    low, high = predict_logistic_rfm(model, probe)
    assert low < 0.2 < 0.8 < high
