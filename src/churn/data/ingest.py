"""Ingest: read an export, map its columns, validate, quarantine, and expose the canonical table.

Every stage starts here. The result is a DuckDB temporary table ``transactions`` with the
canonical columns of the data contract (``customer_id``, ``order_id``, ``ts``, ``amount``
and whichever optional columns the source has), optionally a ``customers`` table
(``customer_id``, ``signup_ts``, ``marketing_opt_out``), and for each a manifest that
accounts for every row read::

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
5. **Row rules**, checked lazily by a pandera schema (every failure of every row at
   once): see :func:`row_rules`. Failing rows go to the quarantine with their original
   values and a ``reason``; if more than ``max_bad_fraction`` of the rows checked fail,
   the run stops with exit code 3 (:class:`TooManyBadRows`, which carries the counts and
   the quarantined rows) and says how many failed and why.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import gzip
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pandas as pd

from churn.errors import ConfigError, DataContractError

if TYPE_CHECKING:
    import pandera.pandas as pa

log = logging.getLogger(__name__)


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
    """

    table: str
    kinds: Mapping[str, str]
    required: tuple[str, ...]
    unique: str | None = None
    inputs_only: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = ()


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
    kinds={"customer_id": "string", "signup_ts": "timestamp", "marketing_opt_out": "boolean"},
    required=("customer_id",),
    unique="customer_id",
    identifiers=("customer_id",),
)
_EXAMPLES = 3
# Without order ids: one order per (customer, timestamp), as the contract says.
DERIVED_ORDER_ID_SQL = (
    "SELECT *, customer_id || '|' || strftime(ts, '%Y-%m-%d %H:%M:%S.%f') AS order_id "
    "FROM transactions"
)
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
        First plausible day of a timestamp (``ts``, ``signup_ts``), from its 00:00.
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
            listed = ", ".join(_quote(p) for p in self.products)
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


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def is_csv(path: str) -> bool:
    lower = path.lower()
    return lower.endswith((".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz"))


def source_path(spec: SourceSpec) -> str:
    """The file, folder or glob to read; :class:`DataContractError` when a local path has
    nothing there (a URI such as ``s3a://`` or ``dbfs:/`` is left to the reader)."""
    path = str(spec.transactions)
    remote = "://" in path or path.startswith("dbfs:")
    has_glob = any(ch in path for ch in "*?[")
    if not remote and not has_glob and not Path(path).exists():
        raise DataContractError(f"{path}: no such file or folder")
    return path


def _create_raw_input(con: duckdb.DuckDBPyConnection, spec: SourceSpec) -> bool:
    """Read the source into the ``raw_input`` table; returns True for CSV sources."""
    if spec.query:
        if spec.database:
            if not Path(spec.database).exists():
                raise DataContractError(f"{spec.database}: no such database file")
            con.execute(f"ATTACH {_quote(spec.database)} AS source_db (READ_ONLY)")
            con.execute("USE source_db")
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE raw_input AS {spec.query}")
        except duckdb.Error as exc:
            raise DataContractError(f"{spec.name}: the query fails ({exc})") from exc
        finally:
            if spec.database:
                con.execute("USE memory")
        return False
    if not spec.transactions:
        raise ConfigError("set data.transactions=PATH (CSV or Parquet) or data.query=SQL")
    path = source_path(spec)
    if Path(path).is_dir():
        parts = _quote(str(Path(path) / "**" / "*.parquet"))
        reader = f"SELECT * FROM read_parquet({parts}, union_by_name = true)"
    elif is_csv(path):
        # A CSV is read once into a table, which also captures its malformed lines; a
        # transcoded copy lives in the scratch folder only that long.
        with tempfile.TemporaryDirectory(prefix="churn-csv-") as scratch:
            try:
                reader = _csv_reader(con, path, spec.csv, Path(scratch))
            except duckdb.Error as exc:
                raise DataContractError(f"{path}: cannot be read ({_first_line(exc)})") from exc
            _create_raw_table(con, path, "TABLE", reader)
        return True
    else:
        reader = f"SELECT * FROM read_parquet({_quote(path)}, union_by_name = true)"
    _create_raw_table(con, path, "VIEW", reader)  # Parquet is read in place
    return False


def _create_raw_table(con: duckdb.DuckDBPyConnection, path: str, kind: str, reader: str) -> None:
    for table in ("raw_input", "ingest_rejects", "ingest_reject_scans"):
        _drop(con, table)
    try:
        con.execute(f"CREATE OR REPLACE TEMP {kind} raw_input AS {reader}")
    except duckdb.Error as exc:
        raise DataContractError(f"{path}: cannot be read ({_first_line(exc)})") from exc


