"""Benchmarks: wall time and peak memory of the pipeline's stages on generated shops.

Run with ``make bench`` (or ``python benchmarks/run.py --help``). Each case runs in a
fresh Python process so that its peak resident memory is its own. Results go to
``benchmarks/results.md`` and ``benchmarks/results.json``; generated shops are cached in
``data/bench/``. ``--only outcomes`` (or ``commands``) runs that case alone and replaces
just its section of those files.
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

import floor_commands

ROOT = Path(__file__).resolve().parents[1]
# label -> customers (~20 rows each)
SIZES = {
    "1m": 50_000,
    "10m": 500_000,
    "30m": 1_500_000,
    "100m": 5_000_000,
    "10m-1m": 1_000_000,
    "100m-10m": 10_000_000,
}
# Shops shorter than the simulator's three years: 10m-1m is 10M lines of 1M customers over
# nine months, the "year of history or less" of a real export.
DAYS = {"10m-1m": 270}
# The 30m and 100m shops are the 10m shop 3 and 10 times over, ids suffixed; 100m-10m is
# the 10m-1m shop 10 times over.
REPLICATED = {"30m": ("10m", 3), "100m": ("10m", 10), "100m-10m": ("10m-1m", 10)}
# The shops of the commands section (floor_commands.py): the 10M-line shop, and the same
# 10 times over.
COMMAND_SHOPS = ("10m-1m", "100m-10m")
# Explanations: (max_depth, learning_rate, num_leaves) candidates for the default model,
# measured on the 1m shop; the first is the earlier, unlimited default.
DEPTHS = ((-1, 0.05, 31), (6, 0.05, 31), (4, 0.05, 16), (4, 0.1, 16), (3, 0.1, 8))

CASES = Path(__file__).resolve().parent / "cases"
# (row label, case script, extra arguments), run on each shop's Parquet file.
STAGE_CASES = (
    ("features, BTYD off, 1 cutoff (after ingest)", "features", ["0"]),
    ("features, BTYD on (90 d), 1 cutoff (after ingest)", "features", ["90"]),
    ("reference: minimal DuckDB RFM query", "minimal_rfm", []),
    ("reference: PyMC-Marketing rfm_summary (in-memory frame)", "pymc_rfm_summary", []),
    ("BG/NBD fit, all customers: churn.features.btyd (MLE, SciPy)", "bgnbd_fit", ["ours"]),
    ("BG/NBD fit, all customers: PyMC-Marketing BetaGeoModel (MAP)", "bgnbd_fit", ["pymc"]),
)
# In-memory pandas references too large for the 100m shop.
REFERENCE_ONLY_UP_TO_10M = ("pymc_rfm_summary", "bgnbd_fit")


def ensure_shop(label: str, customers: int, with_csv: bool = True) -> tuple[Path, Path | None]:
    """Generate (once) the shop of this size as Parquet and, unless told not to, CSV."""
    folder = ROOT / "data" / "bench"
    parquet, csv = folder / f"shop_{label}.parquet", folder / f"shop_{label}.csv"
    if not parquet.exists() and label in REPLICATED:
        import duckdb

        base, copies = REPLICATED[label]
        source, _ = ensure_shop(base, SIZES[base], with_csv=False)
        duckdb.sql(
            f"""COPY (
              SELECT customer_id || '-' || k AS customer_id, order_id || '-' || k AS order_id,
                     * EXCLUDE (customer_id, order_id)
              FROM read_parquet('{source}'), range({copies}) AS r(k)
            ) TO '{parquet}' (FORMAT parquet)"""
        )
    if not parquet.exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "churn.data.synth",
                "--customers",
                str(customers),
                "--seed",
                "1",
                *(["--days", str(DAYS[label])] if label in DAYS else []),
                "--out",
                str(parquet),
            ],
            check=True,
        )
    if not with_csv:
        return parquet, None
    if not csv.exists():
        import duckdb

        duckdb.sql(f"COPY (SELECT * FROM read_parquet('{parquet}')) TO '{csv}' (HEADER)")
    return parquet, csv


def run_case(case: str, *args: str) -> dict:
    """Run ``cases/<case>.py`` in a fresh interpreter; it prints one JSON line."""
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, str(CASES / f"{case}.py"), *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - start
    return result


def explanation_cases() -> list[dict]:
    """The depth-limit measurement and the 1M-customer scoring case."""
    small, _ = ensure_shop("1m", SIZES["1m"], with_csv=False)
    rows = []
    for depth, rate, leaves in DEPTHS:
        print(f"explanations, max_depth {depth}, learning rate {rate}, {leaves} leaves", flush=True)
        m = run_case("explain_depth", str(small), str(depth), str(rate), str(leaves))
        rows.append({"case": "depth", **m})
        print(f"  ROC AUC {rows[-1]['test_roc_auc']:.4f}, {rows[-1]['seconds']:.1f} s", flush=True)
    large, _ = ensure_shop("30m", SIZES["30m"], with_csv=False)
    depth = _default_depth()
    print(f"scoring 1M customers (max_depth {depth}) ...", flush=True)
    rows.append({"case": "score_1m", **run_case("score_1m", str(small), str(large), str(depth))})
    print(f"  {rows[-1]['seconds']:.1f} s: {rows[-1]['steps_s']}", flush=True)
    return rows


# The outcomes case's own section of results.md, which `--only outcomes` replaces alone.
OUTCOMES_HEADING = "## Outcomes against scoring"
# Days between the list's date and the shop's last date: the model's horizon, so that the
# list has just matured.
LIST_DAYS_BEFORE_LAST = 90


def outcomes_case() -> dict:
    """The outcomes stage on the list of the 30m shop's ~1M customers, against the score
    stage that made it, in one process (model trained on the 1m shop, untimed)."""
    small, _ = ensure_shop("1m", SIZES["1m"], with_csv=False)
    large, _ = ensure_shop("30m", SIZES["30m"], with_csv=False)
    print("outcomes of a list of 1M customers, against scoring them ...", flush=True)
    load = os.getloadavg()
    row = run_case("outcomes_1m", str(small), str(large), str(LIST_DAYS_BEFORE_LAST))
    row.update(meta=machine(), load_average_before=[round(x, 2) for x in load])
    row["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(
        f"  score {row['score_seconds']:.1f} s, outcomes {row['outcomes_seconds']:.1f} s "
        f"(ratio {row['ratio']:.2f}): {row['outcomes_steps_s']}",
        flush=True,
    )
    return row


def outcomes_section(r: dict) -> list[str]:
    """Markdown for the outcomes case: its heading, its table and what it measured."""
    meta = r["meta"]

    def steps(timings: dict) -> str:
        return ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())

    def mb(memory: dict) -> str:
        return f"{memory['peak_rss_mb']:,.0f}"

    def cpu(memory: dict) -> str:
        return f"{memory['cpu_seconds']:.1f}" if "cpu_seconds" in memory else ""

    return [
        OUTCOMES_HEADING,
        "",
        f"Measured {meta['date']} on {meta['cpu_count']} CPUs ({meta['machine']}, Python "
        f"{meta['python']}) by `make bench` (this section alone: `make bench "
        'ARGS="--only outcomes"`). One process runs the two stages as the nightly job '
        "does, each reading the 30m shop's Parquet file itself: the score stage makes the "
        f"list of {r['as_of']} ({LIST_DAYS_BEFORE_LAST} days before the shop's last date, "
        f"{r['data_last_date']}, so that its horizon has passed), then the outcomes stage "
        "reads it against the same transactions. The model is the default one, trained on "
        "the 1m shop and registered in a temporary MLflow store (untimed, "
        f"{r['train_seconds']:.0f} s).",
        "",
        "| stage | customers | rows read | wall s | CPU s | peak MB | steps (wall s) |",
        "|---|---:|---:|---:|---:|---:|---|",
        f"| score: `churn.stages.score.run` (the floor) | {r['customers']:,} | {r['rows']:,} "
        f"| {r['score_seconds']:.1f} | {cpu(r['score_memory'])} | {mb(r['score_memory'])} "
        f"| {steps(r['score_steps_s'])} |",
        f"| outcomes: `churn.stages.outcomes.run`, `outcomes.log_to_mlflow=false` "
        f"| {r['customers']:,} | {r['rows']:,} | {r['outcomes_seconds']:.1f} "
        f"| {cpu(r['outcomes_memory'])} | {mb(r['outcomes_memory'])} "
        f"| {steps(r['outcomes_steps_s'])} |",
        f"| outcomes: logging the list's realised metrics to MLflow, apart | | "
        f"| {r['mlflow_log_seconds']:.1f} | | | |",
        "",
        f"**Outcomes / score = {r['ratio']:.2f}** in wall time"
        + (
            f", {r['outcomes_memory']['cpu_seconds'] / r['score_memory']['cpu_seconds']:.2f} "
            "in CPU time"
            if "cpu_seconds" in r["score_memory"]
            else ""
        )
        + ". Both stages ingest the same file with the same checks; beyond that, scoring "
        "builds the features, predicts and explains the list, and the outcomes run one "
        "query of each customer's orders after the list's date and the figures of the page. "
        f"The list: {r['groups']['contact']:,} customers contacted, "
        f"{r['groups']['control']:,} held out as control, "
        f"{r['groups']['not_selected']:,} not selected; realised ROC AUC on the customers "
        f"not contacted {r['realised_roc_auc']:.3f}. Peak memory is each stage's own: "
        "between them the freed memory is handed back to the system and the process's peak "
        "is reset (Linux `VmHWM`), so a stage's peak also counts what the process still held "
        f"when it began ({r['score_memory']['rss_before_mb']:,.0f} MB before scoring, "
        f"{r['outcomes_memory']['rss_before_mb']:,.0f} MB before the outcomes). Load "
        f"average {r['load_average_before'][0]:.1f} before the case and "
        f"{r['load_average_after'][0]:.1f} after, on {meta['cpu_count']} CPUs (the case's "
        "own threads count in it): the machine may run other work, and where the load "
        "passes the CPU count wall times grow, each stage meeting its own share of it; the "
        "CPU seconds and the ratio are the steadier figures.",
    ]


def replace_section(text: str, heading: str, lines: list[str]) -> str:
    """``text`` (markdown) with the section under ``heading``, down to the next heading of
    its level, replaced by ``lines``; appended when there is none."""
    old = text.rstrip("\n").split("\n")
    level = heading.split(" ", 1)[0] + " "
    if heading in old:
        start = old.index(heading)
        end = next((i for i in range(start + 1, len(old)) if old[i].startswith(level)), len(old))
        tail = old[end:]
        new = old[:start] + lines + ([""] + tail if tail else [])
    else:
        new = [*old, "", *lines]
    return "\n".join(new) + "\n"


def update_results(out: Path, key: str, value: dict, heading: str, lines: list[str]) -> None:
    """Replace one case's entry ``key`` in the JSON beside ``out`` and its section
    ``heading`` of ``out``, leaving the other cases' numbers as they were."""
    json_path = out.with_suffix(".json")
    data = json.loads(json_path.read_text()) if json_path.exists() else {}
    data[key] = value
    json_path.write_text(json.dumps(data, indent=2))
    text = out.read_text() if out.exists() else "# Benchmarks\n"
    out.write_text(replace_section(text, heading, lines))
    print(f"wrote the {key} section of {out}")


