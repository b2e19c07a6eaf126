"""The engines that run the SQL: DuckDB (one machine) and Apache Spark (a cluster).

May import :mod:`churn.errors` only; everything above reaches an engine through here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from churn.engines.base import Engine


def as_engine(handle: Any) -> Engine:
    """The :class:`~churn.engines.base.Engine` for what a caller holds: an engine as it
    is, a DuckDB connection or a Spark session wrapped in theirs."""
    import duckdb

    if isinstance(handle, duckdb.DuckDBPyConnection):
        from churn.engines.duckdb_engine import DuckDBEngine

        return DuckDBEngine(handle)
    if hasattr(handle, "create") and hasattr(handle, "deduplicate"):
        return handle
    from churn.engines.spark_engine import SparkEngine

    return SparkEngine(handle)
