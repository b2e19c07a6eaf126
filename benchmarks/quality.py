"""Quality benchmark: train at the defaults on every shop at hand and compare the model
with each baseline, per test origin and on average, with the bootstrap intervals.

Run with ``make bench-quality`` (or ``python benchmarks/quality.py --help``). Each shop is
trained in a fresh process, exactly as ``python pipelines/train.py data=<shop>`` would,
into a temporary MLflow store; its wall time is measured around that process. Results go
to ``benchmarks/quality.md`` and ``benchmarks/quality.json``.

Shops: ``demo`` (our simulator, generated into data/demo/ when missing),
``complete_journey`` (simulated by its publisher) and ``online_retail`` (a real UK shop's
export, shipped in data/shops/online_retail/).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHOPS = {
    "demo": "our simulator (20,000 customers, 3 years)",
    "complete_journey": "The Complete Journey (simulated by its publisher)",
    "online_retail": "Online Retail (a real UK shop, 2010-12 to 2011-12)",
}
BASELINES = ("logistic", "bgnbd", "recency")
NAMES = {
    "model": "LightGBM (the model)",
    "logistic": "logistic RFM",
    "bgnbd": "BG/NBD",
    "recency": "recency",
}


def train_shop(shop: str, overrides: list[str], register: bool, folder: Path) -> dict[str, Any]:
    """Train on one shop at the defaults (plus ``overrides``); its metrics and wall time."""
    if shop == "demo":
        demo = ROOT / "data" / "demo" / "transactions.parquet"
        if not demo.exists():
            subprocess.run(
                [sys.executable, "-m", "churn.data.synth", "--out", str(demo)], check=True
            )
    run_dir = folder / shop
    command = [
        sys.executable,
        str(ROOT / "pipelines" / "train.py"),
        f"data={shop}",
        f"hydra.run.dir={run_dir}",
        f"tracking.uri=sqlite:///{folder / 'mlflow.db'}",
        f"tracking.artifact_root={folder / 'mlartifacts'}",
        *([] if register else ["train.register=false"]),
        *overrides,
    ]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-1:] or ["(no message)"]
        return {"shop": shop, "error": tail[0], "seconds": round(seconds, 1)}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {
        "shop": shop,
        "seconds": round(seconds, 1),
        "mean": metrics["mean"],
        "differences": metrics["differences"],
        "origins": [
            {
                "test_cutoff": o["test_cutoff"],
                "n_test": o["n_test"],
                "churn_rate": o["test_churn_rate"],
                "models": {
                    name: {k: o["models"][name].get(k) for k in ("roc_auc", "brier")}
                    for name in ("model", *BASELINES)
                },
            }
            for o in metrics["origins"]
        ],
        "gate": {"verdict": metrics["gate"]["verdict"], "alias": metrics.get("model_alias")},
    }


def verdict(result: dict[str, Any], margin: float = 0.01) -> str:
    """Whether the model reaches the issue's bar: mean ROC AUC at least the best
    baseline's + ``margin`` and mean Brier below every baseline's."""
    mean = result["mean"]
    best_auc = max(mean[b]["roc_auc"] for b in BASELINES)
    briers = [mean[b]["brier"] for b in BASELINES if mean[b]["brier"] is not None]
    auc_gap = mean["model"]["roc_auc"] - best_auc
    brier_gap = mean["model"]["brier"] - min(briers)
    ok = auc_gap >= margin and brier_gap < 0
    return (
        f"{'reached' if ok else 'not reached'}: ROC AUC {auc_gap:+.4f} against the best "
        f"baseline (bar +{margin}), Brier {brier_gap:+.4f} against the best (bar < 0)"
    )


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _interval(d: dict[str, float] | None) -> str:
    if not d:
        return "-"
    return f"{d['estimate']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]"


def markdown(results: list[dict[str, Any]], overrides: list[str], when: str) -> str:
    """The results as the Markdown page ``benchmarks/quality.md``."""
    lines = [
        "# Quality benchmark: the model against its baselines on every shop",
        "",
        f"Measured {when} on {platform.machine()}, Python {platform.python_version()}, "
        "by `make bench-quality`: `python pipelines/train.py data=<shop>` at the defaults"
        + (f" with `{' '.join(overrides)}`" if overrides else "")
        + ", each model trained only on what was known before its test origin. ROC AUC: "
        "higher is better; Brier: lower is better. Intervals: 95%, paired bootstrap over "
        "customers.",
        "",
        "| shop | training time | gate | bar (ROC AUC >= best baseline + 0.01, Brier below all) |",
        "|---|---:|---|---|",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['shop']} | {r['seconds']} s | error: {r['error']} | |")
            continue
        gate = f"{r['gate']['verdict']} (@{r['gate']['alias'] or '-'})"
        lines.append(f"| {r['shop']} | {r['seconds']} s | {gate} | {verdict(r)} |")
    for r in results:
        if "error" in r:
            continue
        lines += [
            "",
            f"## {r['shop']}: {SHOPS.get(r['shop'], '')}",
            "",
            "| test origin | customers | churn rate | "
            + " | ".join(f"{NAMES[n]} ROC AUC / Brier" for n in ("model", *BASELINES))
            + " |",
            "|---|---:|---:|" + "---|" * (1 + len(BASELINES)),
        ]
        for o in r["origins"]:
            cells = [
                f"{_cell(o['models'][n]['roc_auc'])} / {_cell(o['models'][n]['brier'])}"
                for n in ("model", *BASELINES)
            ]
            lines.append(
                f"| {o['test_cutoff']} | {o['n_test']:,} | {o['churn_rate']:.3f} | "
                + " | ".join(cells)
                + " |"
            )
        means = [
            f"**{_cell(r['mean'][n]['roc_auc'])} / {_cell(r['mean'][n]['brier'])}**"
            for n in ("model", *BASELINES)
        ]
        lines.append("| **mean** | | | " + " | ".join(means) + " |")
        lines += [
            "",
            "| model minus | ROC AUC (95% interval) | Brier (95% interval) |",
            "|---|---|---|",
        ]
        for b in BASELINES:
            d = r["differences"].get(b, {})
            lines.append(
                f"| {NAMES[b]} | {_interval(d.get('roc_auc'))} | {_interval(d.get('brier'))} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Train every shop asked for and write the results table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shops", default=",".join(SHOPS), help="comma-separated shops")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="a train override"
    )
    parser.add_argument(
        "--no-register", action="store_true", help="skip the refit and registry (faster)"
    )
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "quality"), help="file stem")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="churn-quality-") as tmp:
        for shop in args.shops.split(","):
            result = train_shop(shop, args.set, not args.no_register, Path(tmp))
            summary = result.get("error") or verdict(result)
            print(f"{shop}: {result['seconds']} s; {summary}", flush=True)
            results.append(result)
    when = dt.date.today().isoformat()
    out = Path(args.out)
    out.with_suffix(".md").write_text(markdown(results, args.set, when))
    payload = {"date": when, "overrides": args.set, "results": results}
    out.with_suffix(".json").write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {out.with_suffix('.md')}")
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
