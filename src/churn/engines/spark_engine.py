"""The Apache Spark engine (``engine=spark``): ingest, features and scoring on Spark.

:class:`SparkEngine` is the :class:`churn.engines.base.Engine` over a Spark session: its
tables are temp views, and every query is written in DuckDB's SQL and transpiled to Spark
SQL by sqlglot (:func:`to_spark_sql`), so nothing is defined twice:

- **Ingest** is the one algorithm of :mod:`churn.data.ingest`: the files are read by
  Spark, and the parse query and the row rules run as Spark SQL (no Python per row).
- **Features**: the one query :func:`churn.features.query.feature_sql` builds from the
  registry runs on the ``transactions`` (and ``customers``) views; the BG/NBD family reuses
  :func:`churn.features.query.btyd_features` on the transpiled summary query, and the table
  goes through the same :func:`churn.features.query.finish_table`, so both engines return
  identical tables (a parity test checks them to 1e-9).
- **Scoring** runs the registered model as a UDF on the workers.

Needs the ``spark`` extra (``pip install -e .[spark]``) and a Java runtime (17+).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import sqlglot

from churn.data.contract import CSV_ENCODINGS, SourceSpec, csv_encoding, ident
from churn.data.sources import check_header, header_less_names, is_csv, source_path
from churn.engines.base import EngineError, SourceRead
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
    cannot translate). DuckDB's ``[NOT] MATERIALIZED`` hints on common table expressions
    are dropped: Spark has no such syntax and plans them itself. The exact decimals the
    feature query sums money in (:data:`churn.features.query.MONEY_SQL_TYPE`) stay
    doubles: Spark divides decimals into decimals of 6 places, so the share features
    would lose digits, and sums its 38-digit decimals far more slowly than doubles."""
    tree = sqlglot.parse_one(duckdb_sql, read="duckdb")
    for cte in tree.find_all(sqlglot.exp.CTE):
        cte.set("materialized", None)
    for cast in tree.find_all(sqlglot.exp.Cast):
        if cast.to.is_type(sqlglot.exp.DataType.Type.DECIMAL):
            cast.set("to", sqlglot.exp.DataType.build("double"))
    return tree.sql(dialect="spark", unsupported_level=sqlglot.ErrorLevel.RAISE)


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
        # churn keeps only temporary views: without this Spark would leave an empty
        # spark-warehouse/ folder in whatever folder the command was run from.
        warehouse = Path(tempfile.gettempdir()) / "churn-spark-warehouse"
        builder = builder.config("spark.sql.warehouse.dir", warehouse.as_uri())
    # PySpark 4 warns on every pandas conversion that it does not fully support pandas 3,
    # which churn uses and tests with (the parity tests compare the results).
    # (The driver's own warnings are filtered where a stage runs: churn.stages.cli.)
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


def local_uri(path: Path) -> str:
    """A local path as a ``file://`` URI: Spark would resolve a bare path against the
    cluster's default file system (HDFS under YARN)."""
    return Path(path).resolve().as_uri()


