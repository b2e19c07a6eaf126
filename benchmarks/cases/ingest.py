"""Bench case: ingest one file; prints one JSON line of measurements."""

import json
import resource
import sys
import time

from churn import data
from churn.ingest import SourceSpec, ingest_transactions

# Spill to the bench folder, and leave room for pandas beside DuckDB on large shops.
con = data.connect(memory_limit="14GB", temp_directory="data/bench/duckdb_tmp")
start = time.perf_counter()
result = ingest_transactions(con, SourceSpec(transactions=sys.argv[1]))
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(
    json.dumps(
        {
            "seconds": seconds,
            "rows": result.manifest["rows_read"],
            "customers": result.manifest["customers"],
            "peak_rss_mb": peak,
        }
    )
)