def _first_line(exc: Exception) -> str:
    """An error's first line: DuckDB's messages go on with many lines of hints."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def transcode_to_utf8(source: str, target: Path, encoding: str) -> None:
    """Copy the text file ``source`` (gzip-compressed when it ends in ``.gz``) to ``target``
    as UTF-8, a megabyte at a time.

    For ``cp1252``, the five bytes windows-1252 leaves undefined become the control
    characters of the same number, as browsers read them (WHATWG), rather than stopping
    the run: in an identifier, the control-character rule quarantines the row.
    """
    opener = gzip.open if source.lower().endswith(".gz") else open
    with opener(source, "rb") as raw, target.open("w", encoding="utf-8", newline="") as out:
        if encoding == "cp1252":
            text = codecs.getreader("latin-1")(raw)
            while chunk := text.read(1 << 20):
                out.write(chunk.translate(_CP1252_FROM_LATIN1))
        else:
            shutil.copyfileobj(codecs.getreader(encoding)(raw), out, 1 << 20)


# Read as latin-1, a byte 0x80-0x9F is the control character of its number; windows-1252
# has letters there, all but five (undefined, left as they are).
_CP1252_FROM_LATIN1 = {
    b: bytes([b]).decode("cp1252")
    for b in range(0x80, 0xA0)
    if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)
}


def check_header(name: str, names: Sequence[str]) -> None:
    """A header naming a column twice (in any case) is a contract violation: DuckDB and
    Spark would rename the repeat (``amount_1``, ``amount3``) and the mapping would
    silently read one of the two columns."""
    seen: dict[str, list[str]] = {}
    for column in names:
        seen.setdefault(column.lower(), []).append(column)
    repeated = [group for group in seen.values() if len(group) > 1]
    if repeated:
        listed = "; ".join(" and ".join(repr(c) for c in group) for group in repeated)
        raise DataContractError(
            f"{name}: the header names a column more than once ({listed}; rule: each column "
            "is named once, case aside, or a reader renames the repeats and one of them is "
            "silently lost). Rename the repeated columns in the export, or read the file "
            "with data.csv.header=false and map data.columns.* to column0, column1, ..."
        )


def header_less_names(width: int) -> list[str]:
    """DuckDB's names for the columns of a CSV read without a header: column0, ...; with
    ten or more, zero-padded (column00, ...)."""
    digits = len(str(width - 1))
    return [f"column{i:0{digits}d}" for i in range(width)]


def split_header(line: str, options: CsvOptions) -> list[str]:
    """The fields of a CSV header line, in the file's dialect."""
    if len(options.delimiter) != 1 or len(options.quote) != 1:
        return line.split(options.delimiter)
    return next(csv.reader([line], delimiter=options.delimiter, quotechar=options.quote), [])


_UNIT_SEPARATOR = "\x1f"


def _csv_reader(
    con: duckdb.DuckDBPyConnection, path: str, options: CsvOptions, scratch: Path
) -> str:
    """The query reading the CSV files at ``path`` (a file or glob), every column as text.

    The columns are named from each file's header rather than sniffed: DuckDB's sniffer
    gives up on a whole file when one line is malformed (an unterminated quote, a line
    over ``max_line_size``), where the reader itself rejects just that line into
    ``ingest_rejects``. Files whose headers differ are read separately and lined up by
    name, as the sniffer would. An encoding DuckDB does not read is transcoded to UTF-8
    copies in ``scratch`` first.
    """
    listed = con.execute(f"SELECT file FROM glob({_quote(path)}) ORDER BY file").fetchall()
    files = [r[0] for r in listed]
    if not files:
        raise DataContractError(f"{path}: no such file")
    codec = csv_encoding(options.encoding)
    encoding = CSV_ENCODINGS[codec][0]
    # The file each read file stands for, for messages.
    shown = {f: f for f in files}
    if encoding is None:
        copies = [str(scratch / f"{i}.csv") for i in range(len(files))]
        for file, copy in zip(files, copies, strict=True):
            transcode_to_utf8(file, Path(copy), codec)
        shown = dict(zip(copies, files, strict=True))
        files, encoding = copies, "utf-8"
    groups: dict[tuple[str, ...], list[str]] = {}
    for file in files:
        # The first line alone: no delimiter or quote splits it (the unit separator never
        # occurs in a header), and a bad line further down does not matter here.
        first = con.execute(
            f"SELECT line FROM read_csv({_quote(file)}, auto_detect = false, header = false, "
            f"columns = {{'line': 'VARCHAR'}}, delim = {_quote(_UNIT_SEPARATOR)}, quote = '', "
            "escape = '', "
            f"encoding = {_quote(encoding)}, ignore_errors = true) LIMIT 1"
        ).fetchall()
        if not first or first[0][0] is None:
            raise DataContractError(f"{shown[file]}: empty file (no header, no rows)")
        fields = split_header(first[0][0], options)
        if options.header:
            check_header(shown[file], fields)
            names = tuple(fields)
        else:
            names = tuple(header_less_names(len(fields)))
        groups.setdefault(names, []).append(file)
    o = options
    readers = []
    for names, group in groups.items():
        columns = "{" + ", ".join(f"{_quote(n)}: 'VARCHAR'" for n in names) + "}"
        readers.append(
            f"SELECT * FROM read_csv([{', '.join(_quote(f) for f in group)}], "
            f"auto_detect = false, header = {str(o.header).lower()}, columns = {columns}, "
            f"delim = {_quote(o.delimiter)}, quote = {_quote(o.quote)}, "
            f"escape = {_quote(o.quote)}, encoding = {_quote(encoding)}, "
            "store_rejects = true, rejects_table = 'ingest_rejects', "
            "rejects_scan = 'ingest_reject_scans')"
        )
    return " UNION ALL BY NAME ".join(readers)


