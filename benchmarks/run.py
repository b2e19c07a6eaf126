"""Benchmarks: wall time and peak memory of the pipeline's stages on generated shops.

Run with ``make bench`` (or ``python benchmarks/run.py --help``). Each case runs in a
fresh Python process so that its peak resident memory is its own. Results go to
``benchmarks/results.md`` and ``benchmarks/results.json``; generated shops are cached in
``data/bench/``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"1m": 50_000, "10m": 500_000}  # label -> customers (about 20 rows each)

INGEST_CASE = """
import json, resource, sys, time
from churn import data
from churn.ingest import SourceSpec, ingest_transactions
con = data.connect()
start = time.perf_counter()
result = ingest_transactions(con, SourceSpec(transactions=sys.argv[1]))
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "rows": result.manifest["rows_read"],
                  "customers": result.manifest["customers"],
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def ensure_shop(label: str, customers: int) -> tuple[Path, Path]:
    """Generate (once) the shop of this size as Parquet and CSV."""
    folder = ROOT / "data" / "bench"
    parquet, csv = folder / f"shop_{label}.parquet", folder / f"shop_{label}.csv"
    if not parquet.exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "churn.synth",
                "--customers",
                str(customers),
                "--seed",
                "1",
                "--out",
                str(parquet),
            ],
            check=True,
        )
    if not csv.exists():
        import duckdb

        duckdb.sql(f"COPY (SELECT * FROM read_parquet('{parquet}')) TO '{csv}' (HEADER)")
    return parquet, csv


def run_case(code: str, *args: str) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON line of measurements."""
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, capture_output=True, text=True
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - start
    return result


def main(argv: list[str] | None = None) -> None:
    """Measure every case and write the results table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1m,10m", help="comma list of: " + ",".join(SIZES))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.md")
    args = parser.parse_args(argv)

    rows = []
    for label in args.sizes.split(","):
        parquet, csv = ensure_shop(label, SIZES[label])
        for fmt, path in (("parquet", parquet), ("csv", csv)):
            print(f"ingest {label} {fmt} ...", flush=True)
            m = run_case(INGEST_CASE, str(path))
            rows.append(
                {
                    "stage": "ingest",
                    "input": f"{fmt} ({path.stat().st_size / 1e6:.0f} MB)",
                    "size": label,
                    **m,
                    "rows_per_second": m["rows"] / m["seconds"],
                }
            )
            print(f"  {m['seconds']:.1f} s, {m['peak_rss_mb']:.0f} MB peak", flush=True)

    meta = {
        "date": dt.date.today().isoformat(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }
    args.out.with_suffix(".json").write_text(json.dumps({"meta": meta, "results": rows}, indent=2))
    lines = [
        "# Benchmarks",
        "",
        f"Measured {meta['date']} on {meta['cpu_count']} CPUs ({meta['machine']}, Python "
        f"{meta['python']}) by `make bench`; each case in a fresh process. Wall seconds "
        "exclude interpreter start-up; peak memory is the process's maximum resident set.",
        "",
        "| stage | size | input | rows | customers | wall s | rows/s | peak MB |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['stage']} | {r['size']} | {r['input']} | {r['rows']:,} | {r['customers']:,} "
            f"| {r['seconds']:.1f} | {r['rows_per_second']:,.0f} | {r['peak_rss_mb']:,.0f} |"
        )
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
