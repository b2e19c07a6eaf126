"""A stage's input: the configured engine, the shop's data ingested into its
``transactions`` (and ``customers`` and ``contacts``) table, and what ingest reported."""

from __future__ import annotations

import datetime as dt
import glob
import importlib.util
from collections.abc import Mapping
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
    ingest_contacts,
    ingest_customers,
    ingest_transactions,
)
from churn.engines import duckdb_engine
from churn.engines.base import Engine
from churn.errors import ConfigError, DataContractError
from churn.stages.outputs import write_json
from churn.stages.run_context import log, parse_date


def source_spec(data_cfg: DictConfig, table: str = "transactions") -> SourceSpec:
    """The ingest source of ``table`` (``transactions``, ``customers`` or ``contacts``) in
    the ``data`` config group; the tables other than ``transactions`` are files only: the
    customers table read with the same ``data.csv``, ``data.date_format`` and
    ``data.timezone``, the contact log (a campaign tool's export) with its own
    ``data.contact_csv``, ``data.contact_date_format`` and ``data.contact_timezone``."""
    register_resolvers()
    csv = data_cfg.csv
    if table == "customers":
        where = {"transactions": data_cfg.customers, "query": None, "database": None}
        columns = dict(data_cfg.customer_columns)
    elif table == "contacts":
        where = {"transactions": data_cfg.contacts, "query": None, "database": None}
        columns = dict(data_cfg.contact_columns)
    else:
        where = {
            "transactions": data_cfg.transactions,
            "query": data_cfg.query,
            "database": data_cfg.database,
        }
        columns = dict(data_cfg.columns)
    if table == "contacts":
        # A campaign tool's export: its own dialect, time format and time zone.
        return SourceSpec(
            **where,
            columns=columns,
            csv=CsvOptions(
                delimiter=data_cfg.contact_csv.delimiter, encoding=data_cfg.contact_csv.encoding
            ),
            date_format=data_cfg.contact_date_format,
            timezone=data_cfg.contact_timezone,
        )
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
    reported (for the ``customers`` table too, and for ``contacts`` once
    :func:`open_contacts` has read the contact log). Stages reach the tables through
    :meth:`rows`, :meth:`columns`, :meth:`features` and :meth:`write_parquet`, or the
    :attr:`engine` itself, never asking which engine it is."""

    engine: Engine
    first_date: dt.date
    last_date: dt.date
    ingest: IngestResult
    customers: IngestResult | None = None
    contacts: IngestResult | None = None

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection of the stages that run on DuckDB only (train, report)."""
        return self.engine.duckdb_connection()

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Run a query written in DuckDB's SQL on the engine; its rows."""
        return self.engine.rows(sql)

    def columns(self, table: str) -> list[str] | None:
        """The columns of ``table`` (``transactions``, ``customers`` or ``contacts``),
        ``None`` when the table was not ingested."""
        return self.engine.columns(table)

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
        return self.engine.features(
            cutoffs, windows, active_lookback_days, families, btyd_horizon_days
        )

    def write_parquet(self, table: str, target: Path) -> None:
        """Write an ingested table as Parquet: one file (DuckDB) or a folder of part files
        (Spark), which every reader of ``data.transactions`` accepts."""
        self.engine.write_parquet(table, target)


def spark_session(engine_cfg: DictConfig) -> Any:
    """The Spark session ``engine=spark`` configures (``engine.master``, ``engine.options``),
    without the ``transactions``, ``customers`` and ``contacts`` views of an earlier run in
    it."""
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
    for view in ("transactions", "customers", "contacts"):
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