def write_outcomes_only(out: Path) -> None:
    """Run the outcomes case alone; replace its section of ``out`` and its entry in the
    JSON beside it, leaving the other cases' numbers as they were."""
    row = outcomes_case()
    update_results(out, "outcomes", row, OUTCOMES_HEADING, outcomes_section(row))


def shop_facts(label: str, parquet: Path) -> dict:
    """Lines, customers and dates of a generated shop, and how it was made."""
    import duckdb

    lines, customers, first, last = duckdb.sql(
        "SELECT COUNT(*), COUNT(DISTINCT customer_id), CAST(MIN(ts) AS DATE), "
        f"CAST(MAX(ts) AS DATE) FROM read_parquet('{parquet}')"
    ).fetchall()[0]
    if label in REPLICATED:
        base, copies = REPLICATED[label]
        made = f"the {base} shop {copies} times over, ids suffixed"
    else:
        days = f" --days {DAYS[label]}" if label in DAYS else ""
        made = f"`churn demo-data --customers {SIZES[label]} --seed 1{days}`"
    return {"lines": lines, "customers": customers, "first": first, "last": last, "made": made}


def write_commands(out: Path, labels: list[str], rounds: int, train: bool) -> None:
    """Run the commands section (floor_commands.py) on ``labels``; replace its section of
    ``out`` and its entry in the JSON beside it."""
    shops = {label: ensure_shop(label, SIZES[label], with_csv=False)[0] for label in labels}
    results = floor_commands.run_commands(shops, rounds=rounds, train=train)
    facts = {label: shop_facts(label, path) for label, path in shops.items()}
    results["meta"] = machine()
    results["facts"] = {
        k: {**v, "first": str(v["first"]), "last": str(v["last"])} for k, v in facts.items()
    }
    lines = floor_commands.section(results, results["meta"], facts)
    update_results(out, "commands", results, floor_commands.HEADING, lines)


