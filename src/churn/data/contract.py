"""The data contract: the canonical tables, how a source maps to them, and the row rules.

Declarations only, no engine: :class:`TableContract` (the canonical columns of
``transactions``, ``customers`` and ``contacts``), :class:`Choice` (the values a text
column may take), :class:`SourceSpec` and :class:`CsvOptions` (where a
source is and how to read it), :class:`Plausibility` and :class:`LeftOut` (what ingest
quarantines or leaves out), and :func:`row_rules`: each rule a reason and a SQL condition
(DuckDB's dialect, transpiled for Spark) on the flags of the parse query
(:func:`churn.data.parsing.parse_sql`), evaluated inside the engine.
"""

from __future__ import annotations

import codecs
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from churn.errors import ConfigError, DataContractError


@dataclass(frozen=True)
class Choice:
    """The values a text column may take, and how the source may spell them.

    Attributes
    ----------
    spellings : mapping
        Accepted spelling, in lower case -> the canonical value. A source value is
        trimmed and matched in any case; one matching no spelling is quarantined.
    blank : str, optional
        The value of a blank cell, and of every row when the source lacks the column;
        ``None``: a blank stays null.
    """

    spellings: Mapping[str, str]
    blank: str | None = None

    @property
    def values(self) -> tuple[str, ...]:
        """The canonical values, in the order of :attr:`spellings`."""
        return tuple(dict.fromkeys(self.spellings.values()))

    def reason(self, column: str) -> str:
        """The quarantine reason of a value matching no spelling
        (``contact_group not contact or control``)."""
        *others, last = self.values
        return f"{column} not {', '.join(others)} or {last}" if others else f"{column} not {last}"


@dataclass(frozen=True)
class TableContract:
    """The canonical shape of one input table.

    Attributes
    ----------
    table : str
        Name of the table ingest creates (a temp view on Spark).
    kinds : mapping
        Canonical column -> ``"string"``, ``"number"``, ``"timestamp"`` or ``"boolean"``,
        in output order.
    required : tuple of str
        Columns the source must have (after mapping).
    unique : str, optional
        A column whose repeated values are quarantined (all but the first row).
    inputs_only : tuple of str
        Columns read to derive others but not kept (``unit_price``).
    identifiers : tuple of str
        String columns that are keys: a control character in one is quarantined (an
        invisible byte would make another customer, order or product).
    choices : mapping
        String column -> the :class:`Choice` of values it may take.
    columns_setting : str
        The config key that maps the source's columns to this table's, as messages name
        it (``data.columns``).
    """

    table: str
    kinds: Mapping[str, str]
    required: tuple[str, ...]
    unique: str | None = None
    inputs_only: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = ()
    choices: Mapping[str, Choice] = field(default_factory=dict)
    columns_setting: str = "data.columns"


TRANSACTIONS = TableContract(
    table="transactions",
    kinds={
        "customer_id": "string",
        "order_id": "string",
        "ts": "timestamp",
        "amount": "number",
        "quantity": "number",
        "product_id": "string",
        "category": "string",
        "discount": "number",
        "channel": "string",
        "unit_price": "number",
    },
    required=("customer_id", "ts", "amount"),
    inputs_only=("unit_price",),
    identifiers=("customer_id", "order_id", "product_id"),
)
CUSTOMERS = TableContract(
    table="customers",
    kinds={
        "customer_id": "string",
        "signup_ts": "timestamp",
        "marketing_opt_out": "boolean",
        "first_name": "string",
        "email": "string",
    },
    required=("customer_id",),
    unique="customer_id",
    identifiers=("customer_id",),
    columns_setting="data.customer_columns",
)
# A campaign tool's contact log: who was contacted (or held out as control), when, by
# which campaign. ``group`` is an SQL keyword, hence the canonical ``contact_group``.
CONTACT_GROUPS = Choice(
    spellings={
        "contact": "contact",
        "treatment": "contact",
        "treated": "contact",
        "control": "control",
        "holdout": "control",
    },
    blank="contact",
)
CONTACTS = TableContract(
    table="contacts",
    kinds={
        "customer_id": "string",
        "contacted_at": "timestamp",
        "campaign": "string",
        "contact_group": "string",
    },
    required=("customer_id", "contacted_at", "campaign"),
    identifiers=("customer_id",),
    choices={"contact_group": CONTACT_GROUPS},
    columns_setting="data.contact_columns",
)
# Without order ids: one order per (customer, timestamp), as the contract says.
DERIVED_ORDER_ID = "customer_id || '|' || strftime(ts, '%Y-%m-%d %H:%M:%S.%f')"
# The spellings of a boolean (any case); churn.data.consent reads quarantined opt-outs with them.
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")


# data.csv.encoding, by Python's name of the codec (any of its spellings: latin1, l1,
# ISO-8859-1, utf8, windows-1252...) -> DuckDB's name and Java's (Spark). DuckDB reads
# utf-8, utf-16 and latin-1 itself; windows-1252 (latin-1 with letters such as the euro
# sign, curly quotes and dashes in 0x80-0x9F) is transcoded to UTF-8 on the way in.
CSV_ENCODINGS = {
    "utf-8": ("utf-8", "UTF-8"),
    "utf-16": ("utf-16", "UTF-16"),
    "iso8859-1": ("latin-1", "ISO-8859-1"),
    "cp1252": (None, "windows-1252"),
}