def _number_expr(col: str, source_type: str, options: CsvOptions) -> str:
    if source_type != "VARCHAR":
        return f"TRY_CAST({col} AS DOUBLE)"
    text = f"TRIM({col})"
    if options.thousands:
        text = f"REPLACE({text}, {_quote(options.thousands)}, '')"
    if options.decimal != ".":
        text = f"REPLACE({text}, {_quote(options.decimal)}, '.')"
    return f"TRY_CAST({text} AS DOUBLE)"


_AWARE_PATTERN = r"\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*([zZ]|[+-]\d{2}(:?\d{2})?)$"


# strftime directive -> Java DateTimeFormatter letters (one letter where Java then accepts
# one or two digits, as DuckDB's strptime does).
_JAVA_DIRECTIVES = {
    "Y": "yyyy", "y": "yy", "m": "M", "d": "d", "H": "H", "I": "h", "M": "m", "S": "s",
    "f": "SSSSSS", "p": "a", "b": "MMM", "B": "MMMM", "a": "EEE", "A": "EEEE", "j": "D",
    "z": "XX", "Z": "z",
}  # fmt: skip


def java_time_format(strftime_format: str) -> str:
    """``data.date_format`` (strftime) as the Java pattern Spark parses with; literal text
    is quoted (``%Y-%m-%dT%H:%M`` -> ``yyyy-M-d'T'H:m``)."""
    out, literal, i = [], "", 0
    while i < len(strftime_format):
        char = strftime_format[i]
        if char == "%" and i + 1 < len(strftime_format):
            directive = strftime_format[i + 1]
            i += 2
            if directive == "%":
                literal += "%"
                continue
            if directive not in _JAVA_DIRECTIVES:
                raise ConfigError(
                    f"data.date_format={strftime_format!r}: %{directive} has no Spark "
                    "equivalent; use engine=duckdb or another format"
                )
            if literal:
                out.append("'" + literal.replace("'", "''") + "'")
                literal = ""
            letters = _JAVA_DIRECTIVES[directive]
            glued = strftime_format[i : i + 1] == "%" or (i >= 4 and strftime_format[i - 4] == "%")
            if glued and len(letters) == 1:  # "%Y%m%d": fixed widths, or Java cannot split
                letters *= 2
            out.append(letters)
        else:
            literal += char
            i += 1
    if literal:
        out.append("'" + literal.replace("'", "''") + "'")
    return "".join(out)


def _timestamp_expr(col: str, source_type: str, spec: SourceSpec, dialect: str = "duckdb") -> str:
    def localise(naive: str) -> str:
        if spec.timezone.upper() == "UTC":
            return naive
        if dialect == "spark":
            return f"to_utc_timestamp({naive}, {_quote(spec.timezone)})"
        return f"CAST(timezone({_quote(spec.timezone)}, {naive}) AS TIMESTAMP)"

    if source_type.startswith("TIMESTAMP WITH TIME ZONE"):
        return f"CAST({col} AS TIMESTAMP)"
    if source_type == "DATE":
        # A calendar date is a day, not an instant: no time-zone shift.
        return f"CAST({col} AS TIMESTAMP)"
    if source_type.startswith("TIMESTAMP"):
        return localise(f"CAST({col} AS TIMESTAMP)")
    if source_type != "VARCHAR":
        return "CAST(NULL AS TIMESTAMP)"
    text = f"TRIM({col})"
    if spec.date_format:
        if dialect == "spark":
            fmt = _quote(java_time_format(spec.date_format))
            return localise(f"CAST(try_to_timestamp({text}, {fmt}) AS TIMESTAMP)")
        return localise(f"try_strptime({text}, {_quote(spec.date_format)})")
    return (
        f"CASE WHEN regexp_matches({text}, {_quote(_AWARE_PATTERN)}) "
        f"THEN CAST(TRY_CAST({text} AS TIMESTAMPTZ) AS TIMESTAMP) "
        f"WHEN regexp_matches({text}, '^\\d{{4}}-\\d{{2}}-\\d{{2}}$') "
        f"THEN TRY_CAST({text} AS TIMESTAMP) "
        f"ELSE {localise(f'TRY_CAST({text} AS TIMESTAMP)')} END"
    )