def _write_failed_report(
    exc: TooManyBadRows,
    folder: Path,
    manifest_name: str,
    alongside: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Write a failed ingest's manifest and quarantine to ``folder``; the files written
    (the manifest first). A table other than ``transactions`` has its quarantine as
    ``<table>_quarantine.csv`` and its counts under ``<table>_table``, where a stage's
    manifest keeps them, next to ``alongside`` (the tables ingested before it)."""
    folder.mkdir(parents=True, exist_ok=True)
    prefix = "" if exc.table == "transactions" else f"{exc.table}_"
    written = [folder / manifest_name, folder / f"{prefix}quarantine.csv"]
    manifest = exc.result.manifest
    if prefix:
        manifest = {**(alongside or {}), f"{exc.table}_table": manifest}
    write_json(written[0], manifest)
    exc.result.quarantine.to_csv(written[1], index=False)
    return written


def open_contacts(
    cfg: DictConfig, opened: OpenedData, manifest_name: str = "ingest_manifest.json"
) -> IngestResult | None:
    """Ingest the contact log ``cfg.data.contacts`` into ``opened.engine``'s ``contacts``
    table, and set ``opened.contacts``; ``None`` (and nothing read) when it is not set.

    Checked as the transactions are, with the same ``ingest.*`` limits and plausible
    window. When too many rows are bad, the manifest (``manifest_name``: the tables
    opened so far and the contact log's counts under ``contacts_table``) and the rejected
    rows (``contacts_quarantine.csv``) are left in the stage's run folder all the same,
    and the :class:`~churn.errors.DataContractError` (exit code 3) names them.
    """
    if not cfg.data.contacts:
        return None
    try:
        opened.contacts = ingest_contacts(
            opened.engine,
            source_spec(cfg.data, "contacts"),
            max_bad_fraction=float(cfg.ingest.max_bad_fraction),
            plausibility=_plausibility(cfg),
        )
    except TooManyBadRows as exc:
        folder = _run_folder(cfg)
        if folder is None:
            raise
        written = _write_failed_report(exc, folder, manifest_name, combined_manifest(opened))
        raise DataContractError(
            f"{exc}. The rejected rows, each with its reason, are in {written[-1]}; the "
            f"counts in {written[0]} (under contacts_table)"
        ) from exc
    manifest = opened.contacts.manifest
    log.info(
        "contacts %s: %s to %s",
        manifest["source"],
        manifest["contacted_from"],
        manifest["contacted_until"],
    )
    if manifest["rows_quarantined"]:
        log.warning(
            "contact log %s: %d of %d rows quarantined (%s), within ingest.max_bad_fraction; "
            "they are kept in contacts_quarantine.csv beside the outputs",
            manifest["source"],
            manifest["rows_quarantined"],
            manifest["rows_read"],
            ", ".join(f"{r}: {n}" for r, n in manifest["quarantine_reasons"].items()),
        )
    return opened.contacts


def _plausibility(cfg: DictConfig) -> Plausibility:
    """The plausibility bounds ``cfg.ingest`` sets; ``valid_until: null`` is the day after
    today."""
    valid_until = cfg.ingest.valid_until
    return Plausibility(
        max_abs_value=float(cfg.ingest.max_abs_value),
        valid_from=parse_date(cfg.ingest.valid_from, "ingest.valid_from"),
        valid_until=(
            dt.date.today() + dt.timedelta(days=1)
            if valid_until is None
            else parse_date(valid_until, "ingest.valid_until")
        ),
    )


def _open_transactions(cfg: DictConfig) -> OpenedData:
    limit = float(cfg.ingest.max_bad_fraction)
    plausibility = _plausibility(cfg)
    left_out = LeftOut(
        without_customer=str(cfg.ingest.get("without_customer", "drop")),
        products=tuple(str(p) for p in cfg.data.get("exclude_products") or ()),
    )
    engine = open_engine(cfg.engine)
    result = ingest_transactions(
        engine,
        source_spec(cfg.data),
        max_bad_fraction=limit,
        plausibility=plausibility,
        left_out=left_out,
    )
    customers = None
    if cfg.data.customers:
        customers = ingest_customers(
            engine,
            source_spec(cfg.data, "customers"),
            max_bad_fraction=limit,
            plausibility=plausibility,
        )
    first, last = engine.date_range()
    log.info("transactions %s: %s to %s", result.manifest["source"], first, last)
    return OpenedData(
        engine=engine, first_date=first, last_date=last, ingest=result, customers=customers
    )


def open_engine(engine_cfg: DictConfig) -> Engine:
    """The engine ``engine.name`` names, set up as ``engine.*`` says."""
    if engine_cfg.name == "spark":
        from churn.engines.spark_engine import SparkEngine

        return SparkEngine(spark_session(engine_cfg))
    if engine_cfg.name != "duckdb":
        raise ConfigError(f"engine.name must be duckdb or spark, got {engine_cfg.name!r}")
    con = duckdb_engine.connect(
        threads=engine_cfg.threads,
        memory_limit=engine_cfg.memory_limit,
        temp_directory=engine_cfg.temp_directory,
    )
    state = engine_cfg.get("feature_state")
    return duckdb_engine.DuckDBEngine(con, Path(str(state)) if state else None)


def combined_manifest(opened: OpenedData) -> dict[str, Any]:
    """The transactions manifest, with the customers table's under ``customers_table``
    and the contact log's under ``contacts_table``."""
    manifest = dict(opened.ingest.manifest)
    if opened.customers is not None:
        manifest["customers_table"] = opened.customers.manifest
    if opened.contacts is not None:
        manifest["contacts_table"] = opened.contacts.manifest
    return manifest


def write_ingest_report(opened: OpenedData, folder: Path) -> list[Path]:
    """Write ``ingest_manifest.json`` and, when rows were rejected, ``quarantine.csv``
    (and ``customers_quarantine.csv``, ``contacts_quarantine.csv``); returns the files
    written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "ingest_manifest.json"]
    write_json(written[0], combined_manifest(opened))
    quarantines = [("quarantine.csv", opened.ingest)]
    if opened.customers is not None:
        quarantines.append(("customers_quarantine.csv", opened.customers))
    if opened.contacts is not None:
        quarantines.append(("contacts_quarantine.csv", opened.contacts))
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
