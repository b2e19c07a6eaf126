"""Nightly features that follow the new data: one night's table from the last night's.

A night at cutoff ``T1`` after a stored night at ``T0`` (same feature settings, ``T0 <
T1``, ``delta = T1 - T0`` days) recomputes, with the one feature query of
:mod:`churn.features.query`, only the customers whose features can be other than ``T0``'s
moved on by ``delta`` days:

- **changed**: their lines up to the end of ``T0`` are not the ones ``T0`` saw (a late
  line, a correction, a deleted row), found by a fingerprint of each customer's lines;
- **new**: a line dated after ``T0``, up to ``T1``;
- **crossing**: a line whose age in days crosses a boundary of some feature between ``T0``
  and ``T1``: the end of a window (``age_days < 30``, ``age_days >= 90``), read from
  the feature query itself.

Every other customer keeps ``T0``'s values, stored unrounded: a feature that counts days
since something (``MIN(age_days)``, ``MAX(age_days)``) grows by ``delta``, the ``final``
features (``overdue_ratio``...) are recomputed by their SQL from those values, and the
account age from the customers table. Everyone outside ``T0``'s population stays outside
unless recomputed, since days since the last order only grow. So the table equals the
full recomputation's (tested, with the pandas reference's data; money is summed in exact
decimals, so the order of the lines changes nothing). The BG/NBD family is
refitted on every customer each night: its four parameters describe the whole population.

A feature whose SQL reads the cutoff any other way (a date column, a fractional
threshold) is refused (:class:`NotIncremental`) and every night is computed whole; so is
a night where more than :data:`MAX_RECOMPUTED_SHARE` of the customers would be recomputed.

State: ``<state_dir>/<settings key>/<T0>.<token>/`` holds ``raw.parquet`` (the unrounded
rows), ``fingerprints.parquet`` and ``state.json``, written whole and never changed; the
key changes with the query, the settings and DuckDB's version (its hash function), so a
changed setting starts afresh (a key's folder goes once it has not been written for
:data:`STALE_DAYS` days before a night of another).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import duckdb
import pandas as pd

from churn.features.query import (
    account_age_sql,
    available_inputs,
    bgnbd_predictions,
    chosen_features,
    feature_sql,
    fetch_frame,
    finish_table,
)
from churn.features.registry import Feature

log = logging.getLogger(__name__)

STATES_KEPT = 3
STALE_DAYS = 14
# A whole-day threshold that ends there (not ``age_days < 30.5`` or ``age_days < 29 + 2``).
_THRESHOLD = re.compile(r"age_days\s*(?:<|>=)\s*(\d+)(?=\s*(?:\)|THEN\b|AND\b|OR\b|$))")
_SHIFTS = re.compile(r"(MIN|MAX)\((age_days|CASE WHEN [^()]* THEN age_days END)\)")
# The cutoff or a date reached any other way than through age_days.
_DATES = re.compile(r"\b(as_of|cutoff_end|ts|order_ts|order_date|line_date)\b", re.IGNORECASE)
# Past this share of customers to recompute, the whole query is cheaper (no copy of lines).
MAX_RECOMPUTED_SHARE = 0.5
_SIGNUP = "account_age_days"
_DIRTY = "night_recomputed"
_PRINTS = "night_fingerprints"
_ROWS = "night_rows"


class NotIncremental(ValueError):
    """A feature whose dependence on the cutoff this module cannot follow."""


@dataclass(frozen=True)
class CutoffDependence:
    """How the features' values move when the cutoff moves and no line changes.

    Attributes
    ----------
    shifted : tuple of str
        Grow by the days the cutoff moved (days since, tenure).
    derived : tuple of str
        ``final`` features, recomputed from the others by their SQL.
    boundaries : tuple of int
        Ages in days at which some value steps (a window's end); a customer with a line
        whose age crosses one is recomputed.
    """

    shifted: tuple[str, ...]
    derived: tuple[str, ...]
    boundaries: tuple[int, ...]


def cutoff_dependence(features: Sequence[Feature], query: str) -> CutoffDependence:
    """Classify ``features`` (of the feature query ``query``) by how they depend on the
    cutoff; :class:`NotIncremental` names one this module cannot follow."""
    shifted, derived = [], []
    boundaries = {int(n) for n in _THRESHOLD.findall(query)}
    for f in features:
        if f.level == "btyd" or f.name == _SIGNUP:
            continue
        if f.level == "final":
            derived.append(f.name)
            continue
        if _DATES.search(f.sql):
            raise NotIncremental(
                f"{f.name}: its SQL reads a date or the cutoff itself, not only age_days"
            )
        if _SHIFTS.fullmatch(f.sql.strip()):
            shifted.append(f.name)
            continue
        if "age_days" in _THRESHOLD.sub("", f.sql):
            raise NotIncremental(
                f"{f.name}: its SQL uses age_days other than in a whole-day window or a "
                "MIN/MAX, so a night cannot tell who it changed for"
            )
    return CutoffDependence(tuple(shifted), tuple(derived), tuple(sorted(boundaries)))


def crossing_ages(boundaries: Sequence[int], delta_days: int) -> list[int]:
    """Ages in days at ``T1`` of a line whose age crossed a boundary since ``T0``, ``delta``
    days earlier: ``age - delta < b <= age`` for a boundary ``b``. Age 0 up to ``delta - 1``
    are the lines dated after ``T0``."""
    ages = set(range(delta_days))
    for b in boundaries:
        ages.update(range(b, b + delta_days))
    return sorted(ages)


@dataclass(frozen=True)
class NightReport:
    """What a night recomputed: ``mode`` is ``incremental`` or ``full`` (with ``why``)."""

    mode: str
    as_of: str
    previous: str | None = None
    customers: int = 0
    recomputed: int = 0
    changed: int = 0
    crossing: int = 0
    why: str = ""


def state_key(features: Sequence[Feature], query: str, active_lookback_days: int) -> str:
    """What a stored night must share with this one: the query, the features, the
    population and DuckDB's version (the fingerprints use its hash)."""
    text = json.dumps(
        {
            "query": query,
            "features": [asdict(f) for f in features],
            "active_lookback_days": int(active_lookback_days),
            "duckdb": duckdb.__version__,
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def nightly_features(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    state_dir: Path,
    windows: Sequence[int],
    active_lookback_days: int,
    families: Sequence[str],
    btyd_horizon_days: int | None,
) -> tuple[pd.DataFrame, NightReport]:
    """The feature table at ``as_of``, as :func:`churn.features.query.build_features`
    returns it, from the newest night stored in ``state_dir`` before ``as_of`` when there
    is one; then this night is stored for the next."""
    available = available_inputs(con)
    features = chosen_features(
        windows, active_lookback_days, families, btyd_horizon_days, available
    )
    query = feature_sql(features, available, active_lookback_days)
    folder = Path(state_dir) / state_key(features, query, active_lookback_days)
    previous = _previous_state(folder, as_of)
    dependence: CutoffDependence | None = None
    try:
        dependence = cutoff_dependence(features, query)
    except NotIncremental as exc:
        previous, why = None, str(exc)
    else:
        why = "no night stored before this one with these settings"
    before = _night(previous) if previous else None
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_PRINTS} AS {_fingerprint_sql(con, as_of, before)}")
    report = None
    if previous is not None and dependence is not None:
        try:
            report = _from_previous(
                con, as_of, previous, features, available, active_lookback_days, dependence
            )
        except NotIncremental as exc:
            why = str(exc)
        except (duckdb.Error, OSError) as exc:
            # A damaged store costs a full night, never a wrong table or a failed one.
            why = f"the stored night {previous} could not be read ({exc})"
            log.warning("%s: every customer is computed", why)
    if report is None:
        rows = _query_rows(con, as_of, query)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {_ROWS} AS {rows}")
        report = NightReport("full", as_of.isoformat(), why=why)
        log.info("features as of %s: every customer computed (%s)", as_of, why)
    report = replace(
        report, customers=con.execute(f"SELECT COUNT(*) FROM {_ROWS}").fetchall()[0][0]
    )
    try:
        if dependence is not None:  # else no night can follow this one
            _store(con, folder, as_of, report)
    except (duckdb.Error, OSError) as exc:
        log.warning(
            "this night is not kept for the next (%s: %s); check engine.feature_state's "
            "folder: the next night computes every customer",
            folder,
            exc,
        )
    raw = fetch_frame(con, f"SELECT * FROM {_ROWS}")
    for table in (_PRINTS, _ROWS, _DIRTY):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    btyd = bgnbd_predictions(con, [as_of], int(btyd_horizon_days)) if btyd_horizon_days else None
    return finish_table(raw, features, btyd), report


def _query_rows(con: duckdb.DuckDBPyConnection, as_of: dt.date, sql: str) -> str:
    """``sql`` (a feature query over ``cutoff_dates``) at the one cutoff ``as_of``."""
    return f"WITH cutoff_dates AS (SELECT {_date(as_of)} AS as_of)\nSELECT * FROM ({sql})"


def _from_previous(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    previous: Path,
    features: list[Feature],
    available: Sequence[str],
    active_lookback_days: int,
    dependence: CutoffDependence,
) -> NightReport:
    """This night's unrounded rows (the table :data:`_ROWS`) from the stored night in
    ``previous``."""
    before = _night(previous)
    delta = (as_of - before).days
    ages = ", ".join(str(a) for a in crossing_ages(dependence.boundaries, delta))
    old_fp = _parquet(previous / "fingerprints.parquet")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {_DIRTY} AS
WITH changed AS (
  SELECT customer_id FROM {_PRINTS} AS p FULL JOIN {old_fp} AS o USING (customer_id)
  WHERE customer_id IS NOT NULL AND (COALESCE(p.n0, 0) <> COALESCE(o.n, 0)
     OR COALESCE(p.x0, 0) <> COALESCE(o.x, 0)
     OR COALESCE(p.s0, 0) <> COALESCE(o.s, 0))
),
crossing AS (
  SELECT customer_id, MIN(CASE WHEN age < {delta} THEN 1 ELSE 2 END) AS why
  FROM (SELECT customer_id, DATE_DIFF('day', CAST(ts AS DATE), {_date(as_of)}) AS age
        FROM transactions WHERE ts < CAST({_date(as_of)} AS TIMESTAMP) + INTERVAL 1 DAY)
  WHERE age IN ({ages}) AND customer_id IS NOT NULL
  GROUP BY customer_id
)
-- why: 1 = changed or new lines, 2 = only crossing a boundary.
SELECT customer_id, MIN(why) AS why FROM (
  SELECT customer_id, 1 AS why FROM changed
  UNION ALL SELECT customer_id, why FROM crossing
) GROUP BY customer_id"""
    )
    changed, crossing, everyone = con.execute(
        f"SELECT COUNT(*) FILTER (WHERE why = 1), COUNT(*) FILTER (WHERE why = 2), "
        f"(SELECT COUNT(*) FROM {_PRINTS} WHERE n > 0) FROM {_DIRTY}"
    ).fetchall()[0]
    if changed + crossing > MAX_RECOMPUTED_SHARE * everyone:
        raise NotIncremental(
            f"{changed + crossing} of {everyone} customers to recompute since the night of "
            f"{before}: computing everyone is cheaper"
        )
    recomputed = _query_rows(
        con, as_of, feature_sql(features, available, active_lookback_days, _DIRTY)
    )
    carried = _carried(as_of, previous, features, dependence, delta, active_lookback_days)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {_ROWS} AS
SELECT * FROM ({recomputed}) UNION ALL BY NAME ({carried})
ORDER BY customer_id"""
    )
    report = NightReport(
        "incremental",
        as_of.isoformat(),
        previous=before.isoformat(),
        recomputed=con.execute(
            f"SELECT COUNT(*) FROM {_ROWS} WHERE customer_id IN (SELECT customer_id FROM {_DIRTY})"
        ).fetchall()[0][0],
        changed=int(changed),
        crossing=int(crossing),
    )
    log.info(
        "features as of %s from the night of %s: %d recomputed (%d with changed or new "
        "lines, %d at a window's end), the others carried %d days on",
        as_of,
        before,
        report.recomputed,
        report.changed,
        report.crossing,
        delta,
    )
    return report


def _carried(
    as_of: dt.date,
    previous: Path,
    features: list[Feature],
    dependence: CutoffDependence,
    delta: int,
    active_lookback_days: int,
) -> str:
    """The query of the stored rows of the customers not recomputed, moved on ``delta``
    days."""
    names = {f.name for f in features if f.level != "btyd"}
    computed = {n: f"r.{n}" for n in names}
    for name in dependence.shifted:
        computed[name] = f"r.{name} + {delta}"
    join = ""
    if _SIGNUP in names:
        computed[_SIGNUP] = account_age_sql(_date(as_of))
        join = "LEFT JOIN customers AS cu ON cu.customer_id = r.customer_id"
    # The derived ones by their own SQL, over the moved values (named as the features).
    inner = ", ".join(f"{sql} AS {n}" for n, sql in computed.items())
    derived = {f.name: f.sql for f in features if f.name in dependence.derived}
    outer = ", ".join(
        f"{derived.get(f.name, f.name)} AS {f.name}" for f in features if f.name in names
    )
    return f"""SELECT customer_id, as_of, {outer} FROM (
  SELECT r.customer_id, {_date(as_of)} AS as_of, {inner}
  FROM {_parquet(previous / "raw.parquet")} AS r {join}
  WHERE r.customer_id NOT IN (SELECT customer_id FROM {_DIRTY})
) AS moved
WHERE days_since_last_order < {int(active_lookback_days)}"""


def _fingerprint_sql(
    con: duckdb.DuckDBPyConnection, as_of: dt.date, before: dt.date | None = None
) -> str:
    """Per customer, the count ``n`` and two hash sums ``x``, ``s`` of their lines (every
    column) dated up to ``as_of`` (and ``n0``, ``x0``, ``s0`` up to ``before``): equal
    when the lines are, whatever their order; different otherwise, but for a hash
    collision."""
    columns = ", ".join(f'"{r[0]}"' for r in con.execute("DESCRIBE transactions").fetchall())
    parts = [("", as_of), ("0", before)] if before else [("", as_of)]
    sums = ",\n    ".join(
        f"COUNT(*) FILTER (WHERE ts < {_end(day)}) AS n{k}, "
        f"BIT_XOR(h) FILTER (WHERE ts < {_end(day)}) AS x{k}, "
        f"CAST(SUM(h % 4294967291) FILTER (WHERE ts < {_end(day)}) AS BIGINT) AS s{k}"
        for k, day in parts
    )
    return f"""SELECT customer_id,
    {sums}
  FROM (SELECT customer_id, ts, hash({columns}) AS h FROM transactions
        WHERE ts < {_end(as_of)})
  GROUP BY customer_id"""


def _previous_state(folder: Path, as_of: dt.date) -> Path | None:
    """The newest stored night before ``as_of`` in ``folder`` (the latest written for that
    date), if any."""
    nights = []
    for path in folder.glob("????-??-??.*"):
        try:
            night = dt.date.fromisoformat(path.name.split(".")[0])
            written = (path / "state.json").stat().st_mtime
        except (ValueError, OSError):
            continue
        if night < as_of:
            nights.append((night, written, path))
    return max(nights)[2] if nights else None


def _night(path: Path) -> dt.date:
    return dt.date.fromisoformat(path.name.split(".")[0])


def _store(
    con: duckdb.DuckDBPyConnection, folder: Path, as_of: dt.date, report: NightReport
) -> None:
    """Write this night (:data:`_ROWS`, :data:`_PRINTS`) to a new folder
    ``folder/<as_of>.<token>/``, complete before it gets that name and never changed after:
    a run reading an older one meanwhile reads it whole or fails to read it (and computes
    every customer). Then the older folders of that date go, and all but the
    :data:`STATES_KEPT` newest dates."""
    folder.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(4)
    tmp = folder / f".{as_of.isoformat()}.{token}"
    tmp.mkdir()
    try:
        con.execute(f"COPY {_ROWS} TO {_quoted(tmp / 'raw.parquet')} (FORMAT parquet)")
        con.execute(
            f"COPY (SELECT customer_id, n, x, s FROM {_PRINTS} WHERE n > 0) TO "
            f"{_quoted(tmp / 'fingerprints.parquet')} (FORMAT parquet)"
        )
        (tmp / "state.json").write_text(json.dumps(asdict(report), indent=2) + "\n")
        tmp.rename(folder / f"{as_of.isoformat()}.{token}")
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    nights = sorted(folder.glob("????-??-??.*"), key=lambda p: (_night(p), p.name))
    dates = sorted({_night(p) for p in nights})[-STATES_KEPT:]
    for old in nights:
        if _night(old) not in dates or (_night(old) == as_of and not old.name.endswith(token)):
            shutil.rmtree(old, ignore_errors=True)
    _remove_stale(folder.parent, (folder / f"{as_of.isoformat()}.{token}").stat().st_mtime)


def _remove_stale(state_dir: Path, written: float) -> None:
    """Remove from ``state_dir`` what was last written :data:`STALE_DAYS` before
    ``written`` (this night's time, from the file system): the folders of settings no
    longer used, and the hidden folders a killed run left. At worst a night computes
    everyone."""
    limit = written - STALE_DAYS * 86400
    for key in state_dir.iterdir():
        if not key.is_dir():
            continue
        for hidden in key.glob(".*"):
            if hidden.stat().st_mtime < limit:
                shutil.rmtree(hidden, ignore_errors=True)
        times = [p.stat().st_mtime for p in key.glob("????-??-??.*")]
        if max(times, default=key.stat().st_mtime) < limit:
            shutil.rmtree(key, ignore_errors=True)


def _date(day: dt.date) -> str:
    return f"DATE '{day.isoformat()}'"


def _end(day: dt.date) -> str:
    return f"CAST({_date(day)} AS TIMESTAMP) + INTERVAL 1 DAY"


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _parquet(path: Path) -> str:
    return f"read_parquet({_quoted(path)})"
