"""Bench case: ingest one file; prints one JSON line of measurements."""

import sys
import time

from _measure import report

from churn.data.ingest import SourceSpec, ingest_transactions
from churn.engines import duckdb_engine

# Spill to the bench folder on large shops.
con = duckdb_engine.connect(memory_limit="14GB", temp_directory="data/bench/duckdb_tmp")
start = time.perf_counter()
result = ingest_transactions(con, SourceSpec(transactions=sys.argv[1]))
seconds = time.perf_counter() - start
report(
    seconds,
    customers=result.manifest["customers"],
    rows=result.manifest["rows_read"],
)
