"""The Apache Spark engine for the feature stage (work in progress, issue 8).

The feature definitions are not copied: the one query :func:`churn.features.feature_sql`
builds from the registry is transpiled from DuckDB's SQL dialect to Spark SQL by sqlglot
and run on the ``transactions`` (and ``customers``) views of a Spark session; the BG/NBD
family reuses :func:`churn.features.btyd_features` on the transpiled summary query. The
result goes through the same :func:`churn.features.finish_table` as DuckDB's, so both
engines return identical tables (a parity test checks them to 1e-9).

Needs the ``spark`` extra (``pip install -e .[spark]``) and a Java runtime (17+).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import sqlglot

from churn.feature_registry import DEFAULT_WINDOWS, FAMILIES
from churn.features import (
    BTYD_SUMMARY_SQL,
    OPTIONAL_COLUMNS,
    btyd_features,
    chosen_features,
    feature_sql,
    finish_table,
)


def to_spark_sql(duckdb_sql: str) -> str:
    """Transpile a query from DuckDB's dialect to Spark SQL (raises on anything sqlglot
    cannot translate)."""
    return sqlglot.transpile(
        duckdb_sql, read="duckdb", write="spark", unsupported_level=sqlglot.ErrorLevel.RAISE
    )[0]


def local_session(master: str = "local[*]", options: Mapping[str, Any] | None = None) -> Any:
    """A Spark session in UTC with the UI off (``options`` are extra Spark settings)."""
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master(master)
        .appName("churn")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
    )
    for key, value in (options or {}).items():
        builder = builder.config(key, str(value))
    return builder.getOrCreate()


def available_inputs(spark: Any) -> list[str]:
    """Optional inputs present in the session's ``transactions`` and ``customers`` views."""
    columns = set(spark.table("transactions").columns)
    found = [c for c in OPTIONAL_COLUMNS if c in columns]
    if spark.catalog.tableExists("customers") and "signup_ts" in spark.table("customers").columns:
        found.append("customers")
    return found


def build_features_spark(
    spark: Any,
    cutoffs: Sequence[dt.date],
    windows: Sequence[int] = DEFAULT_WINDOWS,
    active_lookback_days: int = 365,
    families: Sequence[str] = FAMILIES,
    btyd_horizon_days: int | None = None,
) -> pd.DataFrame:
    """:func:`churn.features.build_features` on Spark: the same table, from the session's
    ``transactions`` view (canonical columns, as ingest writes them)."""
    available = available_inputs(spark)
    features = chosen_features(
        windows, active_lookback_days, families, btyd_horizon_days, available
    )
    dates = pd.DataFrame({"as_of": pd.to_datetime(sorted(set(cutoffs))).date})
    spark.createDataFrame(dates).createOrReplaceTempView("cutoff_dates")
    table = spark.sql(
        to_spark_sql(feature_sql(features, available, active_lookback_days))
    ).toPandas()
    btyd = None
    if btyd_horizon_days:
        summary = spark.sql(to_spark_sql(BTYD_SUMMARY_SQL)).toPandas()
        btyd = btyd_features(summary, int(btyd_horizon_days))
    return finish_table(table, features, btyd)
