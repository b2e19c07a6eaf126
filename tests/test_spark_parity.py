"""Spark and DuckDB compute the same feature table from the same definitions (issue 8).

Marked ``spark`` (a Spark session takes seconds to start): run by `make test-spark`.
Skipped, saying why, without PySpark (`pip install -e .[spark]`) or Java 17+.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from churn.data.synth import ShopSpec, generate_transactions
from churn.engines import duckdb_engine
from churn.features.query import build_features
from tests.conftest import connect_to, has_java_17

pyspark = pytest.importorskip("pyspark", reason="the spark extra is not installed")
pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(not has_java_17(), reason="Spark 4 needs a Java 17+ runtime"),
]


@pytest.fixture(scope="module")
def shop():
    return generate_transactions(ShopSpec(n_customers=400, days=500, seed=5))


@pytest.fixture(scope="module")
def spark():
    from churn.engines.spark_engine import get_session

    session = get_session("local[2]", {"spark.sql.shuffle.partitions": 4})
    yield session
    session.stop()


def test_spark_and_duckdb_feature_tables_are_equal_with_every_family(shop, spark):
    con = connect_to(shop)
    canonical = con.execute("SELECT * FROM transactions").df()
    _, last = duckdb_engine.date_range(con)
    cutoffs = [last - dt.timedelta(days=60), last]
    duck = build_features(con, cutoffs, btyd_horizon_days=90)

    from churn.engines.spark_engine import build_features_spark

    spark.createDataFrame(canonical).createOrReplaceTempView("transactions")
    on_spark = build_features_spark(spark, cutoffs, btyd_horizon_days=90)

    assert list(on_spark.columns) == list(duck.columns)
    assert len(duck.columns) >= 53
    pd.testing.assert_frame_equal(on_spark, duck, check_exact=False, rtol=0, atol=1e-9)