# Unicode White_Space, in a regular expression both RE2 (DuckDB) and Java (Spark) read:
# tab to carriage return, next line, and the separators (no-break and ideographic space,
# line and paragraph separators...).
_WHITESPACE = r"[\t\n\x{0B}\f\r\x{85}\p{Z}]"
_TRIMMED = rf"(?s)^{_WHITESPACE}*(.*?){_WHITESPACE}*\z"
# Control characters (NUL, tab, escape, DEL...), left inside a value once it is trimmed.
_CONTROL = r"\p{Cc}"


# A value that starts or ends with white space: only those pay for the extraction, which
# costs about four times as much as this test (10M ids: 2.7 s against 0.6 s).
_PADDED = rf"^{_WHITESPACE}|{_WHITESPACE}$"


def _text_expr(col: str) -> str:
    """A source column as text trimmed of white space at both ends; NULL when nothing
    is left."""
    text = f"CAST({col} AS VARCHAR)"
    return (
        f"NULLIF(CASE WHEN regexp_matches({text}, {_quote(_PADDED)}) "
        f"THEN regexp_extract({text}, {_quote(_TRIMMED)}, 1) ELSE {text} END, '')"
    )


def _window_expr(column: str, window: Plausibility) -> str:
    """True where the timestamp ``column`` lies from ``valid_from`` through the end of
    ``valid_until``."""
    start = f"CAST({_quote(window.valid_from.isoformat())} AS TIMESTAMP)"
    inside = f"{column} >= {start}"
    if window.valid_until is not None:
        end = window.valid_until + dt.timedelta(days=1)
        inside += f" AND {column} < CAST({_quote(end.isoformat())} AS TIMESTAMP)"
    return f"COALESCE({inside}, false)"


def _present_expr(col: str, source_type: str) -> str:
    if source_type == "VARCHAR":
        return f"({col} IS NOT NULL AND TRIM({col}) <> '')"
    return f"({col} IS NOT NULL)"


def _boolean_expr(col: str, source_type: str) -> str:
    if source_type == "BOOLEAN":
        return col
    text = f"lower(TRIM(CAST({col} AS VARCHAR)))"
    true = ", ".join(_quote(v) for v in TRUE_WORDS)
    false = ", ".join(_quote(v) for v in FALSE_WORDS)
    return f"CASE WHEN {text} IN ({true}) THEN true WHEN {text} IN ({false}) THEN false END"


def _finite_where_parsed(column: str) -> Callable[[pd.DataFrame], pd.Series]:
    # NaN parses (DuckDB keeps it as a value) but is not finite.
    return lambda d: ~d[f"{column}__parsed"] | np.isfinite(d[column].astype("float64"))


def _plausible_where_finite(
    column: str, max_abs_value: float
) -> Callable[[pd.DataFrame], pd.Series]:
    def passes(d: pd.DataFrame) -> pd.Series:
        values = d[column].astype("float64")
        return ~d[f"{column}__parsed"] | ~np.isfinite(values) | (values.abs() <= max_abs_value)

    return passes


def _parsed_where_present(column: str) -> Callable[[pd.DataFrame], pd.Series]:
    return lambda d: d[f"{column}__parsed"] | ~d[f"{column}__present"]


Rule = tuple[str, Callable[[pd.DataFrame], pd.Series]]


def row_rules(
    contract: TableContract, columns: Iterable[str], max_abs_value: float = 1e12
) -> list[Rule]:
    """The row rules for the canonical ``columns`` a source has: ``(reason, passes)``.

    ``passes`` maps a batch of :func:`rule_columns` to a boolean Series, True where the
    row keeps the rule: ``<col>__present`` says the source had a non-blank value,
    ``<col>__parsed`` that it parsed, ``<col>__plausible`` that a timestamp lies in the
    plausible window, ``<col>__control`` that an identifier has a control character;
    numbers come with their values, checked against ``max_abs_value``.
    """
    rules: list[Rule] = []
    for column in columns:
        kind = contract.kinds[column]
        if column in contract.required:
            rules.append((f"{column} missing", lambda d, c=column: d[f"{c}__present"]))
        if column in contract.identifiers:
            rules.append(
                (f"{column} has a control character", lambda d, c=column: ~d[f"{c}__control"])
            )
        if kind == "number":
            rules.append((f"{column} not a number", _parsed_where_present(column)))
            rules.append((f"{column} not finite", _finite_where_parsed(column)))
            rules.append(
                (
                    f"{column} implausible (|value| > ingest.max_abs_value)",
                    _plausible_where_finite(column, max_abs_value),
                )
            )
        elif kind == "timestamp":
            rules.append((f"{column} unparseable", _parsed_where_present(column)))
            rules.append(
                (f"{column} not finite", lambda d, c=column: ~d[f"{c}__parsed"] | d[f"{c}__finite"])
            )
            rules.append(
                (
                    f"{column} outside the plausible window "
                    "(ingest.valid_from..ingest.valid_until)",
                    lambda d, c=column: (
                        ~d[f"{c}__parsed"] | ~d[f"{c}__finite"] | d[f"{c}__plausible"]
                    ),
                )
            )
        elif kind == "boolean":
            rules.append((f"{column} not a boolean", _parsed_where_present(column)))
        if column == contract.unique:
            rules.append((f"{column} duplicated", lambda d, c=column: ~d[f"{c}__repeat"]))
    return rules


