"""The DuckDB connection every stage works in, and facts about its ``transactions`` table.

:mod:`churn.data.ingest` fills the canonical ``transactions`` table; this module opens the
connection and reads what stages need to know about the table.
"""

from __future__ import annotations

import datetime as dt

import duckdb


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
