"""The floor command: start Python, read the Parquet, one GROUP BY, write Parquet.

``python benchmarks/cases/floor_rfm.py SHOP.parquet OUT.parquet``. Nothing is validated
and no feature needs more than one aggregate per customer: what any command that reads the
shop and writes one row per customer must at least cost on this machine. The
``churn features`` command is measured against it in the same run
(``benchmarks/floor_commands.py``).
"""

import sys

import duckdb

source, target = (a.replace("'", "''") for a in sys.argv[1:3])
duckdb.connect().execute(
    f"""COPY (
      SELECT customer_id,
             DATE_DIFF('day', CAST(MAX(ts) AS DATE),
                       (SELECT CAST(MAX(ts) AS DATE) FROM read_parquet('{source}')))
               AS recency_days,
             COUNT(DISTINCT order_id) AS frequency,
             SUM(amount) AS monetary,
             MIN(ts) AS first_ts,
             MAX(ts) AS last_ts
      FROM read_parquet('{source}')
      GROUP BY customer_id
    ) TO '{target}' (FORMAT parquet)"""
)