def _schema(rules: list[Rule], columns: Iterable[str]) -> pa.DataFrameSchema:
    """Pandera schema of a parsed batch: one named frame-wide check per row rule."""
    # Imported here: pandera imports pyspark.pandas, when installed, on import.
    import pandera.pandas as pa

    checks = [pa.Check(passes, name=reason, ignore_na=False) for reason, passes in rules]
    return pa.DataFrameSchema({c: pa.Column(nullable=True) for c in columns}, checks=checks)


def _failures(schema: pa.DataFrameSchema, batch: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``batch`` that break a rule: ``_row`` and ``reason`` (one row per pair)."""
    from pandera.errors import SchemaErrors

    try:
        schema.validate(batch, lazy=True)
    except SchemaErrors as err:
        cases = err.failure_cases
        cases = cases[cases["index"].notna()]
        rows = batch["_row"].to_numpy()[cases["index"].astype("int64").to_numpy()]
        found = pd.DataFrame({"_row": rows, "reason": cases["check"].astype(str).to_numpy()})
        # A frame-wide check reports each failing row once per column: keep one.
        return found.drop_duplicates()
    return pd.DataFrame({"_row": pd.Series(dtype="int64"), "reason": pd.Series(dtype=str)})


Query = Callable[[str], list[tuple[Any, ...]]]


def rule_failures(
    contract: TableContract,
    parsed_columns: list[str],
    batches: Iterable[pd.DataFrame],
    max_abs_value: float = 1e12,
) -> Iterator[pd.DataFrame]:
    """Per batch of the ``parsed`` table (``_row`` and the :func:`rule_columns`), the
    rows that break a row rule: ``_row`` and ``reason``, one row per pair."""
    schema = _schema(
        row_rules(contract, parsed_columns, max_abs_value), rule_columns(contract, parsed_columns)
    )
    for batch in batches:
        yield _failures(schema, batch)


def _examples(query: Query, sql: str) -> str:
    rows = query(f"{sql} LIMIT {_EXAMPLES}")
    return ", ".join(repr(r[0]) for r in rows)


def ingest_transactions(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    max_bad_fraction: float = 0.01,
    batch_rows: int = 1_000_000,
    frame: pd.DataFrame | None = None,
    plausibility: Plausibility | None = None,
    left_out: LeftOut | None = None,
) -> IngestResult:
    """Read, map, validate and normalise transactions into the ``transactions`` table.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection that receives the temporary table ``transactions``.
    spec : SourceSpec
        The source and its column mapping.
    max_bad_fraction : float
        Largest share of rows read that may be quarantined before the run fails.
    batch_rows : int
        Rows validated at a time (bounds memory).
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
    result = ingest_table(
        con,
        spec,
        TRANSACTIONS,
        max_bad_fraction,
        batch_rows,
        frame,
        plausibility,
        left_out or LeftOut(),
    )
    columns = _columns(con, "transactions")
    if "order_id" not in columns:
        # Without order ids: one order per (customer, timestamp), as the contract says.
        con.execute(f"CREATE OR REPLACE TEMP TABLE transactions AS {DERIVED_ORDER_ID_SQL}")
    ts_min, ts_max = con.execute("SELECT MIN(ts), MAX(ts) FROM transactions").fetchall()[0]
    result.manifest.update({"ts_min": str(ts_min), "ts_max": str(ts_max)})
    return result


def ingest_customers(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    max_bad_fraction: float = 0.01,
    batch_rows: int = 1_000_000,
    frame: pd.DataFrame | None = None,
    plausibility: Plausibility | None = None,
) -> IngestResult:
    """Ingest the optional customers table into the ``customers`` table.

    ``marketing_opt_out`` accepts true/false, yes/no, y/n, t/f and 1/0 (any case); a
    ``customer_id`` listed twice keeps its first row, the others are quarantined;
    ``signup_ts`` must lie in the window of ``plausibility``.
    """
    return ingest_table(con, spec, CUSTOMERS, max_bad_fraction, batch_rows, frame, plausibility)


def ingest_table(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    contract: TableContract,
    max_bad_fraction: float = 0.01,
    batch_rows: int = 1_000_000,
    frame: pd.DataFrame | None = None,
    plausibility: Plausibility | None = None,
    left_out: LeftOut | None = None,
) -> IngestResult:
    """Ingest one source into ``contract.table``; the steps are in the module docstring.
    ``left_out`` applies to transactions only (a customers table without ids is bad)."""
    plausibility = plausibility or Plausibility()
    con.execute("SET TimeZone = 'UTC'")
    if frame is not None:
        check_header("<in-memory frame>", [str(c) for c in frame.columns])
        con.register("raw_frame", frame)
        con.execute("CREATE OR REPLACE TEMP TABLE raw_input AS SELECT * FROM raw_frame")
        con.unregister("raw_frame")
        name, csv_source = "<in-memory frame>", False
    else:
        name = spec.name
        csv_source = _create_raw_input(con, spec)

    source_types = {row[0]: row[1] for row in con.execute("DESCRIBE raw_input").fetchall()}
    found = ", ".join(source_types) or "(none)"
    rejects = _csv_rejects(con) if csv_source else pd.DataFrame()
    rows_in_table = con.execute("SELECT COUNT(*) FROM raw_input").fetchall()[0][0]
    rows_read = int(rows_in_table + len(rejects))

    present = check_source(name, contract, spec, source_types, rows_read)

    # Exact duplicates over all source columns. From here on a row is known by a key:
    # staged.rowid, or, where the first of several rows must win (a unique column) or the
    # source has its own "rowid", its position in the source (_row).
    numbered = contract.unique is not None or any(
        c.lower() in ("rowid", "_row") for c in source_types
    )
    if numbered:
        cols = ", ".join(_ident(c) for c in source_types)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE staged AS SELECT MIN(_src_row) AS _row, "
            f"{cols} FROM (SELECT row_number() OVER () AS _src_row, * FROM raw_input) "
            f"GROUP BY {cols}"
        )
        key = "_row"
    else:
        con.execute("CREATE OR REPLACE TEMP TABLE staged AS SELECT DISTINCT * FROM raw_input")
        key = "rowid"
    _drop(con, "raw_input")
    rows_distinct = con.execute("SELECT COUNT(*) FROM staged").fetchall()[0][0]
    duplicates = int(rows_in_table - rows_distinct)

    parsed_columns = _parse(
        con, name, contract, present, source_types, spec, key, plausibility, left_out
    )

    def query(sql: str) -> list[tuple[Any, ...]]:
        return con.execute(sql).fetchall()

    check_whole_columns(
        query,
        name,
        contract,
        present,
        source_types,
        found,
        spec,
    )

    select = ", ".join(["_row", *rule_columns(contract, parsed_columns)])
    failures = list(
        rule_failures(
            contract,
            parsed_columns,
            (
                b.to_pandas()
                for b in con.sql(
                    f"SELECT {select} FROM parsed WHERE _left_out IS NULL"
                ).to_arrow_reader(batch_rows)
            ),
            plausibility.max_abs_value,
        )
    )
    bad = pd.concat(failures, ignore_index=True) if failures else pd.DataFrame()
    if len(bad):
        bad_rows = bad.groupby("_row")["reason"].agg(lambda r: "; ".join(sorted(set(r))))
        bad_rows = bad_rows.reset_index()
        reason_counts = {str(k): int(v) for k, v in bad["reason"].value_counts().items()}
    else:
        bad_rows = pd.DataFrame({"_row": pd.Series(dtype="int64"), "reason": pd.Series(dtype=str)})
        reason_counts = {}
    for reason, count in rejects["reason"].value_counts().items() if len(rejects) else ():
        reason_counts[reason] = reason_counts.get(reason, 0) + int(count)

    con.register("bad_rows", bad_rows)
    try:
        quarantine = con.execute(
            f"SELECT s.* {'EXCLUDE (_row)' if numbered else ''}, b.reason FROM staged AS s "
            f"JOIN bad_rows AS b ON s.{key} = b._row ORDER BY b._row"
        ).df()
        quarantine = quarantine.astype({c: "string" for c in quarantine.columns})
        if len(rejects):
            quarantine = pd.concat([quarantine, rejects], ignore_index=True)
        rows_quarantined = int(len(bad_rows) + len(rejects))
        manifest = partial(
            ingest_manifest,
            name,
            rows_read,
            rows_quarantined,
            duplicates,
            reason_counts,
            present,
            spec,
            plausibility,
            count_left_out(query, left_out),
        )
        check_bad_fraction(name, contract, max_bad_fraction, quarantine, manifest)
        output = [
            c for c in contract.kinds if c in parsed_columns and c not in contract.inputs_only
        ]
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {contract.table} AS SELECT {', '.join(output)} "
            "FROM parsed ANTI JOIN bad_rows USING (_row) WHERE _left_out IS NULL"
            + (" ORDER BY _row" if numbered else "")
        )
    finally:
        con.unregister("bad_rows")
        _drop(con, "parsed")
        _drop(con, "staged")

    rows_kept, customers = con.execute(
        f"SELECT COUNT(*), COUNT(DISTINCT customer_id) FROM {contract.table}"
    ).fetchall()[0]
    result = IngestResult(
        manifest=manifest(rows_kept=int(rows_kept), customers=int(customers)),
        quarantine=quarantine,
    )
    check_rows_kept(name, result.manifest)
    return result


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


