"""The Apache Spark engine (``engine=spark``): ingest, features and scoring on Spark.

Nothing is defined twice:

- **Ingest** reads the files with Spark, parses them with the query
  :func:`churn.data.ingest.parse_sql` writes (transpiled to Spark SQL), and checks the row
  rules with the same pandera schema, per partition (``mapInPandas``); the manifest and
  the quarantine are the DuckDB engine's.
- **Features**: the one query :func:`churn.features.query.feature_sql` builds from the registry
  is transpiled from DuckDB's SQL dialect to Spark SQL by sqlglot and run on the
  ``transactions`` (and ``customers``) views; the BG/NBD family reuses
  :func:`churn.features.query.btyd_features` on the transpiled summary query, and the table goes
  through the same :func:`churn.features.query.finish_table`, so both engines return identical
  tables (a parity test checks them to 1e-9).

Needs the ``spark`` extra (``pip install -e .[spark]``) and a Java runtime (17+).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from typing import Any

import pandas as pd
import sqlglot

from churn.data.ingest import (
    CSV_ENCODINGS,
    CUSTOMERS,
    DERIVED_ORDER_ID_SQL,
    TRANSACTIONS,
    IngestResult,
    LeftOut,
    Plausibility,
    SourceSpec,
    TableContract,
    check_bad_fraction,
    check_header,
    check_rows_kept,
    check_source,
    check_whole_columns,
    count_left_out,
    csv_encoding,
    header_less_names,
    ingest_manifest,
    is_csv,
    parse_sql,
    rule_columns,
    rule_failures,
    source_path,
)
from churn.errors import ConfigError, DataContractError
from churn.features.query import (
    BTYD_SUMMARY_SQL,
    OPTIONAL_COLUMNS,
    btyd_features,
    chosen_features,
    feature_sql,
    finish_table,
)
from churn.features.registry import DEFAULT_WINDOWS, FAMILIES

log = logging.getLogger(__name__)


_JAVA_CHARSETS = "spark.sql.legacy.javaCharsets"
# Charsets Spark 4 reads without spark.sql.legacy.javaCharsets.
_SPARK_CHARSETS = ("UTF-8", "UTF-16", "ISO-8859-1")


def to_spark_sql(duckdb_sql: str) -> str:
    """Transpile a query from DuckDB's dialect to Spark SQL (raises on anything sqlglot
    cannot translate)."""
    return sqlglot.transpile(
        duckdb_sql, read="duckdb", write="spark", unsupported_level=sqlglot.ErrorLevel.RAISE
    )[0]


def get_session(master: str | None = "local[*]", options: Mapping[str, Any] | None = None) -> Any:
    """A Spark session in UTC with the UI off (``options`` are extra Spark settings).

    On a ``local`` master the Python workers run this interpreter; on a cluster, the
    cluster's Python must have churn installed (see the README's deployment notes)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    if master:  # None: the master spark-submit or the platform (Databricks) set
        builder = builder.master(master)
    builder = (
        builder.appName("churn")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    if master and master.startswith("local"):
        # Python workers run this interpreter, which has churn installed (read when the
        # JVM starts a worker; the spark.pyspark.python setting is spark-submit's).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # PySpark 4 warns on every pandas conversion that it does not fully support pandas 3,
    # which churn uses and tests with (the parity tests compare the results).
    # (The driver's own warnings are filtered where a stage runs: churn.stages.common.)
    os.environ.setdefault(
        "PYTHONWARNINGS", "ignore:PySpark does not yet fully support:FutureWarning"
    )
    builder = builder.config("spark.sql.execution.arrow.pyspark.enabled", "true")
    # Spark 4 reads CSV in a short list of charsets unless told otherwise; windows-1252,
    # which data.csv.encoding accepts, is not among them.
    builder = builder.config(_JAVA_CHARSETS, "true")
    for key, value in (options or {}).items():
        builder = builder.config(key, str(value))
    session = builder.getOrCreate()
    try:
        # Spark's INFO and WARN lines (native libraries, plans) would bury the stage's log.
        session.sparkContext.setLogLevel("ERROR")
    except Exception:  # noqa: BLE001 - Spark Connect (Databricks serverless) has no context
        log.debug("no SparkContext: Spark's log level left as it is")
    return session


def available_inputs(spark: Any) -> list[str]:
    """Optional inputs present in the session's ``transactions`` and ``customers`` views."""
    columns = set(spark.table("transactions").columns)
    found = [c for c in OPTIONAL_COLUMNS if c in columns]
    if temp_view_exists(spark, "customers") and "signup_ts" in spark.table("customers").columns:
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
    """:func:`churn.features.query.build_features` on Spark: the same table, from the session's
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


# --- ingest -------------------------------------------------------------------------

# The staged rows' key: their position in the source (the first of identical rows).
_KEY = "_churn_row"
# Quarantined rows a failed ingest brings to the driver, to write (the counts are whole).
FAILED_QUARANTINE_ROWS = 100_000
_CORRUPT = "_corrupt_record"
# Spark's type names as DuckDB's, which the parse query is written against.
_DUCKDB_TYPES = {
    "string": "VARCHAR",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
    "timestamp_ntz": "TIMESTAMP",
    "date": "DATE",
    "boolean": "BOOLEAN",
}


def query_rows(spark: Any, duckdb_sql: str) -> list[tuple[Any, ...]]:
    """Run a DuckDB-dialect query on Spark; its rows as tuples."""
    return [tuple(row) for row in spark.sql(to_spark_sql(duckdb_sql)).collect()]


def date_range(spark: Any) -> tuple[dt.date, dt.date]:
    """First and last calendar date in the session's ``transactions`` view."""
    first, last = query_rows(
        spark, "SELECT CAST(MIN(ts) AS DATE), CAST(MAX(ts) AS DATE) FROM transactions"
    )[0]
    return first, last


def _spark_error(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _read(spark: Any, spec: SourceSpec) -> tuple[Any, bool]:
    """The source as a DataFrame, and whether it is a CSV file (its DataFrame then has the
    malformed lines in a ``_corrupt_record`` column)."""
    if spec.query:
        raise ConfigError(
            "engine=spark reads files: data.query is DuckDB SQL. Export the query's result "
            "to Parquet and set data.transactions, or use engine=duckdb"
        )
    if not spec.transactions:
        raise ConfigError("set data.transactions=PATH (CSV or Parquet)")
    path = source_path(spec)
    if not is_csv(path):
        return spark.read.option("mergeSchema", "true").parquet(path), False
    from pyspark.sql.types import StringType, StructField, StructType

    o = spec.csv
    charset = CSV_ENCODINGS[csv_encoding(o.encoding)][1]
    if charset not in _SPARK_CHARSETS and spark.conf.get(_JAVA_CHARSETS, "false") != "true":
        raise ConfigError(
            f"data.csv.encoding={o.encoding!r}: this Spark session reads it only with "
            f"{_JAVA_CHARSETS}=true (engine.options={{{_JAVA_CHARSETS}: true}}, or the "
            "cluster's settings); or convert the file to UTF-8, or use engine=duckdb"
        )
    # DuckDB's dialect: "" escapes a quote, quoted fields may span lines.
    options = {
        "header": str(o.header).lower(),
        "sep": o.delimiter,
        "quote": o.quote,
        "escape": o.quote,
        "multiLine": "true",
        "encoding": charset,
    }
    # The header as written: Spark's own reading renames a repeated name (amount3).
    first = spark.read.options(**{**options, "header": "false"}).csv(path).first()
    if first is None:
        raise DataContractError(f"{path}: empty file (no header, no rows)")
    names = [f"_c{i}" if v is None else str(v) for i, v in enumerate(first)]
    if o.header:
        check_header(path, names)
    else:  # DuckDB's names for header-less files
        names = header_less_names(len(names))
    schema = StructType([StructField(n, StringType()) for n in [*names, _CORRUPT]])
    frame = (
        spark.read.schema(schema)
        .options(**options, mode="PERMISSIVE", columnNameOfCorruptRecord=_CORRUPT)
        .csv(path)
    )
    return frame, True


def _partition_failures(
    batches: Iterator[pd.DataFrame],
    contract: TableContract,
    parsed_columns: list[str],
    max_abs_value: float,
) -> Iterator[pd.DataFrame]:
    for found in rule_failures(contract, parsed_columns, batches, max_abs_value):
        yield found.astype({"_row": "int64", "reason": "string"})


def _malformed_lines(frame: Any) -> pd.DataFrame:
    """Malformed CSV lines as quarantine rows (Spark does not say which line they were)."""
    lines = frame.filter(frame[_CORRUPT].isNotNull()).select(_CORRUPT).toPandas()[_CORRUPT]
    if not len(lines):
        return pd.DataFrame()
    return pd.DataFrame(
        {
            "source_line": pd.array([pd.NA] * len(lines), dtype="string"),
            "raw_line": pd.array(lines.tolist(), dtype="string"),
            "reason": pd.array(["csv line malformed"] * len(lines), dtype="string"),
        }
    )


def temp_view_exists(spark: Any, name: str) -> bool:
    """Whether the session has a temp view ``name`` (a permanent table of that name, as a
    shared Databricks catalog may have, does not count)."""
    return any(t.isTemporary and t.name == name for t in spark.catalog.listTables())


def drop_view(spark: Any, name: str) -> None:
    """Uncache and drop a temp view of the session, if there is one."""
    if temp_view_exists(spark, name):
        if spark.catalog.isCached(name):
            spark.catalog.uncacheTable(name)
        spark.catalog.dropTempView(name)


def ingest_table_spark(
    spark: Any,
    spec: SourceSpec,
    contract: TableContract,
    max_bad_fraction: float = 0.01,
    plausibility: Plausibility | None = None,
    left_out: LeftOut | None = None,
) -> IngestResult:
    """:func:`churn.data.ingest.ingest_table` on Spark: the ``contract.table`` temp view.

    The same contract checks, parse query, row rules, manifest and quarantine as DuckDB's.
    Differences: ``data.query`` is not supported (it is DuckDB SQL); a malformed CSV line
    is quarantined as ``csv line malformed`` without its line number; "the first of
    several rows" (a customer listed twice) follows Spark's order of the input files,
    which is the source order within one file; Spark's number and timestamp casts accept
    a few forms DuckDB rejects (``1.5d``, a year alone); Spark has no longest line, so
    a line DuckDB rejects as longer than its ``max_line_size`` is read like any other;
    a failed ingest (:class:`churn.data.ingest.TooManyBadRows`) carries the first
    :data:`FAILED_QUARANTINE_ROWS` quarantined rows, not all of them.
    """
    plausibility = plausibility or Plausibility()
    from pyspark.sql import functions as F
    from pyspark.storagelevel import StorageLevel

    name = spec.name
    for view in ("staged", "parsed", contract.table):
        drop_view(spark, view)
    cached: list[Any] = []

    def keep(frame: Any) -> Any:
        cached.append(frame.persist(StorageLevel.MEMORY_AND_DISK))
        return frame

    try:
        try:
            raw, csv_source = _read(spark, spec)
            rejects = pd.DataFrame()
            if csv_source:
                # Cached: Spark queries the corrupt-record column only on parsed rows.
                raw = keep(raw)
                rejects = _malformed_lines(raw)
                raw = raw.filter(raw[_CORRUPT].isNull()).drop(_CORRUPT)
            rows_in_table = raw.count()
        except (ConfigError, DataContractError):
            raise
        except Exception as exc:  # Spark's own error types (AnalysisException, Py4J...)
            raise DataContractError(f"{name}: cannot be read ({_spark_error(exc)})") from exc
        source_types = {
            f.name: _DUCKDB_TYPES.get(f.dataType.typeName(), f.dataType.typeName().upper())
            for f in raw.schema
        }
        found = ", ".join(source_types) or "(none)"
        rows_read = int(rows_in_table + len(rejects))
        present = check_source(name, contract, spec, source_types, rows_read)
        # Exact duplicates over all source columns: the first row stays.
        columns = [F.col(f"`{c}`") for c in source_types]
        staged = keep(
            raw.withColumn("_src_row", F.monotonically_increasing_id())
            .groupBy(*columns)
            .agg(F.min("_src_row").alias(_KEY))
        )
        staged.createOrReplaceTempView("staged")
        duplicates = int(rows_in_table - staged.count())

        sql, parsed_columns = parse_sql(
            contract, present, source_types, spec, _KEY, "spark", plausibility, left_out
        )
        try:
            parsed = spark.sql(to_spark_sql(sql))
            parsed.limit(1).collect()
        except Exception as exc:
            raise ConfigError(
                f"{name}: cannot parse with data.timezone={spec.timezone!r} and "
                f"data.date_format={spec.date_format!r} on Spark ({_spark_error(exc)})"
            ) from exc
        parsed.createOrReplaceTempView("parsed")
        check_whole_columns(
            partial(query_rows, spark), name, contract, present, source_types, found, spec
        )
        left_out_counts = count_left_out(partial(query_rows, spark), left_out)
        checked = parsed.filter(F.col("_left_out").isNull())
        bad = keep(
            checked.select("_row", *rule_columns(contract, parsed_columns)).mapInPandas(
                partial(
                    _partition_failures,
                    contract=contract,
                    parsed_columns=parsed_columns,
                    max_abs_value=plausibility.max_abs_value,
                ),
                schema="_row long, reason string",
            )
        )
        reason_counts = {r: int(n) for r, n in bad.groupBy("reason").count().collect()}
        if len(rejects):
            reason_counts["csv line malformed"] = len(rejects)
        bad_rows = keep(
            bad.groupBy("_row").agg(
                F.concat_ws("; ", F.array_sort(F.collect_set("reason"))).alias("reason")
            )
        )
        rows_quarantined = int(bad_rows.count() + len(rejects))
        rows_checked = (
            rows_read
            - left_out_counts["rows_without_customer"]
            - left_out_counts["rows_excluded_products"]
        )
        over_limit = rows_quarantined > max_bad_fraction * rows_checked
        quarantined = (
            staged.join(bad_rows, staged[_KEY] == bad_rows["_row"])
            .orderBy("_row")
            .drop(_KEY, "_row")
        )
        if over_limit:
            quarantined = quarantined.limit(FAILED_QUARANTINE_ROWS)
        quarantine = quarantined.toPandas()
        quarantine = quarantine.astype({c: "string" for c in quarantine.columns})
        if len(rejects):
            quarantine = pd.concat([quarantine, rejects], ignore_index=True)
        manifest = partial(
            ingest_manifest,
            name,
            rows_read,
            rows_quarantined,
            duplicates,
            reason_counts,
            present,
            spec,
            plausibility,
            left_out_counts,
        )
        check_bad_fraction(name, contract, max_bad_fraction, quarantine, manifest)

        output = [
            c for c in contract.kinds if c in parsed_columns and c not in contract.inputs_only
        ]
        table = checked.join(bad_rows.select("_row"), "_row", "left_anti")
        if contract.unique:  # a small table, kept in source order as DuckDB does
            table = table.orderBy("_row")
        table = table.select(*output)
        table.createOrReplaceTempView(contract.table)
        if contract is TRANSACTIONS and "order_id" not in output:
            # Without order ids: one order per (customer, timestamp), as the contract says.
            derived = spark.sql(to_spark_sql(DERIVED_ORDER_ID_SQL))
            derived.createOrReplaceTempView(contract.table)
        spark.catalog.cacheTable(contract.table, StorageLevel.MEMORY_AND_DISK)
        rows_kept, customers = (
            spark.table(contract.table).agg(F.count("*"), F.countDistinct("customer_id")).first()
        )
    finally:
        for view in ("parsed", "staged"):
            spark.catalog.dropTempView(view)
        for frame in cached:
            frame.unpersist()
    result = IngestResult(
        manifest=manifest(rows_kept=int(rows_kept), customers=int(customers)),
        quarantine=quarantine,
    )
    if rows_kept == 0:
        drop_view(spark, contract.table)
    check_rows_kept(name, result.manifest)
    return result


def ingest_transactions_spark(
    spark: Any,
    spec: SourceSpec,
    max_bad_fraction: float = 0.01,
    plausibility: Plausibility | None = None,
    left_out: LeftOut | None = None,
) -> IngestResult:
    """:func:`churn.data.ingest.ingest_transactions` on Spark: the ``transactions`` view."""
    result = ingest_table_spark(
        spark, spec, TRANSACTIONS, max_bad_fraction, plausibility, left_out or LeftOut()
    )
    ts_min, ts_max = query_rows(spark, "SELECT MIN(ts), MAX(ts) FROM transactions")[0]
    result.manifest.update({"ts_min": str(ts_min), "ts_max": str(ts_max)})
    return result


def ingest_customers_spark(
    spark: Any,
    spec: SourceSpec,
    max_bad_fraction: float = 0.01,
    plausibility: Plausibility | None = None,
) -> IngestResult:
    """:func:`churn.data.ingest.ingest_customers` on Spark: the ``customers`` view."""
    return ingest_table_spark(spark, spec, CUSTOMERS, max_bad_fraction, plausibility)
