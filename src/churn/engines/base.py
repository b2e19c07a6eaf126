"""What an engine does for churn: the interface the ingest algorithm and the stages use.

An engine holds named tables (DuckDB temporary tables, Spark temp views), runs queries
written in DuckDB's SQL (Spark transpiles them with sqlglot), reads a source into a table
of text or typed columns, and writes, computes features and scores. Logic above this
module never asks which engine it has.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from churn.data.contract import SourceSpec


class EngineError(Exception):
    """An engine refused a query (its own error, first line only, as the message)."""


@dataclass
class SourceRead:
    """A source read into a table.

    Attributes
    ----------
    source_types : dict
        Source column -> its type in DuckDB's names (``VARCHAR``, ``TIMESTAMP``...).
    rejects : pandas.DataFrame
        Malformed CSV lines, as quarantine rows (``source_line``, ``raw_line``,
        ``reason``); empty when there are none.
    """

    source_types: dict[str, str]
    rejects: pd.DataFrame


class Engine(Protocol):
    """The engine a stage runs on.

    Attributes
    ----------
    dialect : str
        The dialect :func:`churn.data.parsing.parse_sql` writes for (``duckdb`` or
        ``spark``): the few functions sqlglot cannot translate.
    failed_quarantine_rows : int, optional
        Quarantined rows a failed ingest brings back (``None``: all).
    feature_night : dict, optional
        What the last one-cutoff :meth:`features` recomputed when it followed a stored
        night (:class:`churn.features.incremental.NightReport`); ``None`` otherwise.
    """

    dialect: str
    failed_quarantine_rows: int | None
    feature_night: dict[str, Any] | None

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Run a query written in DuckDB's SQL; its rows as tuples."""
        ...

    def frame(self, sql: str) -> pd.DataFrame:
        """Run a query written in DuckDB's SQL; its rows as a pandas frame."""
        ...

    def columns(self, table: str) -> list[str] | None:
        """The columns of ``table``; ``None`` when there is no such table."""
        ...

    def create(self, table: str, sql: str, *, materialize: bool = True) -> None:
        """Create or replace ``table`` from a SELECT in DuckDB's SQL: stored (cached on
        Spark) when ``materialize``, else a view. :class:`EngineError` when the query
        fails."""
        ...

    def drop(self, table: str) -> None:
        """Drop ``table`` (and what the engine kept of it), if there is one."""
        ...

    def read_source(self, spec: SourceSpec, table: str) -> SourceRead:
        """Read the source ``spec`` describes (a CSV every column as text, Parquet, a
        query) into ``table``. :class:`churn.errors.DataContractError` when it cannot be
        read, :class:`churn.errors.ConfigError` when this engine cannot read it."""
        ...

    def read_frame(self, frame: pd.DataFrame, table: str) -> SourceRead:
        """Copy an in-memory frame into ``table``."""
        ...

    def deduplicate(self, source: str, target: str, keep_first: bool) -> str:
        """Create ``target`` (a table, or a view over ``source``) from the distinct rows of
        ``source``, each with a key column; returns its name. With ``keep_first`` the key
        is the position in the source of the first of identical rows (``target`` then
        orders like the source)."""
        ...

    def keep_rows(
        self,
        source: str,
        target: str,
        columns: Sequence[str],
        where: str,
        order_by: str | None = None,
    ) -> None:
        """Create the table ``target`` from ``columns`` of the rows of the table ``source``
        where ``where`` holds, ordered by ``order_by`` if given. ``source`` may be used up
        (an engine may turn it into ``target`` in place); the caller drops it after."""
        ...

    def write_parquet(self, table: str, target: Path) -> None:
        """Write ``table`` as Parquet: one file or a folder of part files."""
        ...

    def write_frame(self, frame: pd.DataFrame, target: Path, partition_by: str) -> None:
        """Write a driver-side frame as Parquet: one file, or (a cluster engine) a folder
        partitioned by ``partition_by``, as a data lake table expects."""
        ...

    def features(
        self,
        cutoffs: Sequence[dt.date],
        windows: Sequence[int],
        active_lookback_days: int,
        families: Sequence[str],
        btyd_horizon_days: int | None,
    ) -> pd.DataFrame:
        """The feature table at ``cutoffs`` from the ``transactions`` (and ``customers``)
        tables (see :func:`churn.features.query.build_features`)."""
        ...

    def date_range(self) -> tuple[dt.date, dt.date]:
        """First and last calendar date with a transaction."""
        ...

    def predict(self, classifier: Any, features: pd.DataFrame, remote: Callable[[Any], Any]) -> Any:
        """Churn probabilities of the rows of ``features`` (a numpy array in their order):
        by ``classifier`` in process, or by the UDF ``remote(session)`` returns on a
        cluster engine's workers."""
        ...

    def duckdb_connection(self) -> Any:
        """The DuckDB connection of the stages that run on DuckDB only;
        :class:`churn.errors.ConfigError` on another engine."""
        ...
