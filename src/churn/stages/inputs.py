"""A stage's input: the configured engine, the shop's data ingested into its
``transactions`` (and ``customers``) table, and what ingest reported."""

from __future__ import annotations

import datetime as dt
import glob
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from churn.config import register_resolvers
from churn.data.ingest import (
    CsvOptions,
    IngestResult,
    LeftOut,
    Plausibility,
    SourceSpec,
    TooManyBadRows,
    ingest_customers,
    ingest_transactions,
)
from churn.engines import duckdb_engine
from churn.errors import ConfigError, DataContractError
from churn.features.query import build_features
from churn.stages.outputs import write_json
from churn.stages.run_context import log, parse_date


def source_spec(data_cfg: DictConfig, table: str = "transactions") -> SourceSpec:
    """The ingest source of ``table`` (``transactions`` or ``customers``) in the ``data``
    config group."""
    register_resolvers()
    csv = data_cfg.csv
    if table == "customers":
        where = {"transactions": data_cfg.customers, "query": None, "database": None}
        columns = dict(data_cfg.customer_columns)
    else:
        where = {
            "transactions": data_cfg.transactions,
            "query": data_cfg.query,
            "database": data_cfg.database,
        }
        columns = dict(data_cfg.columns)
    return SourceSpec(
        **where,
        columns=columns,
        csv=CsvOptions(
            delimiter=csv.delimiter,
            decimal=csv.decimal,
            thousands=csv.thousands,
            header=bool(csv.header),
            quote=csv.quote,
            encoding=csv.encoding,
        ),
        date_format=data_cfg.date_format,
        timezone=data_cfg.timezone,
    )


@dataclass
class OpenedData:
    """The ingested ``transactions`` table of a stage, on its engine, and what ingest
    reported.

    With ``engine=duckdb`` the tables live in ``con``; with ``engine=spark`` they are
    temp views of the Spark session ``spark`` and ``con`` is ``None``. Stages reach them
    through :meth:`rows`, :meth:`columns` and :meth:`features`, whichever the engine.
    """

    con: duckdb.DuckDBPyConnection | None
    first_date: dt.date
    last_date: dt.date
    ingest: IngestResult
    customers: IngestResult | None = None
    spark: Any = None

    @property
    def engine(self) -> str:
        """``duckdb`` or ``spark``."""
        return "spark" if self.spark is not None else "duckdb"

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Run a query written in DuckDB's SQL on the engine; its rows."""
        if self.spark is not None:
            from churn.engines.spark_engine import query_rows

            return query_rows(self.spark, sql)
        assert self.con is not None
        return self.con.execute(sql).fetchall()

    def columns(self, table: str) -> list[str] | None:
        """The columns of ``table`` (``transactions`` or ``customers``), ``None`` when the
        table was not ingested."""
        if self.spark is not None:
            from churn.engines.spark_engine import temp_view_exists

            if not temp_view_exists(self.spark, table):
                return None
            return list(self.spark.table(table).columns)
        assert self.con is not None
        tables = {
            r[0] for r in self.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        }
        if table not in tables:
            return None
        return [r[0] for r in self.con.execute(f"DESCRIBE {table}").fetchall()]

    def features(
        self,
        cutoffs: list[dt.date],
        windows: list[int],
        active_lookback_days: int,
        families: list[str],
        btyd_horizon_days: int | None,
    ) -> pd.DataFrame:
        """The feature table at ``cutoffs`` (see :func:`churn.features.query.build_features`),
        computed by the engine."""
        if self.spark is not None:
            from churn.engines.spark_engine import build_features_spark

            return build_features_spark(
                self.spark, cutoffs, windows, active_lookback_days, families, btyd_horizon_days
            )
        assert self.con is not None
        return build_features(
            self.con, cutoffs, windows, active_lookback_days, families, btyd_horizon_days
        )

    def write_parquet(self, table: str, target: Path) -> None:
        """Write an ingested table as Parquet: one file (DuckDB) or a folder of part files
        (Spark), which every reader of ``data.transactions`` accepts."""
        if self.spark is not None:
            self.spark.table(table).write.mode("overwrite").parquet(local_uri(target))
            return
        assert self.con is not None
        path = str(target).replace("'", "''")
        self.con.execute(f"COPY {table} TO '{path}' (FORMAT parquet)")


