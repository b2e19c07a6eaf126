"""Bench case: PyMC-Marketing's rfm_summary, what users would otherwise reach for.

The Parquet file is read into pandas first (not timed): rfm_summary takes a frame.
"""

import json
import resource
import sys
import time

import pandas as pd
from pymc_marketing.clv.utils import rfm_summary

frame = pd.read_parquet(sys.argv[1], columns=["customer_id", "ts", "amount"])
last = frame["ts"].max().normalize()
start = time.perf_counter()
table = rfm_summary(
    frame, "customer_id", "ts", monetary_value_col="amount", observation_period_end=last
)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(
    json.dumps(
        {
            "seconds": seconds,
            "rows": None,
            "customers": len(table),
            "features": 4,
            "peak_rss_mb": peak,
        }
    )
)
