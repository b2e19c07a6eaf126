"""Simple baselines every model is compared with, on the same test rows.

* **recency**: days since the last order, as a score (longer = riskier); no fit.
* **logistic RFM**: logistic regression on recency, frequency and monetary value (orders
  and spend in the last 365 days, log-scaled), standardised; fitted on the training
  snapshots, like the model.
* **BG/NBD**: the buy-till-you-die model's probability of no order in the horizon (see
  :mod:`churn.features.btyd`); fitted at each cutoff on the history up to it, no labels needed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

RFM_COLUMNS = ("days_since_last_order", "orders_365d", "spend_365d")


def _log_scale(x: np.ndarray) -> np.ndarray:
    # Counts and spend are heavy-tailed; net spend can be negative after returns.
    return np.log1p(np.clip(x, 0, None))


def fit_logistic_rfm(features: pd.DataFrame, churned: pd.Series, seed: int = 0) -> Pipeline:
    """Fit the logistic-regression RFM baseline on :data:`RFM_COLUMNS` of ``features``."""
    pipeline = make_pipeline(
        FunctionTransformer(_log_scale),
        StandardScaler(),
        LogisticRegression(max_iter=1000, random_state=seed),
    )
    return pipeline.fit(features[list(RFM_COLUMNS)].astype("float64"), churned)


def predict_logistic_rfm(pipeline: Pipeline, features: pd.DataFrame) -> np.ndarray:
    """Churn probabilities of the logistic RFM baseline."""
    return pipeline.predict_proba(features[list(RFM_COLUMNS)].astype("float64"))[:, 1]