def local_uri(path: Path) -> str:
    """A local path as a ``file://`` URI: Spark would resolve a bare path against the
    cluster's default file system (HDFS under YARN)."""
    return Path(path).resolve().as_uri()


def spark_session(engine_cfg: DictConfig) -> Any:
    """The Spark session ``engine=spark`` configures (``engine.master``, ``engine.options``),
    without the ``transactions`` and ``customers`` views of an earlier run in it."""
    if importlib.util.find_spec("pyspark") is None:
        raise ConfigError(
            "engine=spark needs the spark extra: .venv/bin/pip install -e '.[spark]' "
            "(and a Java 17+ runtime)"
        )
    from churn.engines.spark_engine import drop_view, get_session

    options = OmegaConf.to_container(engine_cfg.options, resolve=True) if engine_cfg.options else {}
    master = engine_cfg.master
    try:
        spark = get_session(None if master is None else str(master), options)
    except Exception as exc:  # no Java, a bad master URL, a bad setting
        raise ConfigError(
            f"engine=spark: cannot start Spark with master={master!r} "
            f"({str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}); "
            "Spark needs Java 17+ (JAVA_HOME or java on PATH)"
        ) from exc
    for view in ("transactions", "customers"):
        drop_view(spark, view)
    return spark


def require_duckdb(cfg: DictConfig, stage: str, why: str) -> None:
    """:class:`ConfigError` when a stage that runs on DuckDB only is given another engine."""
    if cfg.engine.name != "duckdb":
        raise ConfigError(
            f"the {stage} stage runs on DuckDB ({why}); engine={cfg.engine.name} serves "
            "ingest, features and score. Drop the engine override for this stage"
        )


def open_transactions(cfg: DictConfig, manifest_name: str = "ingest_manifest.json") -> OpenedData:
    """Connect the configured engine and ingest ``cfg.data`` into its ``transactions`` table.

    ``ingest.valid_until: null`` is the day after today: the one place ingest reads the
    clock (the window used is in the manifest). When too many rows are bad, the manifest
    of counts (``manifest_name``) and the quarantined rows (``quarantine.csv``, or
    ``customers_quarantine.csv``) are left in the stage's run folder all the same, and
    the error names them.
    """
    try:
        return _open_transactions(cfg)
    except TooManyBadRows as exc:
        folder = _run_folder(cfg)
        if folder is None:
            raise
        written = _write_failed_report(exc, folder, manifest_name)
        raise DataContractError(
            f"{exc}. The rejected rows, each with its reason, are in {written[-1]}; the "
            f"counts in {written[0]}"
        ) from exc


def _run_folder(cfg: DictConfig) -> Path | None:
    """The folder a stage writes its run's files to: ``output_dir``, or Hydra's run folder
    (the score stage's log folder); ``None`` outside Hydra without ``output_dir``."""
    try:
        if cfg.get("output_dir"):
            return Path(cfg.output_dir)
    except OmegaConfBaseException:  # ${hydra:runtime.output_dir} outside Hydra
        pass
    try:
        from hydra.core.hydra_config import HydraConfig

        return Path(HydraConfig.get().runtime.output_dir)
    except ValueError:  # not under Hydra (a test, a notebook)
        return None


def _write_failed_report(exc: TooManyBadRows, folder: Path, manifest_name: str) -> list[Path]:
    """Write a failed ingest's manifest and quarantine to ``folder``; the files written
    (the manifest first)."""
    folder.mkdir(parents=True, exist_ok=True)
    prefix = "" if exc.table == "transactions" else f"{exc.table}_"
    written = [folder / manifest_name, folder / f"{prefix}quarantine.csv"]
    manifest = exc.result.manifest
    if prefix:  # where a stage's manifest keeps the customers table's counts
        manifest = {"customers_table": manifest}
    write_json(written[0], manifest)
    exc.result.quarantine.to_csv(written[1], index=False)
    return written


