"""The DuckDB engine (``engine=duckdb``): one machine, tables in an in-memory connection.

:func:`connect` opens the connection; :class:`DuckDBEngine` is the
:class:`churn.engines.base.Engine` over it, which ingest fills and every stage reads.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from churn.data.contract import (
    CSV_ENCODINGS,
    CsvOptions,
    SourceSpec,
    csv_encoding,
    ident,
    quote,
)
from churn.data.sources import (
    check_header,
    first_line,
    header_less_names,
    is_csv,
    source_path,
    split_header,
    transcode_to_utf8,
)
from churn.engines.base import EngineError, SourceRead
from churn.errors import ConfigError, DataContractError


def connect(
    threads: int | None = None,
    memory_limit: str | None = None,
    temp_directory: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with optional thread and memory limits.

    Past ``memory_limit`` DuckDB spills intermediate data to ``temp_directory``.
    """
    config: dict[str, str | int] = {}
    if threads:
        config["threads"] = int(threads)
    if memory_limit:
        config["memory_limit"] = memory_limit
    if temp_directory:
        config["temp_directory"] = temp_directory
    return duckdb.connect(config=config)


def date_range(con: duckdb.DuckDBPyConnection) -> tuple[dt.date, dt.date]:
    """First and last calendar date with a transaction in the ``transactions`` table."""
    first, last = con.execute(
        "SELECT CAST(MIN(ts) AS DATE), CAST(MAX(ts) AS DATE) FROM transactions"
    ).fetchall()[0]
    return first, last


_UNIT_SEPARATOR = "\x1f"
# The staged rows' key: their position in the source.
_KEY = "_churn_row"


def find_duplicates(
    con: duckdb.DuckDBPyConnection,
    numbered: str,
    key: str,
    columns: Sequence[str],
    target: str,
    row_hash: str | None = None,
) -> int:
    """Create the table ``target`` (one column, ``key``) of the rows of the query
    ``numbered`` equal over all ``columns`` to a row with a smaller ``key``; their number.

    Without a full DISTINCT: the rows are first grouped by ``row_hash`` (default: DuckDB's
    64-bit hash of ``columns``), and when no two rows share one, the usual case, there is
    no duplicate and nothing else is read. Otherwise only the rows of a shared hash (the
    candidates) are compared value by value (NULL equal to NULL, as DISTINCT has it), so
    that a hash collision never drops a distinct row.
    """
    cols = ", ".join(ident(c) for c in columns)
    row_hash = row_hash or f"hash({cols})"
    h, n = "_churn_hash", "_churn_n"
    while h in columns or n in columns:
        h, n = "_" + h, "_" + n
    hashed = f"SELECT {row_hash} AS {h}, * FROM ({numbered})"
    query = f"SELECT COUNT(*), COUNT(DISTINCT {h}) FROM ({hashed})"
    count, distinct = con.execute(query).fetchall()[0]
    if count == distinct:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {target} ({key} BIGINT)")
        return 0
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {target} AS SELECT {key} FROM ("
        f"SELECT {key}, row_number() OVER (PARTITION BY {cols} ORDER BY {key}) AS {n} "
        f"FROM ({hashed}) WHERE {h} IN (SELECT {h} FROM ({hashed}) "
        f"GROUP BY {h} HAVING COUNT(*) > 1)) WHERE {n} > 1"
    )
    return int(con.execute(f"SELECT COUNT(*) FROM {target}").fetchall()[0][0])