def _default_depth() -> int:
    import yaml

    config = yaml.safe_load((ROOT / "conf" / "model" / "lightgbm.yaml").read_text())
    return int(config["params"].get("max_depth", -1))


def explanation_table(rows: list[dict]) -> list[str]:
    """Markdown for the explanation cases."""
    lines = [
        "",
        "## Explanations",
        "",
        "Exact TreeSHAP (LightGBM `pred_contrib`) for 200,000 rows, with the default model "
        "trained on the 1m shop (test snapshot of 31,477 customers) at each `max_depth`:",
        "",
        "| max_depth | learning rate | num_leaves | trees | mean leaves | test ROC AUC "
        "| SHAP s for 200k rows | rows/s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in (r for r in rows if r["case"] == "depth"):
        lines.append(
            f"| {r['max_depth']} | {r['learning_rate']} | {r['num_leaves']} | {r['trees']} "
            f"| {r['mean_leaves']:.1f} | "
            f"{r['test_roc_auc']:.4f} | {r['seconds']:.1f} | {r['customers'] / r['seconds']:,.0f} |"
        )
    for r in (r for r in rows if r["case"] == "score_1m"):
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in r["steps_s"].items())
        lines += [
            "",
            f"Scoring {r['customers']:,} customers ({r['rows']:,} rows, the 30m shop) end to "
            f"end with the default model (max_depth {r['max_depth']}, {r['trees']} trees): "
            f"**{r['seconds']:.1f} s** ({steps}), {r['explained']:,} customers explained, "
            f'peak {r["peak_rss_mb"]:,.0f} MB. Example reason: "{r["example_reason"]}".',
        ]
    return lines


