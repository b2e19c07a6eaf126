"""Bench case: PyMC-Marketing's rfm_summary, what users would otherwise reach for.

The Parquet file is read into pandas first (not timed): rfm_summary takes a frame.
"""

import sys
import time

import pandas as pd
from _measure import report
from pymc_marketing.clv.utils import rfm_summary

frame = pd.read_parquet(sys.argv[1], columns=["customer_id", "ts", "amount"])
last = frame["ts"].max().normalize()
start = time.perf_counter()
table = rfm_summary(
    frame, "customer_id", "ts", monetary_value_col="amount", observation_period_end=last
)
seconds = time.perf_counter() - start
report(seconds, customers=len(table), features=4)
