"""Reading transactions into DuckDB: the IO edge of every stage.

The canonical table (see the data contract in the README) is exposed to the rest of the
pipeline as a DuckDB view named ``transactions`` with the columns ``customer_id``
(VARCHAR), ``order_id`` (VARCHAR), ``ts`` (TIMESTAMP), ``amount`` (DOUBLE) and whatever
optional canonical columns the source has.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd

from churn.errors import DataContractError

REQUIRED_COLUMNS = ("customer_id", "ts", "amount")
OPTIONAL_COLUMNS = ("order_id", "quantity", "product_id", "category", "discount", "channel")
_CASTS = {
    "customer_id": "CAST({c} AS VARCHAR)",
    "order_id": "CAST({c} AS VARCHAR)",
    "ts": "CAST({c} AS TIMESTAMP)",
    "amount": "CAST({c} AS DOUBLE)",
    "quantity": "CAST({c} AS DOUBLE)",
    "discount": "CAST({c} AS DOUBLE)",
    "product_id": "CAST({c} AS VARCHAR)",
    "category": "CAST({c} AS VARCHAR)",
    "channel": "CAST({c} AS VARCHAR)",
}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _reader(path: str) -> str:
    """DuckDB table function reading ``path`` (file, folder or glob of CSV or Parquet)."""
    p = Path(path)
    if p.is_dir():
        return f"read_parquet({_quote(str(p / '**' / '*.parquet'))})"
    if p.suffix.lower() in {".csv", ".tsv", ".txt"} or path.lower().endswith(".csv.gz"):
        return f"read_csv_auto({_quote(path)}, header = true)"
    return f"read_parquet({_quote(path)})"


def register_transactions(con: duckdb.DuckDBPyConnection, source: str | pd.DataFrame) -> None:
    """Expose ``source`` as the canonical ``transactions`` view of ``con``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection that receives the view.
    source : str or pandas.DataFrame
        A CSV or Parquet path (file, folder or glob), or a frame already in memory.

    Raises
    ------
    DataContractError
        If the source cannot be read, is empty, or lacks a required column. The message
        names the source, the missing columns and the columns found.
    """
    if isinstance(source, pd.DataFrame):
        con.register("transactions_raw", source)
        relation, name = "transactions_raw", "<in-memory frame>"
    else:
        name = str(source)
        if not any(ch in name for ch in "*?[") and not Path(name).exists():
            raise DataContractError(f"{name}: no such file or folder")
        relation = _reader(name)
    try:
        columns = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
    except duckdb.Error as exc:
        raise DataContractError(f"{name}: cannot be read as a table ({exc})") from exc

    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise DataContractError(
            f"{name}: required column(s) {', '.join(missing)} missing "
            f"(rule: the data contract requires {', '.join(REQUIRED_COLUMNS)}); "
            f"columns found: {', '.join(columns)}. "
            "Map your names with data.columns.<canonical>=<yours>."
        )
    select = [
        f"{_CASTS[c].format(c=c)} AS {c}"
        for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
        if c in columns
    ]
    if "order_id" not in columns:
        # Without order ids, one order per (customer, timestamp), as the contract says.
        select.append("CAST(customer_id AS VARCHAR) || '|' || CAST(ts AS VARCHAR) AS order_id")
    con.execute(
        f"CREATE OR REPLACE VIEW transactions AS SELECT {', '.join(select)} FROM {relation}"
    )
    if con.execute("SELECT COUNT(*) FROM transactions").fetchall()[0][0] == 0:
        raise DataContractError(f"{name}: no rows (rule: the transactions table must not be empty)")


def date_range(con: duckdb.DuckDBPyConnection) -> tuple[dt.date, dt.date]:
    """First and last calendar date with a transaction in the ``transactions`` view."""
    first, last = con.execute(
        "SELECT CAST(MIN(ts) AS DATE), CAST(MAX(ts) AS DATE) FROM transactions"
    ).fetchall()[0]
    return first, last


def connect(
    threads: int | None = None, memory_limit: str | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with optional thread and memory limits."""
    config: dict[str, str | int] = {}
    if threads:
        config["threads"] = int(threads)
    if memory_limit:
        config["memory_limit"] = memory_limit
    return duckdb.connect(config=config)
