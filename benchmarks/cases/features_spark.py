"""Bench case: the feature query on Apache Spark (local mode, all cores), one cutoff.

Arguments: the Parquet path (canonical columns) and the BG/NBD horizon (0 = family off).
Timed from reading the Parquet file; Spark's start-up is not timed (reported apart).
"""

import sys
import time

from _measure import report

from churn.spark_engine import build_features_spark, local_session

start = time.perf_counter()
spark = local_session(
    "local[*]", {"spark.driver.memory": "12g", "spark.sql.shuffle.partitions": 16}
)
spark.sparkContext.setLogLevel("ERROR")
started = time.perf_counter()
spark.read.parquet(sys.argv[1]).createOrReplaceTempView("transactions")
last = spark.sql("SELECT CAST(MAX(ts) AS DATE) FROM transactions").collect()[0][0]
horizon = int(sys.argv[2]) if len(sys.argv) > 2 else 0
table = build_features_spark(spark, [last], btyd_horizon_days=horizon or None)
done = time.perf_counter()
rows = spark.table("transactions").count()
report(
    done - started,
    customers=len(table),
    features=table.shape[1] - 2,
    rows=rows,
    spark_startup_seconds=started - start,
)
