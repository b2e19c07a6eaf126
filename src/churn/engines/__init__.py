"""The engines that run the SQL: DuckDB (one machine) and Apache Spark (a cluster).

:mod:`.base` is the interface (:class:`~churn.engines.base.Engine`); :mod:`.duckdb_engine`
and :mod:`.spark_engine` implement it. May import :mod:`churn.errors`, the description of
a source (:mod:`churn.data.contract`, :mod:`churn.data.sources`) and the feature query
(:mod:`churn.features`); the ingest algorithm and the stages reach an engine through its
interface only.
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
