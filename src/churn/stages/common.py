"""Helpers shared by the stages: opening the data, dates from config, JSON and atomic writes."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
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
from typing import Any, TypeVar

import duckdb
from omegaconf import DictConfig

from churn import data
from churn.config import register_resolvers
from churn.errors import ChurnError, ConfigError
from churn.ingest import (
    CsvOptions,
    IngestResult,
    SourceSpec,
    ingest_customers,
    ingest_transactions,
)

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
    """The ingested ``transactions`` table of a stage and what ingest reported."""

    con: duckdb.DuckDBPyConnection
    first_date: dt.date
    last_date: dt.date
    ingest: IngestResult
    customers: IngestResult | None = None


def open_transactions(cfg: DictConfig) -> OpenedData:
    """Connect the configured engine and ingest ``cfg.data`` into its ``transactions`` table."""
    con = data.connect(
        threads=cfg.engine.threads,
        memory_limit=cfg.engine.memory_limit,
        temp_directory=cfg.engine.temp_directory,
    )
    result = ingest_transactions(
        con,
        source_spec(cfg.data),
        max_bad_fraction=float(cfg.ingest.max_bad_fraction),
        batch_rows=int(cfg.ingest.batch_rows),
    )
    customers = None
    if cfg.data.customers:
        customers = ingest_customers(
            con,
            source_spec(cfg.data, "customers"),
            max_bad_fraction=float(cfg.ingest.max_bad_fraction),
            batch_rows=int(cfg.ingest.batch_rows),
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


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as indented, key-sorted JSON (stable across runs)."""
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``target`` only if the block succeeds.

    On failure the temporary folder is removed and ``target`` keeps its old content.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = target.with_name(f".{target.name}.old")
    if target.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


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


def run_cli(run: Callable[[DictConfig], T], cfg: DictConfig) -> T:
    """Run a stage from the command line: a :class:`ChurnError` becomes one stderr line
    and its exit code instead of a traceback."""
    _stage_started.set()
    try:
        with warnings.catch_warnings():
            # pandera imports pyspark.pandas when the spark extra is installed, and
            # PySpark warns about pandas 3, which we use and test with.
            warnings.filterwarnings(
                "ignore", message="PySpark does not yet fully support", category=FutureWarning
            )
            return run(cfg)
    except ChurnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)


def main_with_exit_codes(main: Callable[[], Any]) -> None:
    """Call a Hydra ``main``; a configuration Hydra cannot compose (unknown key, bad
    override) exits with code 2, as the command-line contract says, instead of 1."""
    try:
        main()
    except SystemExit as exc:
        if exc.code == 1 and not _stage_started.is_set():
            sys.exit(ConfigError.exit_code)
        raise


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
        size = sum(p.stat().st_size for p in Path().glob(source) if p.is_file()) or None
    max_ts = opened.con.execute("SELECT MAX(ts) FROM transactions").fetchall()[0][0]
    return {
        "source": source,
        "bytes": size,
        "rows": opened.ingest.manifest["rows_read"],
        "max_ts": None if max_ts is None else str(max_ts),
    }