def count_left_out(query: Query, left_out: LeftOut | None) -> dict[str, Any]:
    """The manifest's counts of the rows left out on purpose, from the ``parsed`` table
    (``query`` runs DuckDB SQL on the engine holding it): ``rows_without_customer``,
    ``rows_excluded_products`` and, with a :class:`LeftOut`, its settings and the rows of
    each excluded product."""
    products = bool(left_out and left_out.products)
    product = "CASE WHEN _left_out = 'excluded_product' THEN product_id END" if products else "''"
    rows = query(
        f"SELECT _left_out, {product} AS product, COUNT(*) FROM parsed "
        "WHERE _left_out IS NOT NULL GROUP BY _left_out, product"
    )
    kinds: dict[str, int] = {}
    per_product: dict[str, int] = {}
    for kind, code, count in rows:
        kinds[kind] = kinds.get(kind, 0) + int(count)
        if kind == "excluded_product":
            per_product[code] = int(count)
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
        if source is None:
            problems.append(f"column {canonical}: not mapped (rule: required by the contract)")
        elif source not in source_types:
            problems.append(
                f"column {canonical}: source column {source!r} not found "
                "(rule: required by the contract)"
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
        raise DataContractError(_contract_message(name, problems, found))
    for canonical, source in mapping.items():
        if source not in source_types and canonical not in contract.required:
            log.info("optional column %s (%r) not in %s: skipped", canonical, source, name)
    return {c: s for c, s in mapping.items() if s in source_types}


def parse_sql(
    contract: TableContract,
    present: Mapping[str, str],
    source_types: Mapping[str, str],
    spec: SourceSpec,
    key: str,
    dialect: str = "duckdb",
    plausibility: Plausibility | None = None,
    left_out: LeftOut | None = None,
) -> tuple[str, list[str]]:
    """The query parsing the ``staged`` table, and the canonical columns it parses.

    Written in DuckDB's SQL; with ``dialect="spark"`` the few functions sqlglot cannot
    translate (timestamp formats, time zones, infinite timestamps) are written so that
    :func:`churn.engines.spark_engine.to_spark_sql` turns the query into Spark SQL. Besides each
    canonical value the result has ``<col>__present`` (the source had a non-blank value)
    and ``<col>__parsed`` (the value parsed); a timestamp has ``<col>__plausible`` (in
    the window of ``plausibility``), an identifier ``<col>__control`` (it has a control
    character). Text is trimmed of Unicode white space at both ends; nothing but white
    space is no value. ``_left_out`` says why a row is left out on purpose (see
    :class:`LeftOut`; NULL: the row is checked and kept or quarantined).
    """
    window = plausibility or Plausibility()
    # Inner select: values parsed from the source columns; outer: flags on those values.
    inner, outer = [f"{key} AS _row"], ["*"]
    for canonical, source in present.items():
        col, stype, kind = _ident(source), source_types[source], contract.kinds[canonical]
        if kind == "string":
            inner.append(f"{_text_expr(col)} AS {canonical}")
            outer.append(f"{canonical} IS NOT NULL AS {canonical}__present")
            if canonical in contract.identifiers:
                outer.append(
                    f"COALESCE(regexp_matches({canonical}, {_quote(_CONTROL)}), false) "
                    f"AS {canonical}__control"
                )
        else:
            if kind == "number":
                parse = _number_expr(col, stype, spec.csv)
            elif kind == "timestamp":
                parse = _timestamp_expr(col, stype, spec, dialect)
            else:
                parse = _boolean_expr(col, stype)
            inner.append(f"{parse} AS {canonical}")
            inner.append(f"{_present_expr(col, stype)} AS {canonical}__present")
            outer.append(f"{canonical} IS NOT NULL AS {canonical}__parsed")
            if kind == "timestamp":
                # Spark has no infinite timestamps.
                finite = (
                    f"{canonical} IS NOT NULL"
                    if dialect == "spark"
                    else f"COALESCE(isfinite({canonical}), false)"
                )
                outer.append(f"{finite} AS {canonical}__finite")
                outer.append(f"{_window_expr(canonical, window)} AS {canonical}__plausible")
        if canonical == contract.unique:
            inner.append(
                f"row_number() OVER (PARTITION BY {_text_expr(col)} ORDER BY {key}) > 1 "
                f"AND {_text_expr(col)} IS NOT NULL AS {canonical}__repeat"
            )
    outer.append(f"{left_out.sql(present) if left_out else 'CAST(NULL AS VARCHAR)'} AS _left_out")
    parsed = list(present)
    if "amount" in contract.kinds and "amount" not in present and "unit_price" in present:
        outer += [
            "quantity * unit_price AS amount",
            "quantity__present AND unit_price__present AS amount__present",
            "quantity * unit_price IS NOT NULL AS amount__parsed",
        ]
        parsed.append("amount")
    return f"SELECT {', '.join(outer)} FROM (SELECT {', '.join(inner)} FROM staged)", parsed


def _parse(
    con: duckdb.DuckDBPyConnection,
    name: str,
    contract: TableContract,
    present: Mapping[str, str],
    source_types: Mapping[str, str],
    spec: SourceSpec,
    key: str,
    plausibility: Plausibility,
    left_out: LeftOut | None,
) -> list[str]:
    """Create the ``parsed`` view over ``staged`` (see :func:`parse_sql`); returns the
    canonical columns parsed."""
    sql, parsed = parse_sql(
        contract, present, source_types, spec, key, "duckdb", plausibility, left_out
    )
    try:
        con.execute(f"CREATE OR REPLACE TEMP VIEW parsed AS {sql}")
        con.execute("SELECT * FROM parsed LIMIT 1").fetchall()
    except duckdb.Error as exc:
        raise ConfigError(
            f"{name}: cannot parse with data.timezone={spec.timezone!r} ({exc})"
        ) from exc
    return parsed


def rule_columns(contract: TableContract, parsed: Iterable[str]) -> list[str]:
    """Columns of ``parsed`` the row rules read: flags, and the values of numbers."""
    columns = []
    for column in parsed:
        kind = contract.kinds[column]
        columns.append(f"{column}__present")
        if kind != "string":
            columns.append(f"{column}__parsed")
        if kind == "timestamp":
            columns += [f"{column}__finite", f"{column}__plausible"]
        if column in contract.identifiers:
            columns.append(f"{column}__control")
        if kind == "number":
            columns.append(column)
        if column == contract.unique:
            columns.append(f"{column}__repeat")
    return columns


def _drop(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop a temporary table or view of that name, whichever it is."""
    kinds = con.execute(
        "SELECT 'VIEW' FROM duckdb_views() WHERE temporary AND view_name = $1 "
        "UNION ALL SELECT 'TABLE' FROM duckdb_tables() WHERE temporary AND table_name = $1",
        [name],
    ).fetchall()
    for (kind,) in kinds:
        con.execute(f"DROP {kind} {name}")


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]


# DuckDB's names of CSV errors that would puzzle a reader of the quarantine.
_REJECT_KINDS = {
    "UNQUOTED VALUE": "unterminated quote",
    "LINE SIZE OVER MAXIMUM": "line longer than max_line_size",
}


def _csv_rejects(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Malformed CSV lines captured by ``store_rejects``, as quarantine rows."""
    try:
        rejects = con.execute(
            "SELECT scan_id, file_id, line, error_type, csv_line FROM ingest_rejects "
            "ORDER BY scan_id, file_id, line"
        ).df()
    except duckdb.Error:
        return pd.DataFrame()
    if rejects.empty:
        return pd.DataFrame()
    # One reject row per line of each file (a line can break several rules).
    rejects = rejects.drop_duplicates(["scan_id", "file_id", "line"])
    kinds = rejects["error_type"].astype(str).map(lambda e: _REJECT_KINDS.get(e, e.lower()))
    return pd.DataFrame(
        {
            "source_line": rejects["line"].astype("string"),
            "raw_line": rejects["csv_line"].astype("string"),
            "reason": ("csv line malformed: " + kinds).astype("string"),
        }
    )


def check_whole_columns(
    query: Query,
    name: str,
    contract: TableContract,
    present: Mapping[str, str],
    source_types: Mapping[str, str],
    found: str,
    spec: SourceSpec,
) -> None:
    """A required column none of whose values parses is a contract violation.

    ``query`` runs DuckDB SQL on the engine holding ``parsed`` and ``staged``."""
    problems = []
    derived = "amount" in contract.kinds and "amount" not in present
    checked = [c for c in contract.required if contract.kinds[c] != "string"]
    if derived:
        checked = [c for c in checked if c != "amount"] + ["quantity", "unit_price"]
    for canonical in checked:
        if canonical not in present:
            continue
        given, parsed = query(
            f"SELECT COUNT(*) FILTER (WHERE {canonical}__present), COUNT({canonical}) FROM parsed"
        )[0]
        if given == 0 or parsed > 0:
            continue
        source = present[canonical]
        examples = _examples(
            query,
            f"SELECT CAST({_ident(source)} AS VARCHAR) FROM staged "
            f"WHERE {_ident(source)} IS NOT NULL",
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
        raise DataContractError(_contract_message(name, problems, found))


def _contract_message(name: str, problems: list[str], found: str) -> str:
    lines = "\n".join(f"  - {p}" for p in problems)
    return (
        f"{name} violates the data contract ({len(problems)} problem(s)):\n{lines}\n"
        f"  columns found: {found}\n"
        "  map your names with data.columns.<canonical>=<your column>"
    )


def _too_many_message(
    name: str,
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
        f"example rows: {examples}. Fix the export or the mapping (data.columns.*, "
        "data.date_format, data.csv.*), or raise ingest.max_bad_fraction"
    )
