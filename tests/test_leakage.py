"""Point in time: nothing after the end of the as_of day may change a feature."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from churn.data.synth import ShopSpec, generate_transactions
from churn.features.query import build_features
from tests.conftest import connect_to

AS_OF = dt.date(2023, 9, 30)


def test_appending_future_transactions_changes_no_feature():
    history = generate_transactions(ShopSpec(n_customers=300, days=365, seed=11))
    past = history[history["ts"] < pd.Timestamp(AS_OF) + pd.Timedelta(days=1)]

    rng = np.random.default_rng(0)
    future = past.sample(500, random_state=1).copy()
    # Same customers, new orders and returns from the first second after the cutoff on.
    offsets = pd.to_timedelta(rng.integers(0, 200 * 86400, len(future)), unit="s")
    future["ts"] = pd.Timestamp(AS_OF) + pd.Timedelta(days=1) + offsets
    future["order_id"] = "F" + pd.Series(range(len(future)), index=future.index).astype(str)
    future["amount"] = np.where(rng.random(len(future)) < 0.2, -future["amount"], future["amount"])
    # Late-arriving lines of orders placed before the cutoff.
    late_lines = past.tail(50).assign(ts=pd.Timestamp(AS_OF) + pd.Timedelta(days=2))

    before = build_features(connect_to(past), [AS_OF])
    after = build_features(connect_to(pd.concat([past, future, late_lines])), [AS_OF])
    pd.testing.assert_frame_equal(before, after)
