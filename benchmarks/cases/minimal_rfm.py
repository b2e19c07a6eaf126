"""Bench case: the near-limit floor, recency/frequency/monetary straight off the Parquet."""

import sys
import time

import duckdb
from _measure import report

path = sys.argv[1].replace("'", "''")
con = duckdb.connect()
start = time.perf_counter()
last = con.execute(f"SELECT CAST(MAX(ts) AS DATE) FROM read_parquet('{path}')").fetchall()[0][0]
table = con.execute(
    f"""SELECT customer_id,
           date_diff('day', CAST(MAX(ts) AS DATE), DATE '{last}') AS recency_days,
           COUNT(DISTINCT order_id) AS frequency, SUM(amount) AS monetary
    FROM read_parquet('{path}')
    WHERE ts < CAST(DATE '{last}' AS TIMESTAMP) + INTERVAL 1 DAY
    GROUP BY customer_id"""
).df()
seconds = time.perf_counter() - start
report(seconds, customers=len(table), features=3)
