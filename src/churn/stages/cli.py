"""The command-line contract every stage follows: one ``error:`` line, last on stderr,
and the documented exit code (2 settings, 3 data, 4 no model, 5 gate, 6 storage, 1 bug).
"""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TextIO, TypeVar

from omegaconf import DictConfig

from churn.errors import ChurnError, ConfigError, StorageError
from churn.settings import validate_settings

T = TypeVar("T")


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


class JsonLogFormatter(logging.Formatter):
    """Log records as one JSON object per line (``hydra/job_logging=json``): ``time``
    (UTC, ISO 8601), ``level``, ``logger``, ``message`` and, for an exception, ``exc``."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)

    converter = time.gmtime  # type: ignore[assignment]


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
            # PySpark warns about pandas 3 (which we use and test with) when it converts
            # frames between pandas and Spark.
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
