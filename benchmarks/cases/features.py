"""Bench case: ingest, then every feature family at one cutoff (the last date).

Arguments: the Parquet path, and the BG/NBD horizon in days (0 = family off).
"""

import sys
import time

from _measure import report

from churn.data.ingest import SourceSpec, ingest_transactions
from churn.engines import duckdb_engine
from churn.features.query import build_features

# Spill to the bench folder, and leave room for pandas beside DuckDB on large shops.
con = duckdb_engine.connect(memory_limit="14GB", temp_directory="data/bench/duckdb_tmp")
start = time.perf_counter()
result = ingest_transactions(con, SourceSpec(transactions=sys.argv[1]))
ingested = time.perf_counter()
_, last = duckdb_engine.date_range(con)
horizon = int(sys.argv[2]) if len(sys.argv) > 2 else 0
table = build_features(con, [last], btyd_horizon_days=horizon or None)
done = time.perf_counter()
report(
    done - ingested,
    customers=len(table),
    features=table.shape[1] - 2,
    rows=result.manifest["rows_read"],
    ingest_seconds=ingested - start,
)