class SparkEngine:
    """:class:`churn.engines.base.Engine` on a Spark session (its temp views).

    Differences from DuckDB an ingest shows: ``data.query`` is not supported (it is DuckDB
    SQL); a malformed CSV line is quarantined as ``csv line malformed`` without its line
    number; "the first of several rows" (a customer listed twice) follows Spark's order of
    the input files, which is the source order within one file; Spark's number and
    timestamp casts accept a few forms DuckDB rejects (``1.5d``, a year alone); Spark has no
    longest line; a failed ingest carries the first :data:`FAILED_QUARANTINE_ROWS`
    quarantined rows, not all of them.
    """

    dialect = "spark"
    failed_quarantine_rows: int | None = FAILED_QUARANTINE_ROWS
    feature_night: dict[str, Any] | None = None

    def __init__(self, spark: Any) -> None:
        self.spark = spark
        # DataFrames persisted for a view, unpersisted when it is dropped.
        self._kept: dict[str, list[Any]] = {}

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Run a DuckDB-dialect query; its rows as tuples."""
        return query_rows(self.spark, sql)

    def frame(self, sql: str) -> pd.DataFrame:
        """Run a DuckDB-dialect query; its rows as a pandas frame (on the driver)."""
        return self.spark.sql(to_spark_sql(sql)).toPandas()

    def columns(self, table: str) -> list[str] | None:
        """The columns of the temp view ``table``; ``None`` when there is none."""
        if not temp_view_exists(self.spark, table):
            return None
        return list(self.spark.table(table).columns)

    def create(self, table: str, sql: str, *, materialize: bool = True) -> None:
        """Create or replace the temp view ``table``, cached when ``materialize``."""
        try:
            frame = self.spark.sql(to_spark_sql(sql))
            if not materialize:  # Spark is lazy: a view's errors show on its first row
                frame.limit(1).collect()
        except Exception as exc:  # Spark's own error types (AnalysisException, Py4J...)
            raise EngineError(_spark_error(exc)) from exc
        self._register(table, frame, materialize)

    def _register(self, table: str, frame: Any, keep: bool) -> None:
        from pyspark.storagelevel import StorageLevel

        self.drop(table)
        if keep:
            frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
            self._kept[table] = [frame]
        frame.createOrReplaceTempView(table)

    def drop(self, table: str) -> None:
        """Drop (and uncache) the temp view ``table``, if there is one."""
        for frame in self._kept.pop(table, []):
            frame.unpersist()
        drop_view(self.spark, table)

    def read_frame(self, frame: pd.DataFrame, table: str) -> SourceRead:
        """Copy an in-memory frame into the temp view ``table``."""
        check_header("<in-memory frame>", [str(c) for c in frame.columns])
        raw = self.spark.createDataFrame(frame)
        self._register(table, raw, True)
        return SourceRead(_source_types(raw), pd.DataFrame())

    def read_source(self, spec: SourceSpec, table: str) -> SourceRead:
        """Read Parquet or CSV files (every column as text; malformed lines become
        rejects) into the temp view ``table``."""
        from pyspark.storagelevel import StorageLevel

        rejects = pd.DataFrame()
        try:
            raw, csv_source = _read(self.spark, spec)
            if csv_source:
                # Cached: Spark queries the corrupt-record column only on parsed rows.
                whole = raw.persist(StorageLevel.MEMORY_AND_DISK)
                rejects = _malformed_lines(whole)
                raw = whole.filter(whole[_CORRUPT].isNull()).drop(_CORRUPT)
            self._register(table, raw, False)
            if csv_source:
                self._kept[table] = [whole]
            raw.limit(1).collect()
        except (ConfigError, DataContractError):
            raise
        except Exception as exc:
            raise DataContractError(f"{spec.name}: cannot be read ({_spark_error(exc)})") from exc
        return SourceRead(_source_types(raw), rejects)

    def deduplicate(self, source: str, target: str, keep_first: bool) -> str:
        """The distinct rows of ``source`` as the cached view ``target``, keyed by the
        position of the first of identical rows (whatever ``keep_first`` says: Spark has
        no cheaper key)."""
        from pyspark.sql import functions as F

        raw = self.spark.table(source)
        columns = [F.col(f"`{c}`") for c in raw.columns]
        staged = (
            raw.withColumn("_src_row", F.monotonically_increasing_id())
            .groupBy(*columns)
            .agg(F.min("_src_row").alias(_KEY))
        )
        self._register(target, staged, True)
        return _KEY

    def keep_rows(
        self,
        source: str,
        target: str,
        columns: Sequence[str],
        where: str,
        order_by: str | None = None,
    ) -> None:
        """The cached view ``target``: ``columns`` of the rows of ``source`` where
        ``where`` holds (ordered by ``order_by``, if given); ``source`` stays until the
        caller drops it, so that ``target`` is filled from its cache."""
        order = f" ORDER BY {order_by}" if order_by else ""
        self.create(
            target,
            f"SELECT {', '.join(ident(c) for c in columns)} FROM {source} WHERE {where}{order}",
        )

    def write_parquet(self, table: str, target: Path) -> None:
        """Write ``table`` as a folder of Parquet part files, which every reader of
        ``data.transactions`` accepts."""
        self.spark.table(table).write.mode("overwrite").parquet(local_uri(target))

    def write_frame(self, frame: pd.DataFrame, target: Path, partition_by: str) -> None:
        """Write ``frame`` as a Parquet folder partitioned by ``partition_by``
        (``risk_tier=high/part-*.parquet``), as a data lake table expects."""
        data = self.spark.createDataFrame(frame)
        data.write.mode("overwrite").partitionBy(partition_by).parquet(local_uri(target))

    def features(
        self,
        cutoffs: Sequence[dt.date],
        windows: Sequence[int],
        active_lookback_days: int,
        families: Sequence[str],
        btyd_horizon_days: int | None,
    ) -> pd.DataFrame:
        """:func:`build_features_spark` on this session."""
        return build_features_spark(
            self.spark, cutoffs, windows, active_lookback_days, families, btyd_horizon_days
        )

    def date_range(self) -> tuple[dt.date, dt.date]:
        """First and last calendar date with a transaction."""
        return date_range(self.spark)

    def predict(self, classifier: Any, features: pd.DataFrame, remote: Callable[[Any], Any]) -> Any:
        """Probabilities from the UDF ``remote(session)`` returns, run on the workers over
        the classifier's feature columns, in the order of ``features``' customers."""
        names = list(classifier.feature_names)
        udf = remote(self.spark)
        frame = self.spark.createDataFrame(features[["customer_id", *names]])
        predicted = frame.select("customer_id", udf(*names).alias("p")).toPandas()
        by_customer = predicted.set_index("customer_id")["p"]
        return by_customer.reindex(features["customer_id"]).to_numpy(dtype="float64")

    def duckdb_connection(self) -> Any:
        """Always :class:`ConfigError`: this is not DuckDB."""
        raise ConfigError("this stage runs on DuckDB only; drop the engine=spark override")


def _source_types(frame: Any) -> dict[str, str]:
    return {
        f.name: _DUCKDB_TYPES.get(f.dataType.typeName(), f.dataType.typeName().upper())
        for f in frame.schema
    }