def _open_transactions(cfg: DictConfig) -> OpenedData:
    limit = float(cfg.ingest.max_bad_fraction)
    valid_until = cfg.ingest.valid_until
    plausibility = Plausibility(
        max_abs_value=float(cfg.ingest.max_abs_value),
        valid_from=parse_date(cfg.ingest.valid_from, "ingest.valid_from"),
        valid_until=(
            dt.date.today() + dt.timedelta(days=1)
            if valid_until is None
            else parse_date(valid_until, "ingest.valid_until")
        ),
    )
    left_out = LeftOut(
        without_customer=str(cfg.ingest.get("without_customer", "drop")),
        products=tuple(str(p) for p in cfg.data.get("exclude_products") or ()),
    )
    if cfg.engine.name == "spark":
        from churn.engines import spark_engine

        spark = spark_session(cfg.engine)
        result = spark_engine.ingest_transactions_spark(
            spark, source_spec(cfg.data), limit, plausibility, left_out
        )
        customers = None
        if cfg.data.customers:
            customers = spark_engine.ingest_customers_spark(
                spark, source_spec(cfg.data, "customers"), limit, plausibility
            )
        first, last = spark_engine.date_range(spark)
        log.info("transactions %s (Spark): %s to %s", result.manifest["source"], first, last)
        return OpenedData(
            con=None,
            first_date=first,
            last_date=last,
            ingest=result,
            customers=customers,
            spark=spark,
        )
    if cfg.engine.name != "duckdb":
        raise ConfigError(f"engine.name must be duckdb or spark, got {cfg.engine.name!r}")
    con = duckdb_engine.connect(
        threads=cfg.engine.threads,
        memory_limit=cfg.engine.memory_limit,
        temp_directory=cfg.engine.temp_directory,
    )
    result = ingest_transactions(
        con,
        source_spec(cfg.data),
        max_bad_fraction=limit,
        batch_rows=int(cfg.ingest.batch_rows),
        plausibility=plausibility,
        left_out=left_out,
    )
    customers = None
    if cfg.data.customers:
        customers = ingest_customers(
            con,
            source_spec(cfg.data, "customers"),
            max_bad_fraction=limit,
            batch_rows=int(cfg.ingest.batch_rows),
            plausibility=plausibility,
        )
    first, last = duckdb_engine.date_range(con)
    log.info("transactions %s: %s to %s", result.manifest["source"], first, last)
    return OpenedData(con=con, first_date=first, last_date=last, ingest=result, customers=customers)


def combined_manifest(opened: OpenedData) -> dict[str, Any]:
    """The transactions manifest, with the customers table's under ``customers_table``."""
    manifest = dict(opened.ingest.manifest)
    if opened.customers is not None:
        manifest["customers_table"] = opened.customers.manifest
    return manifest


def write_ingest_report(opened: OpenedData, folder: Path) -> list[Path]:
    """Write ``ingest_manifest.json`` and, when rows were rejected, ``quarantine.csv``
    (and ``customers_quarantine.csv``); returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "ingest_manifest.json"]
    write_json(written[0], combined_manifest(opened))
    quarantines = [("quarantine.csv", opened.ingest)]
    if opened.customers is not None:
        quarantines.append(("customers_quarantine.csv", opened.customers))
    for filename, result in quarantines:
        if len(result.quarantine):
            result.quarantine.to_csv(folder / filename, index=False)
            written.append(folder / filename)
    return written


def input_fingerprint(opened: OpenedData) -> dict[str, Any]:
    """What was read: the source, its files' total size in bytes (file sources), the rows
    read and the latest timestamp."""
    source = opened.ingest.manifest["source"]
    size = None
    path = Path(source)
    if path.is_file():
        size = path.stat().st_size
    elif path.is_dir():
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    elif any(c in source for c in "*?["):
        # glob.glob takes absolute patterns too (Path.glob does not).
        files = [Path(f) for f in glob.glob(source, recursive=True)]
        size = sum(f.stat().st_size for f in files if f.is_file()) or None
    max_ts = opened.rows("SELECT MAX(ts) FROM transactions")[0][0]
    return {
        "source": source,
        "bytes": size,
        "rows": opened.ingest.manifest["rows_read"],
        "max_ts": None if max_ts is None else str(max_ts),
    }
