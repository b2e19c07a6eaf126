"""What every stage's run shares: its log, timed steps, dates from the config and the
code version recorded with its outputs."""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from churn.errors import ConfigError

log = logging.getLogger("churn")


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


def installed_version() -> str:
    """The version of the installed ``churn`` package (``unknown`` in a source tree that
    was never installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("churn")
    except PackageNotFoundError:
        return "unknown"


def code_version() -> str:
    """The installed package version, plus ``+git.<commit>`` when this code runs from a git
    checkout (``src/churn`` of a repository): an installed wheel has no commit to add."""
    text = installed_version()
    package = Path(__file__).resolve().parents[1]
    root = package.parents[1]
    if package.parent.name != "src" or not (root / ".git").exists():
        return text
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return text
    return f"{text}+git.{commit}"