def csv_encoding(name: str) -> str:
    """Python's name of the codec ``data.csv.encoding`` names (a key of
    :data:`CSV_ENCODINGS`); :class:`ConfigError` for one ingest cannot read."""
    try:
        codec = codecs.lookup(name).name
    except (LookupError, TypeError):
        codec = None
    if codec not in CSV_ENCODINGS:
        raise ConfigError(
            f"data.csv.encoding={name!r}: must be utf-8, utf-16, latin-1 (ISO-8859-1) or "
            "windows-1252 (cp1252), in any of their usual spellings; convert the file to "
            "UTF-8 first for another encoding (iconv -f <encoding> -t utf-8)"
        )
    return codec


@dataclass(frozen=True)
class CsvOptions:
    """How to read a CSV export.

    ``decimal=","`` with ``thousands="."`` reads European numbers such as ``1.234,56``.
    """

    delimiter: str = ","
    decimal: str = "."
    thousands: str | None = None
    header: bool = True
    quote: str = '"'
    encoding: str = "utf-8"


@dataclass(frozen=True)
class Plausibility:
    """Bounds real shop data stays within; a value beyond them is quarantined.

    Attributes
    ----------
    max_abs_value : float
        Largest magnitude of a number column (``amount``, ``quantity``, ``discount``,
        ``unit_price``, and an ``amount`` derived as ``quantity * unit_price``). Finite
        values near the float64 limit would make sums, and so features and the value at
        risk, overflow to infinity.
    valid_from : datetime.date
        First plausible day of a timestamp (``ts``, ``signup_ts``, ``contacted_at``), from
        its 00:00.
    valid_until : datetime.date, optional
        Last plausible day, through its end; ``None``: no upper bound. The stages pass
        the day after today by the machine's clock (``ingest.valid_until: null``).
    """

    max_abs_value: float = 1e12
    valid_from: dt.date = dt.date(1990, 1, 1)
    valid_until: dt.date | None = None

    def manifest(self) -> dict[str, Any]:
        """The bounds as the manifest records them."""
        return {
            "max_abs_value": self.max_abs_value,
            "valid_from": self.valid_from.isoformat(),
            "valid_until": None if self.valid_until is None else self.valid_until.isoformat(),
        }


WITHOUT_CUSTOMER = ("drop", "quarantine")


@dataclass(frozen=True)
class LeftOut:
    """Transaction rows ingest leaves out on purpose: not errors, so they are not
    quarantined nor held against ``max_bad_fraction``, but each kind is counted in the
    manifest (``rows_without_customer``, ``rows_excluded_products``).

    Attributes
    ----------
    without_customer : {"drop", "quarantine"}
        A row without a customer id (a guest order) is dropped, or quarantined as
        ``customer_id missing`` like any bad row.
    products : tuple of str
        ``product_id`` values that are not customer purchases (a marketplace's fee, bank
        charges, a bad-debt adjustment), matched exactly once trimmed. A row without a
        customer counts as that first.
    """

    without_customer: str = "drop"
    products: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.without_customer not in WITHOUT_CUSTOMER:
            raise ConfigError(
                f"ingest.without_customer={self.without_customer!r}: must be one of "
                f"{', '.join(WITHOUT_CUSTOMER)}"
            )

    def sql(self, present: Iterable[str]) -> str:
        """The ``_left_out`` flag of a parsed row, in SQL over its canonical values:
        ``'without_customer'``, ``'excluded_product'`` or NULL (kept, checked)."""
        cases = []
        if self.without_customer == "drop":
            cases.append("WHEN customer_id IS NULL THEN 'without_customer'")
        if self.products:
            if "product_id" not in present:
                raise ConfigError(
                    "data.exclude_products needs product ids: map data.columns.product_id "
                    "to the export's product column, or set data.exclude_products=[]"
                )
            listed = ", ".join(quote(p) for p in self.products)
            cases.append(f"WHEN product_id IN ({listed}) THEN 'excluded_product'")
        if not cases:
            return "CAST(NULL AS VARCHAR)"
        return f"CASE {' '.join(cases)} END"


