"""Ingest: read an export, map its columns, validate, quarantine, and expose the canonical table.

Every stage starts here, on whichever engine (:mod:`churn.engines`): one algorithm over
the engine's interface. The result is a table ``transactions`` with the
canonical columns of the data contract (``customer_id``, ``order_id``, ``ts``, ``amount``
and whichever optional columns the source has), optionally a ``customers`` table
(``customer_id``, ``signup_ts``, ``marketing_opt_out``, ``first_name``, ``email``) and a
``contacts`` table, a campaign tool's contact log (``customer_id``, ``contacted_at``,
``campaign``, ``contact_group``), and for each a manifest that accounts for every row
read::

    rows_read == rows_kept + rows_quarantined + duplicates_dropped
                 + rows_without_customer + rows_excluded_products

Steps
-----
1. **Read** a CSV (every column as text, so nothing is lost to type guessing; malformed
   lines are captured, not fatal), Parquet (file, folder or glob), a SQL query run by
   DuckDB (optionally over an attached DuckDB database file), or a frame in memory.
2. **Contract checks** (fatal, :class:`~churn.errors.DataContractError`, exit code 3, all
   reported at once): a required column missing after mapping, a required column of the
   wrong type as a whole (no value parses), an empty source.
3. **Exact duplicate rows** (all source columns equal) are dropped and counted.
   Transaction rows left out on purpose (:class:`LeftOut`: guest orders without a
   customer id, products that are not purchases) are dropped and counted too, before
   the row rules.
4. **Parse**: text is parsed as numbers (configurable decimal and thousands separators)
   and timestamps (ISO 8601 or ``date_format``); aware timestamps are converted to UTC,
   naive ones are read in ``timezone`` and converted to UTC. ``amount`` may be derived as
   ``quantity * unit_price``.
5. **Row rules** (:func:`churn.data.contract.row_rules`), SQL conditions evaluated inside
   the engine: one expression gives each row every rule it breaks, then the rows split
   into the table and the quarantine. Failing rows go to the quarantine with their
   original values and a ``reason``; if more than ``max_bad_fraction`` of the rows checked fail,
   the run stops with exit code 3 (:class:`TooManyBadRows`, which carries the counts and
   the quarantined rows) and says how many failed and why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import pandas as pd

# CsvOptions is part of ingest's signature (inside SourceSpec): callers import it here.
from churn.data.contract import (  # noqa: F401
    CONTACTS,
    CUSTOMERS,
    DERIVED_ORDER_ID,
    TRANSACTIONS,
    CsvOptions,
    IngestResult,
    LeftOut,
    Plausibility,
    RowRule,
    SourceSpec,
    TableContract,
    TooManyBadRows,
    ident,
    quote,
    reason_counts,
    reason_sql,
    row_rules,
)
from churn.data.parsing import parse_sql
from churn.data.sources import check_header
from churn.engines import as_engine
from churn.engines.base import Engine, EngineError
from churn.errors import ConfigError, DataContractError

log = logging.getLogger(__name__)
_EXAMPLES = 3


def _examples(engine: Engine, sql: str) -> str:
    rows = engine.rows(f"{sql} LIMIT {_EXAMPLES}")
    return ", ".join(repr(r[0]) for r in rows)


def ingest_transactions(
    engine: Any,
    spec: SourceSpec,
    max_bad_fraction: float = 0.01,
    frame: pd.DataFrame | None = None,
    plausibility: Plausibility | None = None,
    left_out: LeftOut | None = None,
) -> IngestResult:
    """Read, map, validate and normalise transactions into the ``transactions`` table.

    Parameters
    ----------
    engine : Engine, duckdb.DuckDBPyConnection or pyspark.sql.SparkSession
        The engine that receives the table ``transactions`` (a connection or a session
        is wrapped in its engine, see :func:`churn.engines.as_engine`).
    spec : SourceSpec
        The source and its column mapping.
    max_bad_fraction : float
        Largest share of rows read that may be quarantined before the run fails.
    frame : pandas.DataFrame, optional
        A source already in memory; replaces ``spec.transactions``/``spec.query``.
    plausibility : Plausibility, optional
        Largest magnitude of a number and window of plausible timestamps (default:
        :class:`Plausibility`, no upper date bound).
    left_out : LeftOut, optional
        Rows left out on purpose and counted (default: :class:`LeftOut`, rows without a
        customer are dropped).

    Returns
    -------
    IngestResult
        The manifest (counts, reasons, date range, customers) and the quarantined rows
        (original values as text, plus ``reason``).

    Raises
    ------
    DataContractError
        On a contract violation; :class:`TooManyBadRows` when too many rows are
        quarantined.
    """
    engine = as_engine(engine)
    result = ingest_table(
        engine, spec, TRANSACTIONS, max_bad_fraction, frame, plausibility, left_out or LeftOut()
    )
    ts_min, ts_max = engine.rows("SELECT MIN(ts), MAX(ts) FROM transactions")[0]
    result.manifest.update({"ts_min": str(ts_min), "ts_max": str(ts_max)})
    return result


def ingest_customers(
    engine: Any,
    spec: SourceSpec,
    max_bad_fraction: float = 0.01,
    frame: pd.DataFrame | None = None,
    plausibility: Plausibility | None = None,
) -> IngestResult:
    """Ingest the optional customers table into the ``customers`` table.

    ``marketing_opt_out`` accepts true/false, yes/no, y/n, t/f and 1/0 (any case); a
    ``customer_id`` listed twice keeps its first row, the others are quarantined;
    ``signup_ts`` must lie in the window of ``plausibility``.
    """
    return ingest_table(engine, spec, CUSTOMERS, max_bad_fraction, frame, plausibility)


def ingest_contacts(
    engine: Any,
    spec: SourceSpec,
    max_bad_fraction: float = 0.01,
    frame: pd.DataFrame | None = None,
    plausibility: Plausibility | None = None,
) -> IngestResult:
    """Ingest a campaign tool's contact log into the ``contacts`` table.

    One row per contact: ``customer_id``, ``contacted_at`` (a timestamp in the window of
    ``plausibility``, as ``ts`` is), ``campaign`` and ``contact_group``, ``contact`` or
    ``control``. The group is read in any case once trimmed: ``contact``, ``treatment`` and
    ``treated`` are ``contact``; ``control`` and ``holdout`` are ``control``; a blank, or a
    source without the column, is ``contact``; any other value is quarantined. The same
    customer may be contacted many times; exact duplicate rows are dropped and counted.

    Returns
    -------
    IngestResult
        The manifest (the counts as for transactions, plus ``contacted_from`` and
        ``contacted_until``, the first and last ``contacted_at``, ``campaigns``, the number
        of distinct campaigns, and ``contact_groups``, the rows kept per group) and the
        quarantined rows.

    Raises
    ------
    DataContractError
        On a contract violation; :class:`TooManyBadRows` when too many rows are
        quarantined.
    """
    engine = as_engine(engine)
    result = ingest_table(engine, spec, CONTACTS, max_bad_fraction, frame, plausibility)
    first, last, campaigns = engine.rows(
        "SELECT MIN(contacted_at), MAX(contacted_at), COUNT(DISTINCT campaign) FROM contacts"
    )[0]
    by_group = dict(
        engine.rows("SELECT contact_group, COUNT(*) FROM contacts GROUP BY contact_group")
    )
    result.manifest.update(
        {
            "contacted_from": str(first),
            "contacted_until": str(last),
            "campaigns": int(campaigns),
            "contact_groups": {
                g: int(by_group.get(g, 0)) for g in CONTACTS.choices["contact_group"].values
            },
        }
    )
    return result


def ingest_table(
    engine: Any,
    spec: SourceSpec,
    contract: TableContract,
    max_bad_fraction: float = 0.01,
    frame: pd.DataFrame | None = None,
    plausibility: Plausibility | None = None,
    left_out: LeftOut | None = None,
) -> IngestResult:
    """Ingest one source into ``contract.table`` on ``engine``; the steps are in the module
    docstring. ``left_out`` applies to transactions only (a customers table without ids
    is bad)."""
    engine = as_engine(engine)
    plausibility = plausibility or Plausibility()
    for table in ("staged", "parsed", "checked", "bad_rows", contract.table):
        engine.drop(table)
    if frame is not None:
        name = "<in-memory frame>"
        check_header(name, [str(c) for c in frame.columns])
        read = engine.read_frame(frame, "raw_input")
    else:
        name = spec.name
        read = engine.read_source(spec, "raw_input")
    source_types, rejects = read.source_types, read.rejects
    found = ", ".join(source_types) or "(none)"
    try:
        rows_in_table = engine.rows("SELECT COUNT(*) FROM raw_input")[0][0]
        rows_read = int(rows_in_table + len(rejects))
        present = check_source(name, contract, spec, source_types, rows_read)
        # Exact duplicates over all source columns. From here on a row is known by a key
        # (_row in the parse query); where the first of several rows must win (a unique
        # column), it is the row's position in the source.
        key = engine.deduplicate("raw_input", "staged", keep_first=contract.unique is not None)
        duplicates = int(rows_in_table - engine.rows("SELECT COUNT(*) FROM staged")[0][0])
        sql, parsed_columns = parse_sql(
            contract, present, source_types, spec, key, engine.dialect, plausibility, left_out
        )
        rules = row_rules(contract, parsed_columns, plausibility.max_abs_value)
        whole = _whole_columns(contract, present)
        output = _table_columns(contract, parsed_columns)
        _check(engine, name, sql, spec, output, rules, whole)
        summary = _summary(engine, whole, left_out)
        check_whole_columns(
            engine, name, contract, present, source_types, found, spec, summary.given
        )
        left_out_counts = summary.left_out
        counts, rows_quarantined = _reasons(summary.by_reason, rejects)
        manifest = partial(
            ingest_manifest,
            name,
            rows_read,
            rows_quarantined,
            duplicates,
            counts,
            present,
            spec,
            plausibility,
            left_out_counts,
        )
        checked = rows_read - left_out_counts["rows_without_customer"]
        checked -= left_out_counts["rows_excluded_products"]
        limit = (
            engine.failed_quarantine_rows if rows_quarantined > max_bad_fraction * checked else None
        )
        bad = sum(n for _, n in summary.by_reason)
        quarantine = _quarantine(engine, list(source_types), key, rejects, limit, bad)
        check_bad_fraction(name, contract, max_bad_fraction, quarantine, manifest)
        # The source is not read again: only the checked rows are kept.
        for table in ("bad_rows", "parsed", "staged", "raw_input"):
            engine.drop(table)
        engine.keep_rows(
            "checked",
            contract.table,
            [column for column, _ in output],
            "_left_out IS NULL AND reason IS NULL",
            "_row" if contract.unique else None,
        )
        rows_kept, customers = engine.rows(
            f"SELECT COUNT(*), COUNT(DISTINCT customer_id) FROM {contract.table}"
        )[0]
    finally:
        for table in ("bad_rows", "checked", "parsed", "staged", "raw_input"):
            engine.drop(table)
    result = IngestResult(
        manifest=manifest(rows_kept=int(rows_kept), customers=int(customers)),
        quarantine=quarantine,
    )
    if rows_kept == 0:
        engine.drop(contract.table)
    check_rows_kept(name, result.manifest)
    return result


def _whole_columns(contract: TableContract, present: Mapping[str, str]) -> list[str]:
    """The canonical columns a source has whose values, if none parses, break the
    contract: the required ones that are not text (a derived amount: its two parts)."""
    checked = [c for c in contract.required if contract.kinds[c] != "string"]
    if "amount" in contract.kinds and "amount" not in present:
        checked = [c for c in checked if c != "amount"] + ["quantity", "unit_price"]
    return [c for c in checked if c in present]


def _table_columns(contract: TableContract, parsed: list[str]) -> list[tuple[str, str]]:
    """The columns of ``contract.table`` (name, SQL over the parse query) in table order:
    its canonical columns the source has, order ids derived where it has none, and a
    choice the source lacks as its ``blank`` value."""
    output = []
    for c in contract.kinds:
        choice = contract.choices.get(c)
        if c in parsed and c not in contract.inputs_only:
            output.append((c, c))
        elif c not in parsed and choice is not None and choice.blank is not None:
            output.append((c, quote(choice.blank)))
    if contract is TRANSACTIONS and "order_id" not in parsed:
        output.append(("order_id", DERIVED_ORDER_ID))
    return output


def _check(
    engine: Engine,
    name: str,
    sql: str,
    spec: SourceSpec,
    output: list[tuple[str, str]],
    rules: list[RowRule],
    whole: list[str],
) -> None:
    """Parse the staged rows and evaluate the row rules on them, once, into the table
    ``checked``: the table's columns (see :func:`_table_columns`), ``_row``, ``_left_out``,
    ``reason`` (NULL for a row left out or breaking no rule) and the flags
    ``<col>__present`` and ``<col>__parsed`` of the columns checked as a whole. The
    ``parsed`` view (see :func:`parse_sql`) is created first: a query that cannot parse
    (a time zone or date format the engine refuses) fails there, on its first row."""
    try:
        engine.create("parsed", sql, materialize=False)
    except EngineError as exc:
        raise ConfigError(
            f"{name}: cannot parse with data.timezone={spec.timezone!r} and "
            f"data.date_format={spec.date_format!r} ({exc})"
        ) from exc
    columns = [expr if expr == column else f"{expr} AS {column}" for column, expr in output]
    flags = [f"{c}__{flag}" for c in whole for flag in ("present", "parsed")]
    reason = f"CASE WHEN _left_out IS NULL THEN {reason_sql(rules)} END AS reason"
    engine.create(
        "checked",
        f"SELECT {', '.join([*columns, '_row', '_left_out', reason, *flags])} FROM parsed",
    )
    engine.drop("parsed")


@dataclass
class _Summary:
    """What one aggregate over ``checked`` says (see :func:`_summary`)."""

    given: dict[str, tuple[int, int]]
    left_out: dict[str, Any]
    by_reason: list[tuple[str, int]]


def _summary(engine: Engine, whole: list[str], left_out: LeftOut | None) -> _Summary:
    """One aggregate over ``checked``: per column checked as a whole, the rows with a value
    and the rows whose value parsed; the rows left out on purpose (see
    :func:`count_left_out`); and the rows per ``reason`` of the rows checked."""
    products = bool(left_out and left_out.products)
    product = "CASE WHEN _left_out = 'excluded_product' THEN product_id END" if products else "''"
    counts = [
        f"COUNT(*) FILTER (WHERE {c}__{flag})" for c in whole for flag in ("present", "parsed")
    ]
    groups = engine.rows(
        f"SELECT _left_out, {product} AS product, reason, {', '.join(['COUNT(*)', *counts])} "
        "FROM checked GROUP BY _left_out, product, reason"
    )
    given = {
        c: (
            sum(int(g[4 + 2 * i]) for g in groups),
            sum(int(g[5 + 2 * i]) for g in groups),
        )
        for i, c in enumerate(whole)
    }
    left = [(kind, code, n) for kind, code, _, n, *_ in groups if kind is not None]
    by_reason: dict[str, int] = {}
    for kind, _, reason, n, *_ in groups:
        if kind is None and reason is not None:
            by_reason[reason] = by_reason.get(reason, 0) + int(n)
    return _Summary(given, count_left_out(left, left_out), list(by_reason.items()))


def _reasons(by_reason: list[tuple[str, int]], rejects: pd.DataFrame) -> tuple[dict[str, int], int]:
    """The rows per rule broken (malformed CSV lines included) and the rows quarantined,
    from the checked rows per ``reason``."""
    by_reason = list(by_reason)
    if len(rejects):
        by_reason += list(rejects["reason"].value_counts().items())
    return reason_counts(by_reason), int(sum(n for _, n in by_reason))


def _quarantine(
    engine: Engine,
    columns: list[str],
    key: str,
    rejects: pd.DataFrame,
    limit: int | None,
    bad: int,
) -> pd.DataFrame:
    """The quarantined rows: their source values as text and ``reason``, in source order
    (then the malformed CSV lines); the first ``limit`` only, if given. ``bad`` is the
    number of rows of ``checked`` with a reason: without any, the source is not read."""
    values = ", ".join(f"s.{ident(c)}" for c in columns)
    if bad:
        engine.create("bad_rows", "SELECT _row, reason FROM checked WHERE reason IS NOT NULL")
        sql = (
            f"SELECT {values}, b.reason FROM staged AS s JOIN bad_rows AS b "
            f"ON s.{key} = b._row ORDER BY b._row"
            + (f" LIMIT {limit}" if limit is not None else "")
        )
    else:
        sql = f"SELECT {values}, CAST(NULL AS VARCHAR) AS reason FROM staged AS s LIMIT 0"
    quarantine = engine.frame(sql)
    quarantine = quarantine.astype({c: "string" for c in quarantine.columns})
    if len(rejects):
        quarantine = pd.concat([quarantine, rejects], ignore_index=True)
    return quarantine


def check_rows_kept(name: str, manifest: Mapping[str, Any]) -> None:
    """:class:`DataContractError` when no row is left, saying where the rows went."""
    if manifest["rows_kept"] == 0:
        raise DataContractError(
            f"{name}: no valid rows left ({manifest['rows_quarantined']} quarantined, "
            f"{manifest['duplicates_dropped']} duplicates, "
            f"{manifest['rows_without_customer']} without a customer id, "
            f"{manifest['rows_excluded_products']} of excluded products, "
            f"of {manifest['rows_read']} read)"
        )


def count_left_out(rows: list[tuple[str, Any, int]], left_out: LeftOut | None) -> dict[str, Any]:
    """The manifest's counts of the rows left out on purpose, from the rows left out per
    kind (``_left_out``) and product: ``rows_without_customer``,
    ``rows_excluded_products`` and, with a :class:`LeftOut`, its settings and the rows of
    each excluded product."""
    kinds: dict[str, int] = {}
    per_product: dict[str, int] = {}
    for kind, code, count in rows:
        kinds[kind] = kinds.get(kind, 0) + int(count)
        if kind == "excluded_product":
            per_product[code] = per_product.get(code, 0) + int(count)
    counts: dict[str, Any] = {
        "rows_without_customer": kinds.get("without_customer", 0),
        "rows_excluded_products": kinds.get("excluded_product", 0),
    }
    if left_out is not None:
        counts["without_customer"] = left_out.without_customer
        counts["excluded_products"] = {p: per_product.get(p, 0) for p in left_out.products}
    return counts


def check_source(
    name: str,
    contract: TableContract,
    spec: SourceSpec,
    source_types: Mapping[str, str],
    rows_read: int,
) -> dict[str, str]:
    """The contract checks on a source as read (its columns and row count): canonical ->
    source columns present, or :class:`DataContractError` naming every problem."""
    found = ", ".join(source_types) or "(none)"
    mapping = {c: s for c, s in spec.columns.items() if s}
    present = _check_mapping(name, contract, mapping, source_types, found)
    if rows_read == 0:
        raise DataContractError(
            f"{name}: no rows (rule: the {contract.table} table must not be empty); "
            f"columns found: {found}"
        )
    return present


def rows_accounted(manifest: Mapping[str, Any]) -> int:
    """The rows an ingest manifest accounts for: kept, quarantined, duplicates dropped,
    and rows left out on purpose (guest orders, excluded products); equals ``rows_read``."""
    return int(
        manifest["rows_kept"]
        + manifest["rows_quarantined"]
        + manifest["duplicates_dropped"]
        + manifest["rows_without_customer"]
        + manifest["rows_excluded_products"]
    )


def check_bad_fraction(
    name: str,
    contract: TableContract,
    max_bad_fraction: float,
    quarantine: pd.DataFrame,
    manifest: Callable[..., dict[str, Any]],
) -> None:
    """Raise :class:`TooManyBadRows` when more than ``max_bad_fraction`` of the rows
    checked were quarantined: rows left out on purpose (guest orders, excluded products)
    count neither as bad nor as checked. ``manifest(rows_kept=, customers=)`` is the
    table's :func:`ingest_manifest`; the error carries it, with the rows that passed as
    ``rows_kept`` (so the counts still add up) and ``customers`` null, and the
    ``quarantine``. The message counts reasons and shows a few quarantined rows."""
    counts = manifest(rows_kept=0, customers=None, quiet=True)
    bad = counts["rows_quarantined"]
    checked = counts["rows_read"] - counts["rows_without_customer"]
    checked -= counts["rows_excluded_products"]
    if bad <= max_bad_fraction * checked:
        return
    passed = checked - bad - counts["duplicates_dropped"]
    message = _too_many_message(
        name,
        contract,
        bad,
        checked,
        max_bad_fraction,
        counts["quarantine_reasons"],
        quarantine,
        counts["rows_read"] - checked,
    )
    failed = manifest(rows_kept=passed, customers=None)
    failed["error"] = message
    raise TooManyBadRows(message, contract.table, IngestResult(failed, quarantine))


def ingest_manifest(
    name: str,
    rows_read: int,
    rows_quarantined: int,
    duplicates: int,
    reason_counts: Mapping[str, int],
    present: Mapping[str, str],
    spec: SourceSpec,
    plausibility: Plausibility,
    left_out: Mapping[str, Any],
    *,
    rows_kept: int,
    customers: int | None,
    quiet: bool = False,
) -> dict[str, Any]:
    """The manifest of one ingested table (every engine writes the same keys), logged
    unless ``quiet``. ``left_out`` is :func:`count_left_out`'s. The counts add up:
    ``rows_read = rows_kept + rows_quarantined + duplicates_dropped +
    rows_without_customer + rows_excluded_products``."""
    if not quiet:
        log.info(
            "ingest %s: %d rows read, %d kept, %d quarantined, %d duplicates dropped, "
            "%d without a customer id, %d of excluded products",
            name,
            rows_read,
            rows_kept,
            rows_quarantined,
            duplicates,
            left_out["rows_without_customer"],
            left_out["rows_excluded_products"],
        )
    return {
        "source": name,
        "rows_read": rows_read,
        "rows_kept": rows_kept,
        "rows_quarantined": rows_quarantined,
        "duplicates_dropped": duplicates,
        **left_out,
        "quarantine_reasons": dict(sorted(reason_counts.items())),
        "customers": customers,
        "columns_mapped": dict(present),
        "timezone": spec.timezone,
        **plausibility.manifest(),
    }


def _check_mapping(
    name: str,
    contract: TableContract,
    mapping: Mapping[str, str],
    source_types: Mapping[str, str],
    found: str,
) -> dict[str, str]:
    """Canonical -> source columns present; every missing required column is a problem."""
    derives_amount = (
        "amount" in contract.kinds and "unit_price" in mapping and "amount" not in mapping
    )
    problems = []
    for canonical in contract.required:
        if canonical == "amount" and derives_amount:
            continue
        source = mapping.get(canonical)
        setting = f"{contract.columns_setting}.{canonical}"
        if source is None:
            problems.append(
                f"column {canonical}: not mapped (rule: required by the contract; set {setting})"
            )
        elif source not in source_types:
            problems.append(
                f"column {canonical}: source column {source!r} not found "
                f"(rule: required by the contract; {setting}={source})"
            )
    if derives_amount:
        for part in ("quantity", "unit_price"):
            if mapping.get(part) not in source_types:
                problems.append(
                    f"column {part}: source column {mapping.get(part)!r} not found "
                    "(rule: amount = quantity * unit_price needs both)"
                )
    unknown = [c for c in mapping if c not in contract.kinds]
    if unknown:
        raise ConfigError(
            f"{name}: {', '.join(unknown)} are not columns of the {contract.table} "
            f"contract ({', '.join(contract.kinds)})"
        )
    if problems:
        raise DataContractError(_contract_message(name, contract, problems, found))
    for canonical, source in mapping.items():
        if source not in source_types and canonical not in contract.required:
            log.info("optional column %s (%r) not in %s: skipped", canonical, source, name)
    return {c: s for c, s in mapping.items() if s in source_types}


def check_whole_columns(
    engine: Engine,
    name: str,
    contract: TableContract,
    present: Mapping[str, str],
    source_types: Mapping[str, str],
    found: str,
    spec: SourceSpec,
    given: Mapping[str, tuple[int, int]],
) -> None:
    """A required column none of whose values parses is a contract violation.

    ``given`` has, per column checked as a whole, the rows with a value and the rows whose
    value parsed; ``engine`` holds ``staged``, which the examples come from."""
    problems = []
    for canonical, (values, parsed) in given.items():
        if values == 0 or parsed > 0:
            continue
        source = present[canonical]
        examples = _examples(
            engine,
            f"SELECT CAST({ident(source)} AS VARCHAR) FROM staged "
            f"WHERE {ident(source)} IS NOT NULL",
        )
        if contract.kinds[canonical] == "timestamp":
            rule = "must be a timestamp" + (
                f" in format {spec.date_format!r}"
                if spec.date_format
                else " (ISO 8601, or set data.date_format)"
            )
        else:
            rule = "must be a number" + (
                f" with decimal {spec.csv.decimal!r}" if source_types[source] == "VARCHAR" else ""
            )
        problems.append(
            f"column {canonical} (source column {source!r}, type {source_types[source]}): "
            f"no value parses (rule: {rule}); examples: {examples}"
        )
    if problems:
        raise DataContractError(_contract_message(name, contract, problems, found))


def _contract_message(name: str, contract: TableContract, problems: list[str], found: str) -> str:
    lines = "\n".join(f"  - {p}" for p in problems)
    return (
        f"{name} violates the data contract ({len(problems)} problem(s)):\n{lines}\n"
        f"  columns found: {found}\n"
        f"  map your names with {contract.columns_setting}.<canonical>=<your column>"
    )


def _too_many_message(
    name: str,
    contract: TableContract,
    bad: int,
    read: int,
    limit: float,
    reasons: Mapping[str, int],
    quarantine: pd.DataFrame,
    left_out: int = 0,
) -> str:
    aside = (
        f" (not counting {left_out} rows left out on purpose: without a customer id or "
        "of an excluded product)"
        if left_out
        else ""
    )
    by_reason = ", ".join(
        f"{r}: {n}" for r, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    examples = quarantine.head(_EXAMPLES).to_dict(orient="records")
    return (
        f"{name}: {bad} of {read} rows{aside} ({bad / max(read, 1):.1%}) break row rules, "
        "more than "
        f"ingest.max_bad_fraction={limit} allows; reasons: {by_reason}; "
        f"example rows: {examples}. Fix the export or the mapping "
        f"({contract.columns_setting}.*, data.date_format, data.csv.*), or raise "
        "ingest.max_bad_fraction"
    )