def machine() -> dict:
    """Where and when the measurements were taken."""
    return {
        "date": dt.date.today().isoformat(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }


def engine_comparison(sizes: list[str], out: Path) -> None:
    """DuckDB against Spark local on the same shops: validated ingest, then the feature
    query (BTYD off, one cutoff), each engine in a fresh process; writes ``out``."""
    rows = []
    for label in sizes:
        parquet, _ = ensure_shop(label, SIZES[label], with_csv=False)
        for engine, case in (("DuckDB", "features"), ("Spark local[*]", "spark_stages")):
            print(f"{engine}: ingest and features, {label} ...", flush=True)
            m = run_case(case, str(parquet), "0")
            rows.append({"engine": engine, "size": label, **m})
            print(f"  ingest {m['ingest_seconds']:.1f} s, features {m['seconds']:.1f} s")
    meta = machine()
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "results": rows}, indent=2))
    lines = [
        "# Benchmarks: DuckDB against Spark local",
        "",
        f"Measured {meta['date']} on {meta['cpu_count']} CPUs ({meta['machine']}, Python "
        f'{meta["python"]}) by `make bench ARGS="--spark"`; each engine in a fresh process, '
        "reading the shop's Parquet file with the validation of the ingest stage, then "
        "computing every feature family but BG/NBD at the last date.",
        "",
        "| engine | size | rows | customers out | features | start-up s | ingest s | features s "
        "| total s | driver peak MB | JVM peak MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def mb(value: float | None) -> str:
        return "" if value is None else f"{value:,.0f}"

    for r in rows:
        startup = r.get("spark_startup_seconds")
        total = r["ingest_seconds"] + r["seconds"] + (startup or 0)
        lines.append(
            f"| {r['engine']} | {r['size']} | {r['rows']:,} | {r['customers']:,} "
            f"| {r['features']} | {'' if startup is None else f'{startup:.1f}'} "
            f"| {r['ingest_seconds']:.1f} | {r['seconds']:.1f} | {total:.1f} "
            f"| {mb(r['peak_rss_mb'])} | {mb(r.get('jvm_peak_rss_mb'))} |"
        )
    lines += [
        "",
        "Driver peak is the Python process's maximum resident set (for DuckDB, the whole "
        "engine). Spark's JVM is a separate process; its peak is its VmHWM, read at the end "
        "of the case. Spark's Python workers (which run the row rules, and the model when "
        "scoring) come and go and are not counted. Spark ran with "
        "`spark.driver.memory=12g` and 16 shuffle partitions.",
    ]
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


def main(argv: list[str] | None = None) -> None:
    """Measure every case and write the results table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="1m,10m",
        help="comma list of: " + ",".join(SIZES) + " (100m needs ~25 GB of disk and ~15 min)",
    )
    parser.add_argument(
        "--no-csv", action="store_true", help="skip the CSV ingest cases (and CSV files)"
    )
    parser.add_argument(
        "--spark",
        action="store_true",
        help="instead, compare the engines: validated ingest and features on Spark local "
        "against DuckDB, into results_spark.md (needs the spark extra and Java 17+; "
        "default size 10m)",
    )
    parser.add_argument(
        "--no-explain",
        action="store_true",
        help="skip the explanation cases (depth limit on the 1m shop, 1M customers scored)",
    )
    parser.add_argument(
        "--no-outcomes",
        action="store_true",
        help="skip the outcomes case (outcomes of a list of 1M customers against scoring them)",
    )
    parser.add_argument(
        "--only",
        choices=["outcomes", "commands"],
        help="run this case alone and replace only its section of the results (commands: "
        "the features, train and score commands against the floor; outcomes: "
        "the score stage then the outcomes stage on the 30m shop's ~1M customers, in one "
        "process; ~4 min on a quiet 2-CPU machine, the untimed training included)",
    )
    parser.add_argument(
        "--command-shops",
        default=",".join(COMMAND_SHOPS),
        help="shops of the commands section (the features command against the floor, "
        "score and train): the first runs --rounds rounds, the others one; default "
        f"{','.join(COMMAND_SHOPS)} (the 100M shop needs ~30 GB of disk)",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of floor and features on the first shop"
    )
    parser.add_argument(
        "--no-train", action="store_true", help="commands section: skip train and score"
    )
    parser.add_argument("--no-commands", action="store_true", help="skip the commands section")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.md")
    args = parser.parse_args(argv)
    if args.only == "outcomes":
        write_outcomes_only(args.out)
        return
    command_shops = args.command_shops.split(",")
    if args.only == "commands":
        write_commands(args.out, command_shops, args.rounds, not args.no_train)
        return
    if args.spark:
        sizes = "10m" if args.sizes == parser.get_default("sizes") else args.sizes
        out = args.out.with_name("results_spark.md") if args.out.name == "results.md" else args.out
        engine_comparison(sizes.split(","), out)
        return

    rows = []
    for label in args.sizes.split(","):
        parquet, csv = ensure_shop(label, SIZES[label], with_csv=not args.no_csv)
        inputs = [("parquet", parquet)] + ([] if args.no_csv or csv is None else [("csv", csv)])
        for fmt, path in inputs:
            print(f"ingest {label} {fmt} ...", flush=True)
            m = run_case("ingest", str(path))
            size_mb = path.stat().st_size / 1e6
            rows.append({"stage": "ingest", "input": f"{fmt} ({size_mb:.0f} MB)", **m})
            rows[-1]["size"] = label
            print(f"  {m['seconds']:.1f} s, {m['peak_rss_mb']:.0f} MB peak", flush=True)
        n_rows = rows[-1]["rows"]
        for stage, case, extra in STAGE_CASES:
            if label in REPLICATED and case in REFERENCE_ONLY_UP_TO_10M:
                continue
            print(f"{stage} {label} ...", flush=True)
            m = {**run_case(case, str(parquet), *extra), "rows": n_rows}
            rows.append({"stage": stage, "input": "parquet", "size": label, **m})
            print(f"  {m['seconds']:.1f} s, {m['peak_rss_mb']:.0f} MB peak", flush=True)

    explain_rows = [] if args.no_explain else explanation_cases()
    outcomes_row = None if args.no_outcomes else outcomes_case()

    meta = machine()
    results = {"meta": meta, "results": rows, "explanations": explain_rows}
    if outcomes_row is not None:
        results["outcomes"] = outcomes_row
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2))
    lines = [
        "# Benchmarks",
        "",
        f"Measured {meta['date']} on {meta['cpu_count']} CPUs ({meta['machine']}, Python "
        f"{meta['python']}) by `make bench`; each case in a fresh process. Wall seconds "
        "exclude interpreter start-up; peak memory is the process's maximum resident set.",
        "",
        "| stage | size | input | rows | customers out | features | wall s | rows/s | peak MB |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        features = "" if r.get("features") is None else r["features"]
        lines.append(
            f"| {r['stage']} | {r['size']} | {r['input']} | {r['rows']:,} | {r['customers']:,} "
            f"| {features} | {r['seconds']:.1f} | {r['rows'] / r['seconds']:,.0f} "
            f"| {r['peak_rss_mb']:,.0f} |"
        )
    lines += [
        "",
        "Features are timed on the ingested table, after ingest in the same process (its "
        "time is `ingest_seconds` in results.json); the population is the customers with an "
        "order in the last 365 days. The minimal RFM query reads the Parquet file directly: "
        "the near-limit floor. Peak memory of the features case includes ingest. "
        "PyMC-Marketing's rfm_summary is timed on a pandas frame already in memory "
        "(reading the file is not counted). The BG/NBD rows time one fit on every customer's "
        "summary at the last date (the summary is not timed; PyMC's model compilation is); "
        "the fitted parameters are in results.json. The feature stage fits on a sample of "
        "100,000 customers when there are more.",
    ]
    if explain_rows:
        lines += explanation_table(explain_rows)
    if outcomes_row is not None:
        lines += ["", *outcomes_section(outcomes_row)]
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    if not args.no_commands:
        write_commands(args.out, command_shops, args.rounds, not args.no_train)


if __name__ == "__main__":
    main()