@dataclass(frozen=True)
class SourceSpec:
    """Where the transactions come from and how their columns map to the contract.

    Parameters
    ----------
    transactions : str, optional
        CSV or Parquet path: file, folder (of Parquet files) or glob. (For the customers
        table, its path.)
    query : str, optional
        A SQL query DuckDB runs instead of reading ``transactions``; it may read files
        (``read_csv``/``read_parquet``) or the tables of ``database``.
    database : str, optional
        A DuckDB database file attached read-only for ``query``.
    columns : mapping
        Canonical name -> the source's column name (``None`` = not in the source). Add
        ``unit_price`` to derive ``amount = quantity * unit_price``.
    csv : CsvOptions
        CSV dialect.
    date_format : str, optional
        ``strptime`` format of text timestamps; ``None`` reads ISO 8601.
    timezone : str
        Time zone of naive timestamps (IANA name); aware ones carry their own.
    """

    transactions: str | None = None
    query: str | None = None
    database: str | None = None
    columns: Mapping[str, str | None] = field(
        default_factory=lambda: {c: c for c in TRANSACTIONS.kinds if c != "unit_price"}
    )
    csv: CsvOptions = field(default_factory=CsvOptions)
    date_format: str | None = None
    timezone: str = "UTC"

    @property
    def name(self) -> str:
        """How messages refer to this source."""
        if self.query:
            return f"query {self.query.strip()[:80]!r}" + (
                f" on {self.database}" if self.database else ""
            )
        return str(self.transactions)


@dataclass
class IngestResult:
    """What ingest produced besides the ``transactions`` table."""

    manifest: dict[str, Any]
    quarantine: pd.DataFrame


class TooManyBadRows(DataContractError):
    """More than ``max_bad_fraction`` of the rows broke row rules; ``result`` holds the
    counts and the quarantined rows all the same, so that the stage can leave them for the
    user (``result.manifest["rows_kept"]`` is the rows that passed: none was kept)."""

    def __init__(self, message: str, table: str, result: IngestResult) -> None:
        super().__init__(message)
        self.table = table
        self.result = result


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def ident(name: str) -> str:
    """A SQL identifier, quoted (DuckDB's and, once transpiled, Spark's)."""
    return '"' + name.replace('"', '""') + '"'


# --- row rules ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RowRule:
    """One row rule: the quarantine's ``reason``, and the SQL condition (DuckDB's dialect,
    over the flags of :func:`churn.data.parsing.parse_sql`) true where a row breaks it."""

    reason: str
    fails: str


def _finite(column: str) -> str:
    # NaN sorts above infinity on both engines, so one comparison rules out both.
    return f"abs({column}) < CAST('Infinity' AS DOUBLE)"


def row_rules(
    contract: TableContract, columns: Iterable[str], max_abs_value: float = 1e12
) -> list[RowRule]:
    """The row rules for the canonical ``columns`` a source has, in the order they are
    declared.

    The conditions read the parse query's flags: ``<col>__present`` (the source had a
    non-blank value), ``<col>__parsed`` (it parsed), ``<col>__finite`` and
    ``<col>__plausible`` (a timestamp is finite and in the plausible window),
    ``<col>__control`` (an identifier has a control character), ``<col>__repeat`` (a
    unique column's value was seen before); numbers are checked on their values, against
    ``max_abs_value``. A column with a :class:`Choice` fails where a value matches none of
    its spellings.
    """
    rules: list[RowRule] = []
    for c in columns:
        kind = contract.kinds[c]
        if c in contract.required:
            rules.append(RowRule(f"{c} missing", f"NOT {c}__present"))
        if c in contract.identifiers:
            rules.append(RowRule(f"{c} has a control character", f"{c}__control"))
        unparsed = f"{c}__present AND NOT {c}__parsed"
        if kind == "number":
            rules += [
                RowRule(f"{c} not a number", unparsed),
                RowRule(f"{c} not finite", f"{c}__parsed AND NOT {_finite(c)}"),
                RowRule(
                    f"{c} implausible (|value| > ingest.max_abs_value)",
                    f"{c}__parsed AND {_finite(c)} AND NOT abs({c}) <= {max_abs_value!r}",
                ),
            ]
        elif kind == "timestamp":
            rules += [
                RowRule(f"{c} unparseable", unparsed),
                RowRule(f"{c} not finite", f"{c}__parsed AND NOT {c}__finite"),
                RowRule(
                    f"{c} outside the plausible window (ingest.valid_from..ingest.valid_until)",
                    f"{c}__parsed AND {c}__finite AND NOT {c}__plausible",
                ),
            ]
        elif kind == "boolean":
            rules.append(RowRule(f"{c} not a boolean", unparsed))
        elif c in contract.choices:
            rules.append(RowRule(contract.choices[c].reason(c), unparsed))
        if c == contract.unique:
            rules.append(RowRule(f"{c} duplicated", f"{c}__repeat"))
    return rules


def reason_sql(rules: Iterable[RowRule]) -> str:
    """The SQL giving a row's quarantine ``reason``: every rule it breaks, in alphabetical
    order, joined by ``"; "``; NULL when it breaks none."""
    failed = [
        f"CASE WHEN COALESCE({r.fails}, false) THEN {quote(r.reason)} END"
        for r in sorted(rules, key=lambda r: r.reason)
    ]
    if not failed:
        return "CAST(NULL AS VARCHAR)"
    return f"NULLIF(concat_ws('; ', {', '.join(failed)}), '')"


def reason_counts(combinations: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Rows per rule broken, from the rows per ``reason`` (one or several rules, as
    :func:`reason_sql` joins them)."""
    counts: dict[str, int] = {}
    for reason, rows in combinations:
        for part in reason.split("; "):
            counts[part] = counts.get(part, 0) + int(rows)
    return counts
