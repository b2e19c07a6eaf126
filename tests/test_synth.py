"""The demo shop: deterministic, canonical, and its planted drivers are visible in the data."""

from __future__ import annotations

import pandas as pd
import pytest

from churn.data.synth import ShopSpec, generate_transactions

SPEC = ShopSpec(n_customers=3000, days=730, seed=5)


@pytest.fixture(scope="module")
def shop() -> pd.DataFrame:
    return generate_transactions(SPEC)


def test_same_seed_same_table(shop):
    pd.testing.assert_frame_equal(shop, generate_transactions(SPEC))


def test_other_seed_other_table(shop):
    other = generate_transactions(ShopSpec(n_customers=3000, days=730, seed=6))
    assert not shop["amount"].equals(other["amount"])


def test_canonical_columns_and_period(shop):
    assert list(shop.columns) == [
        "customer_id",
        "order_id",
        "ts",
        "amount",
        "quantity",
        "product_id",
        "category",
        "discount",
        "channel",
    ]
    assert shop["ts"].min() >= pd.Timestamp(SPEC.start)
    assert shop["ts"].max() < pd.Timestamp(SPEC.start) + pd.Timedelta(days=SPEC.days)
    assert shop["customer_id"].nunique() == SPEC.n_customers


def test_returns_are_negative_rows_with_their_own_order_id(shop):
    returns = shop[shop["amount"] < 0]
    assert len(returns) > 0
    assert returns["order_id"].str.startswith("R").all()
    assert (returns["quantity"] < 0).all()


def test_new_customers_keep_arriving(shop):
    first_order = shop.groupby("customer_id")["ts"].min()
    second_year = first_order >= pd.Timestamp(SPEC.start) + pd.Timedelta(days=365)
    assert second_year.mean() > 0.3


def test_a_return_makes_an_order_more_often_the_customers_last(shop):
    orders = (
        shop[shop["amount"] > 0]
        .groupby("order_id")
        .agg(customer_id=("customer_id", "first"), ts=("ts", "min"))
    )
    returned = set(shop.loc[shop["amount"] < 0, "order_id"].str[1:])
    orders["returned"] = orders.index.isin(returned)
    last_ts = orders.groupby("customer_id")["ts"].transform("max")
    # Orders in the first year, so that "last" means the customer left, not the data ended.
    early = orders[orders["ts"] < pd.Timestamp(SPEC.start) + pd.Timedelta(days=365)]
    is_last = early["ts"] == last_ts[early.index]
    rate = is_last.groupby(early["returned"]).mean()
    assert rate[True] > 2 * rate[False]
