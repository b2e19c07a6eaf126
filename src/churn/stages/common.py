"""Helpers shared by the stages: opening the data, dates from config, JSON and atomic writes."""

from __future__ import annotations

import datetime as dt
import glob
import importlib.util
import io
import json
import logging
import math
import re
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TextIO, TypeVar

import duckdb
import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from churn import data
from churn.config import register_resolvers
from churn.errors import ChurnError, ConfigError, DataContractError, StorageError
from churn.features import build_features
from churn.ingest import (
    CsvOptions,
    IngestResult,
    LeftOut,
    Plausibility,
    SourceSpec,
    TooManyBadRows,
    ingest_customers,
    ingest_transactions,
)
from churn.settings import validate_settings

log = logging.getLogger("churn")
T = TypeVar("T")


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
            from churn.spark_engine import query_rows

            return query_rows(self.spark, sql)
        assert self.con is not None
        return self.con.execute(sql).fetchall()

    def columns(self, table: str) -> list[str] | None:
        """The columns of ``table`` (``transactions`` or ``customers``), ``None`` when the
        table was not ingested."""
        if self.spark is not None:
            from churn.spark_engine import temp_view_exists

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
        """The feature table at ``cutoffs`` (see :func:`churn.features.build_features`),
        computed by the engine."""
        if self.spark is not None:
            from churn.spark_engine import build_features_spark

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
    from churn.spark_engine import drop_view, get_session

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
        from churn import spark_engine

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
    con = data.connect(
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
    first, last = data.date_range(con)
    log.info("transactions %s: %s to %s", result.manifest["source"], first, last)
    return OpenedData(con=con, first_date=first, last_date=last, ingest=result, customers=customers)


def ingest_manifest(opened: OpenedData) -> dict[str, Any]:
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
    write_json(written[0], ingest_manifest(opened))
    quarantines = [("quarantine.csv", opened.ingest)]
    if opened.customers is not None:
        quarantines.append(("customers_quarantine.csv", opened.customers))
    for filename, result in quarantines:
        if len(result.quarantine):
            result.quarantine.to_csv(folder / filename, index=False)
            written.append(folder / filename)
    return written


def parse_date(value: Any, name: str) -> dt.date:
    """A config value as a date (``YYYY-MM-DD``), or a :class:`ConfigError` naming the key."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise ConfigError(f"{name}={value!r} is not a date: use YYYY-MM-DD") from exc


def resolve_as_of(value: Any, last_date: dt.date) -> dt.date:
    """The cutoff asked for, or the data's last date; never later than the data."""
    if value is None:
        return last_date
    as_of = parse_date(value, "as_of")
    if as_of > last_date:
        raise ConfigError(
            f"as_of={as_of} is after the last date in the data ({last_date}): "
            "there is nothing to score yet; leave as_of out to use the last date"
        )
    return as_of


def finite_json(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by ``None``: strict JSON has no
    ``NaN`` or ``Infinity``, and a reader such as ``jq`` or a browser refuses them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(v) for v in value]
    if isinstance(value, np.generic):
        return finite_json(value.item())
    return value


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as indented, key-sorted, strict JSON (stable across runs; a
    non-finite number is written as ``null``)."""
    text = json.dumps(finite_json(payload), indent=2, sort_keys=True, default=str, allow_nan=False)
    path.write_text(text + "\n")


@contextmanager
def step(name: str, timings: dict[str, float] | None = None) -> Iterator[None]:
    """Log the start and duration of a step; record seconds in ``timings`` if given."""
    log.info("%s ...", name)
    start = time.perf_counter()
    yield
    seconds = time.perf_counter() - start
    if timings is not None:
        timings[name] = round(seconds, 3)
    log.info("%s done in %.1f s", name, seconds)


# Set once a stage has started: Hydra exits with 1 both for a configuration it cannot
# compose and for a crash inside the stage; only the first is a usage error (exit 2).
_stage_started = threading.Event()


class _HeldStderr(io.TextIOBase):
    """Stands in for stderr until a stage starts: what Hydra prints about a configuration
    it cannot compose is kept, so that it can be told in one ``error:`` line."""

    def __init__(self, real: TextIO) -> None:
        self.real = real
        self.held: list[str] = []

    def write(self, text: str) -> int:
        if _stage_started.is_set():
            return self.real.write(text)
        self.held.append(text)
        return len(text)

    def flush(self) -> None:
        self.real.flush()

    def release(self) -> None:
        """Pass on what was held (warnings printed while composing) and stop holding."""
        if self.held:
            self.real.write("".join(self.held))
            self.held.clear()
        self.real.flush()

    def summary(self) -> str:
        """What Hydra said, as one line: a traceback's last line, or every line of a short
        message, without Hydra's HYDRA_FULL_ERROR hint."""
        lines = [
            line.strip()
            for line in "".join(self.held).splitlines()
            if line.strip() and "HYDRA_FULL_ERROR" not in line
        ]
        if any(line.startswith("Traceback") for line in lines):
            lines = lines[-1:]
        return " ".join(lines) or "the configuration cannot be composed"


def one_line(message: str) -> str:
    """A message as one line: its lines joined by ``; `` (list dashes dropped)."""
    parts = [line.strip().removeprefix("- ").strip() for line in str(message).splitlines()]
    return "; ".join(p for p in parts if p).replace(":;", ":")


def _stop_spark() -> None:
    """Stop a running Spark session, so that its shutdown logs come before the error line."""
    if "pyspark" not in sys.modules:
        return
    try:
        from pyspark.sql import SparkSession

        session = SparkSession.getActiveSession()
        if session is not None:
            session.stop()
    except Exception:  # best effort: the error line matters more
        pass


def _save_traceback() -> Path:
    """Write the current exception's traceback next to the run's log; its path."""
    import traceback

    try:
        from hydra.core.hydra_config import HydraConfig

        folder = Path(HydraConfig.get().runtime.output_dir)
    except Exception:  # not under Hydra (a test, a notebook)
        folder = Path(tempfile.gettempdir())
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "traceback.txt"
        path.write_text(traceback.format_exc())
    except OSError:
        path = Path(tempfile.mkstemp(prefix="churn-traceback-", suffix=".txt")[1])
        path.write_text(traceback.format_exc())
    return path


def _fail(message: str, exit_code: int) -> NoReturn:
    _stop_spark()
    sys.stdout.flush()
    print(f"error: {one_line(message)}", file=sys.stderr, flush=True)
    sys.exit(exit_code)


def run_cli(run: Callable[[DictConfig], T], cfg: DictConfig) -> T:
    """Run a stage from the command line: any failure ends in one ``error:`` line, the
    last on stderr, and the exit code of the command-line contract.

    A :class:`ChurnError` exits with its own code; an ``OSError`` (a folder that is
    read-only, a full disk) or ``MemoryError`` with :class:`StorageError`'s (6); anything
    else is a bug: its traceback goes to ``traceback.txt`` in the run's log folder and the
    exit code is 1.
    """
    _stage_started.set()
    if isinstance(sys.stderr, _HeldStderr):
        sys.stderr.release()
    try:
        with warnings.catch_warnings():
            # pandera imports pyspark.pandas when the spark extra is installed, and
            # PySpark warns about pandas 3, which we use and test with.
            warnings.filterwarnings(
                "ignore", message="PySpark does not yet fully support", category=FutureWarning
            )
            validate_settings(cfg, run.__module__.rsplit(".", 1)[-1])
            return run(cfg)
    except ChurnError as exc:
        _fail(str(exc), exc.exit_code)
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        _fail(
            f"cannot read or write{where}: {exc.strerror or exc}; check the permissions and "
            "the free space of that folder, or choose another output folder",
            StorageError.exit_code,
        )
    except MemoryError:
        _fail(
            "out of memory; lower engine.memory_limit, score fewer customers at a time, or "
            "use a machine with more memory",
            StorageError.exit_code,
        )
    except Exception as exc:
        saved = _save_traceback()
        _fail(
            f"unexpected {type(exc).__name__}: {exc}. This is a bug in churn; please report "
            f"it with the traceback in {saved}",
            1,
        )


def main_with_exit_codes(main: Callable[[], Any]) -> None:
    """Call a Hydra ``main``; a configuration Hydra cannot compose (unknown key, bad
    override) exits with code 2, as the command-line contract says, instead of 1, and
    what Hydra said about it becomes the one ``error:`` line that ends stderr."""
    held = _HeldStderr(sys.stderr)
    sys.stderr = held
    try:
        main()
    except SystemExit as exc:
        if exc.code == 1 and not _stage_started.is_set():
            sys.stderr = held.real
            said = held.summary()
            if re.search(r"\[Errno \d+\]|PermissionError|OSError", said):
                # Hydra could not create its log folder (hydra.run.dir): the machine's fault.
                hint, code = "check the folder's permissions and free space", StorageError.exit_code
            else:
                hint, code = "--help lists the settings and config groups", ConfigError.exit_code
            print(f"error: {said} ({hint})", file=sys.stderr, flush=True)
            sys.exit(code)
        raise
    finally:
        if sys.stderr is held:
            held.release()
            sys.stderr = held.real


def code_version() -> str:
    """The installed package version, plus the git commit when run from a checkout."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        text = version("churn")
    except PackageNotFoundError:
        text = "unknown"
    root = Path(__file__).resolve().parents[3]
    if (root / ".git").exists():
        try:
            commit = subprocess.run(
                ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout.strip()
            text += f"+git.{commit}"
        except (OSError, subprocess.SubprocessError):
            pass
    return text


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