class DuckDBEngine:
    """:class:`churn.engines.base.Engine` on a DuckDB connection (its temporary tables)."""

    dialect = "duckdb"
    failed_quarantine_rows: int | None = None

    def __init__(self, con: duckdb.DuckDBPyConnection, feature_state: Path | None = None) -> None:
        self.con = con
        # engine.feature_state: where a one-cutoff feature table is kept for the next
        # night (churn.features.incremental); what the last one recomputed.
        self.feature_state = feature_state
        self.feature_night: dict[str, Any] | None = None
        # Tables kept for a view (the keys of its duplicate rows), dropped with it.
        self._helpers: dict[str, list[str]] = {}
        # Views over Parquet files -> the read_parquet call they select from.
        self._parquet: dict[str, str] = {}
        # Naive timestamps are UTC throughout; DuckDB would otherwise use the machine's zone.
        con.execute("SET TimeZone = 'UTC'")

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Run a query; its rows as tuples."""
        return self.con.execute(sql).fetchall()

    def frame(self, sql: str) -> pd.DataFrame:
        """Run a query; its rows as a pandas frame."""
        return self.con.execute(sql).df()

    def columns(self, table: str) -> list[str] | None:
        """The columns of ``table``; ``None`` when there is no such table or view."""
        if not self._kinds(table, temporary=False):
            return None
        return [r[0] for r in self.con.execute(f"DESCRIBE {table}").fetchall()]

    def create(self, table: str, sql: str, *, materialize: bool = True) -> None:
        """Create or replace the temporary table (or view) ``table`` from ``sql``."""
        kind = "TABLE" if materialize else "VIEW"
        try:
            if not materialize:
                self.drop(table)
            self.con.execute(f"CREATE OR REPLACE TEMP {kind} {table} AS {sql}")
            if not materialize:  # a view is checked on its first row
                self.con.execute(f"SELECT * FROM {table} LIMIT 1").fetchall()
        except duckdb.Error as exc:
            raise EngineError(str(exc)) from exc

    def drop(self, table: str) -> None:
        """Drop the temporary table or view ``table``, whichever it is (and the tables
        kept for it)."""
        for kind in self._kinds(table):
            self.con.execute(f"DROP {kind} {table}")
        for helper in self._helpers.pop(table, []):
            self.con.execute(f"DROP TABLE IF EXISTS {helper}")
        self._parquet.pop(table, None)

    def _kinds(self, name: str, temporary: bool = True) -> list[str]:
        """``TABLE``, ``VIEW`` or both: what ``name`` is (only temporary ones, unless
        ``temporary`` is false)."""
        rows = self.con.execute(
            "SELECT 'VIEW' FROM duckdb_views() WHERE (temporary OR NOT $2) AND view_name = $1 "
            "UNION ALL SELECT 'TABLE' FROM duckdb_tables() WHERE (temporary OR NOT $2) "
            "AND table_name = $1",
            [name, temporary],
        ).fetchall()
        return [r[0] for r in rows]

    def read_frame(self, frame: pd.DataFrame, table: str) -> SourceRead:
        """Copy an in-memory frame into ``table``."""
        self.con.register("raw_frame", frame)
        try:
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM raw_frame")
        finally:
            self.con.unregister("raw_frame")
        return SourceRead(self._types(table), pd.DataFrame())

    def read_source(self, spec: SourceSpec, table: str) -> SourceRead:
        """Read a query's result, Parquet (in place, as a view) or CSV files (every column
        as text, malformed lines captured as rejects) into ``table``."""
        for name in (table, "ingest_rejects", "ingest_reject_scans"):
            self.drop(name)
        rejects = pd.DataFrame()
        if spec.query:
            self._run_query(spec, table)
        else:
            if not spec.transactions:
                raise ConfigError("set data.transactions=PATH (CSV or Parquet) or data.query=SQL")
            path = source_path(spec)
            if Path(path).is_dir():
                parts = quote(str(Path(path) / "**" / "*.parquet"))
                self._read_parquet(path, table, f"read_parquet({parts}, union_by_name = true)")
            elif is_csv(path):
                # A CSV is read once into a table, which also captures its malformed lines; a
                # transcoded copy lives in the scratch folder only that long.
                with tempfile.TemporaryDirectory(prefix="churn-csv-") as scratch:
                    try:
                        reader = csv_reader(self.con, path, spec.csv, Path(scratch))
                    except duckdb.Error as exc:
                        raise DataContractError(
                            f"{path}: cannot be read ({first_line(exc)})"
                        ) from exc
                    self._read(path, table, "TABLE", reader)
                rejects = _csv_rejects(self.con)
            else:  # Parquet is read in place
                self._read_parquet(
                    path, table, f"read_parquet({quote(path)}, union_by_name = true)"
                )
        return SourceRead(self._types(table), rejects)

    def _run_query(self, spec: SourceSpec, table: str) -> None:
        con = self.con
        if spec.database:
            if not Path(spec.database).exists():
                raise DataContractError(f"{spec.database}: no such database file")
            con.execute(f"ATTACH {quote(spec.database)} AS source_db (READ_ONLY)")
            con.execute("USE source_db")
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {spec.query}")
        except duckdb.Error as exc:
            raise DataContractError(f"{spec.name}: the query fails ({exc})") from exc
        finally:
            if spec.database:
                con.execute("USE memory")

    def _read_parquet(self, path: str, table: str, reader: str) -> None:
        """The view ``table`` over Parquet files; their rows' positions (file, then row in
        the file) are kept for :meth:`deduplicate`, which numbers the rows without a
        window (``row_number() OVER ()`` would read them on one thread)."""
        self._read(path, table, "VIEW", f"SELECT * FROM {reader}")
        self._parquet[table] = reader

    def _read(self, path: str, table: str, kind: str, reader: str) -> None:
        try:
            self.con.execute(f"CREATE OR REPLACE TEMP {kind} {table} AS {reader}")
        except duckdb.Error as exc:
            raise DataContractError(f"{path}: cannot be read ({first_line(exc)})") from exc

    def _types(self, table: str) -> dict[str, str]:
        return {r[0]: r[1] for r in self.con.execute(f"DESCRIBE {table}").fetchall()}

    def deduplicate(self, source: str, target: str, keep_first: bool) -> str:
        """The rows of ``source`` but those identical to an earlier one, as the view
        ``target`` over it; the key is the position in the source, whatever
        ``keep_first`` says (it costs no more here).

        No copy of the source is made: the view numbers its rows as it reads them (in
        source order: a table's ``rowid``, a Parquet file's index and row number), and
        a row left out as a duplicate is one :func:`find_duplicates` listed in a table
        of keys (none, as a rule, and then no second pass is made)."""
        self.drop(target)
        columns = list(self._types(source))
        key = _KEY
        while key in columns:
            key = "_" + key
        lowered = {c.lower() for c in columns}
        if source in self._parquet and not lowered & {"file_index", "file_row_number"}:
            position = "(CAST(file_index AS BIGINT) << 40) + file_row_number"
            numbered = f"SELECT {position} AS {key}, * FROM {self._parquet[source]}"
        elif "TABLE" in self._kinds(source) and "rowid" not in lowered:
            numbered = f"SELECT rowid AS {key}, * FROM {source}"
        else:  # a position all the same, on one thread
            numbered = f"SELECT row_number() OVER () AS {key}, * FROM {source}"
        helper = f"{target}__duplicates"
        try:
            found = find_duplicates(self.con, numbered, key, columns, helper)
            if found:
                numbered = (
                    f"SELECT * FROM ({numbered}) WHERE {key} NOT IN (SELECT {key} FROM {helper})"
                )
                self._helpers[target] = [helper]
            else:
                self.con.execute(f"DROP TABLE {helper}")
            self.con.execute(f"CREATE OR REPLACE TEMP VIEW {target} AS {numbered}")
        except duckdb.Error as exc:
            raise EngineError(str(exc)) from exc
        return key

    def keep_rows(
        self,
        source: str,
        target: str,
        columns: Sequence[str],
        where: str,
        order_by: str | None = None,
    ) -> None:
        """The table ``target``: ``columns`` of the rows of the table ``source`` where
        ``where`` holds (ordered by ``order_by``, if given); ``source`` is gone after.

        Without an order, and when ``columns`` lead ``source`` in that order, the rows
        are deleted from ``source`` and the other columns dropped in place, which copies
        nothing (a copy would double the table in memory while it is made)."""
        self.drop(target)
        present = [r[0] for r in self.con.execute(f"DESCRIBE {source}").fetchall()]
        try:
            if order_by is None and present[: len(columns)] == list(columns):
                self.con.execute(f"DELETE FROM {source} WHERE ({where}) IS NOT TRUE")
                for column in present[len(columns) :]:
                    self.con.execute(f"ALTER TABLE {source} DROP COLUMN {ident(column)}")
                self.con.execute(f"ALTER TABLE {source} RENAME TO {target}")
                return
            order = f" ORDER BY {order_by}" if order_by else ""
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {target} AS SELECT "
                f"{', '.join(ident(c) for c in columns)} FROM {source} WHERE {where}{order}"
            )
        except duckdb.Error as exc:
            raise EngineError(str(exc)) from exc
        self.drop(source)

    def write_parquet(self, table: str, target: Path) -> None:
        """Write ``table`` as one Parquet file."""
        path = str(target).replace("'", "''")
        self.con.execute(f"COPY {table} TO '{path}' (FORMAT parquet)")

    def write_frame(self, frame: pd.DataFrame, target: Path, partition_by: str) -> None:
        """Write ``frame`` as one Parquet file (``partition_by`` is for cluster engines)."""
        frame.to_parquet(target, index=False)

    def features(
        self,
        cutoffs: Sequence[dt.date],
        windows: Sequence[int],
        active_lookback_days: int,
        families: Sequence[str],
        btyd_horizon_days: int | None,
    ) -> pd.DataFrame:
        """:func:`churn.features.query.build_features` on this connection; from the last
        stored night (:func:`churn.features.incremental.nightly_features`) for one cutoff
        when ``engine.feature_state`` is set."""
        from churn.features.query import build_features

        if self.feature_state is not None and len(set(cutoffs)) == 1:
            from dataclasses import asdict

            from churn.features.incremental import nightly_features

            table, night = nightly_features(
                self.con,
                next(iter(cutoffs)),
                self.feature_state,
                list(windows),
                active_lookback_days,
                list(families),
                btyd_horizon_days,
            )
            self.feature_night = asdict(night)
            return table
        return build_features(
            self.con,
            list(cutoffs),
            list(windows),
            active_lookback_days,
            list(families),
            btyd_horizon_days,
        )

    def date_range(self) -> tuple[dt.date, dt.date]:
        """First and last calendar date with a transaction."""
        return date_range(self.con)

    def predict(self, classifier: Any, features: pd.DataFrame, remote: Callable[[Any], Any]) -> Any:
        """``classifier``'s probabilities, in process (``remote`` is for cluster engines)."""
        return classifier.predict_proba(features)

    def duckdb_connection(self) -> duckdb.DuckDBPyConnection:
        """The connection."""
        return self.con


def csv_reader(
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
    listed = con.execute(f"SELECT file FROM glob({quote(path)}) ORDER BY file").fetchall()
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
            f"SELECT line FROM read_csv({quote(file)}, auto_detect = false, header = false, "
            f"columns = {{'line': 'VARCHAR'}}, delim = {quote(_UNIT_SEPARATOR)}, quote = '', "
            "escape = '', "
            f"encoding = {quote(encoding)}, ignore_errors = true) LIMIT 1"
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
        columns = "{" + ", ".join(f"{quote(n)}: 'VARCHAR'" for n in names) + "}"
        readers.append(
            f"SELECT * FROM read_csv([{', '.join(quote(f) for f in group)}], "
            f"auto_detect = false, header = {str(o.header).lower()}, columns = {columns}, "
            f"delim = {quote(o.delimiter)}, quote = {quote(o.quote)}, "
            f"escape = {quote(o.quote)}, encoding = {quote(encoding)}, "
            "store_rejects = true, rejects_table = 'ingest_rejects', "
            "rejects_scan = 'ingest_reject_scans')"
        )
    return " UNION ALL BY NAME ".join(readers)


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
