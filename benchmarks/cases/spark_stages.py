"""Bench case: validated ingest and the feature query on Apache Spark (local mode, all
cores), one cutoff, as ``engine=spark`` runs them.

Arguments: the Parquet path (canonical columns) and the BG/NBD horizon (0 = family off).
Spark's start-up is timed apart. Memory: the Python driver's peak resident set (as every
case), and the JVM's peak (``VmHWM`` of the driver's child processes, read before the
session stops; the Python workers come and go and are reported only if still alive).
"""

import sys
import time
from pathlib import Path

from _measure import report

from churn.data.ingest import SourceSpec, ingest_transactions
from churn.engines.spark_engine import SparkEngine, build_features_spark, date_range, get_session


def peak_mb_of_descendants() -> dict[str, float]:
    """Peak resident MB (VmHWM) of this process's descendants, summed by program name."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            pid = int(stat.parent.name)
            children.setdefault(int(fields[1]), []).append(pid)
            names[pid] = (stat.parent / "comm").read_text().strip()
        except (OSError, IndexError, ValueError):
            continue
    peaks: dict[str, float] = {}
    todo = list(children.get(int(Path("/proc/self").resolve().name), []))
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            status = (Path("/proc") / str(pid) / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                kind = "jvm" if names[pid] == "java" else "python_workers"
                peaks[kind] = peaks.get(kind, 0.0) + int(line.split()[1]) / 1024
    return peaks


start = time.perf_counter()
spark = get_session("local[*]", {"spark.driver.memory": "12g", "spark.sql.shuffle.partitions": 16})
started = time.perf_counter()
result = ingest_transactions(SparkEngine(spark), SourceSpec(transactions=sys.argv[1]), 0.01)
_, last = date_range(spark)
ingested = time.perf_counter()
horizon = int(sys.argv[2]) if len(sys.argv) > 2 else 0
table = build_features_spark(spark, [last], btyd_horizon_days=horizon or None)
done = time.perf_counter()
memory = peak_mb_of_descendants()
report(
    done - ingested,
    customers=len(table),
    features=table.shape[1] - 2,
    rows=result.manifest["rows_read"],
    ingest_seconds=ingested - started,
    spark_startup_seconds=started - start,
    jvm_peak_rss_mb=memory.get("jvm"),
    python_workers_peak_rss_mb=memory.get("python_workers"),
)
