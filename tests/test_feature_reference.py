"""The SQL feature engine agrees with a plain pandas reference, family by family, and
nothing after the cutoff reaches any feature."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churn.data.ingest import SourceSpec, ingest_customers, ingest_transactions
from churn.engines import duckdb_engine
from churn.features.query import build_features
from churn.features.registry import FAMILIES, registry
from tests.reference_features import reference_features, reference_shop

WINDOWS = [30, 90, 180, 365]
HORIZON = 30
AS_OF = "2023-11-15"


@pytest.fixture(scope="module")
def shop() -> tuple[pd.DataFrame, pd.DataFrame]:
    return reference_shop(120)


def engine_features(tx: pd.DataFrame, customers: pd.DataFrame | None, as_of: str) -> pd.DataFrame:
    con = duckdb_engine.connect()
    ingest_transactions(con, SourceSpec(), frame=tx)
    if customers is not None:
        ingest_customers(
            con,
            SourceSpec(columns={"customer_id": "customer_id", "signup_ts": "signup_ts"}),
            frame=customers,
        )
    return build_features(con, [dt.date.fromisoformat(as_of)], WINDOWS, btyd_horizon_days=HORIZON)


@pytest.fixture(scope="module")
def both(shop) -> tuple[pd.DataFrame, pd.DataFrame]:
    tx, customers = shop
    got = engine_features(tx, customers, AS_OF).drop(columns="as_of").set_index("customer_id")
    want = reference_features(tx, AS_OF, WINDOWS, customers=customers, horizon=HORIZON)
    want = want.set_index("customer_id")
    return got, want


def test_same_population(both):
    got, want = both
    assert len(got) > 50
    assert list(got.index) == sorted(want.index)


@pytest.mark.parametrize("family", [*FAMILIES, "btyd"])
def test_family_matches_the_pandas_reference(both, family):
    got, want = both
    names = [f.name for f in registry(WINDOWS) if f.family == family]
    assert names and set(names) <= set(got.columns)
    pd.testing.assert_frame_equal(
        got[names], want.loc[got.index, names], check_exact=False, rtol=1e-9, atol=1e-9
    )


def test_every_feature_has_a_reference(both):
    got, want = both
    assert set(got.columns) == set(want.columns)


FUTURE_ROWS = st.lists(
    st.tuples(
        st.integers(0, 119),  # which customer
        st.integers(0, 200 * 86400 - 1),  # seconds after the end of the cutoff day
        st.floats(-50, 200, allow_nan=False),
        st.sampled_from(["web", "app", "store", None]),
        st.sampled_from([0.0, 2.5]),
        st.booleans(),  # a late line of an existing order instead of a new order
    ),
    min_size=1,
    max_size=40,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=FUTURE_ROWS)
def test_no_row_after_the_cutoff_changes_any_feature(shop, rows):
    tx, customers = shop
    past = tx[tx["ts"] < pd.Timestamp(AS_OF) + pd.Timedelta(days=1)]
    ids = sorted(tx["customer_id"].unique())
    start = pd.Timestamp(AS_OF) + pd.Timedelta(days=1)
    future = pd.DataFrame(
        [
            {
                "customer_id": ids[c],
                "order_id": past["order_id"].iloc[c] if late else f"F{i}",
                "ts": start + pd.Timedelta(seconds=s),
                "amount": amount,
                "quantity": 1.0,
                "product_id": "P9999",
                "category": "new-category",
                "discount": discount,
                "channel": channel,
            }
            for i, (c, s, amount, channel, discount, late) in enumerate(rows)
        ]
    ).astype({"ts": "datetime64[us]"})
    before = engine_features(past, customers, AS_OF)
    after = engine_features(pd.concat([past, future], ignore_index=True), customers, AS_OF)
    pd.testing.assert_frame_equal(before, after)


def test_docs_feature_reference_is_generated_from_the_registry():
    from pathlib import Path

    from churn.features.registry import markdown

    docs = Path(__file__).resolve().parents[1] / "docs" / "features.md"
    assert docs.read_text() == markdown(), (
        "run: python -m churn.features.registry > docs/features.md"
    )


def test_feature_names_are_unique_and_each_has_a_theme_and_a_description():
    from churn.features.registry import THEMES

    features = registry(WINDOWS)
    assert len({f.name for f in features}) == len(features) >= 50
    for f in features:
        assert f.theme in THEMES, f.name
        assert f.description
    assert {f.theme for f in features} == set(THEMES)


def test_the_feature_query_transpiles_to_spark_sql():
    from churn.engines.spark_engine import to_spark_sql
    from churn.features.query import OPTIONAL_COLUMNS, feature_sql
    from churn.features.registry import select_features

    available = [*OPTIONAL_COLUMNS, "customers"]
    features = select_features(WINDOWS, FAMILIES, available)
    duckdb_sql = feature_sql(features, available, 365)
    spark = to_spark_sql(duckdb_sql)
    # DuckDB's hint on the lines table has no Spark syntax: it is dropped.
    assert "NOT MATERIALIZED" in duckdb_sql and "MATERIALIZED" not in spark
    # Money is summed in exact decimals by DuckDB, in doubles by Spark.
    assert "AS DECIMAL(18, 4)) AS amount" in duckdb_sql
    assert "DECIMAL" not in spark.upper() and "CAST(t.amount AS DOUBLE) AS amount" in spark
    for f in features:
        if f.level != "btyd":
            assert f" AS {f.name}" in spark
