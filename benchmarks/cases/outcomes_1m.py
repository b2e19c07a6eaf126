"""Bench case: the outcomes of a list of a million customers, against scoring them.

Arguments: the Parquet shop to train on (untimed), the Parquet shop to score, and how many
days before that shop's last date the list is made (at least the model's 90-day horizon,
so that the list has matured by the last date).

In one process, as the nightly job runs the stages: the default model is trained on the
small shop and registered as champion in a temporary MLflow store (untimed); then, timed,
``churn.stages.score.run`` makes the list at that date (the floor: what scoring the
customers took), and ``churn.stages.outcomes.run`` reads it back against the same
transactions, with ``outcomes.log_to_mlflow=false``; the logging of the list's realised
metrics to MLflow is timed apart. Each stage ingests the shop's Parquet file itself.
Between the two stages the freed memory is handed back to the system and the peak of
resident memory is reset, so that each stage's peak is its own (plus what the process
still held; ``rss_before_mb``). CPU seconds (every thread's) are reported next to wall
seconds: other work on the machine lengthens the latter more than the former.
"""

import contextlib
import ctypes
import datetime as dt
import gc
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb
from _measure import peak_rss_mb, report, reset_peak_rss, rss_mb
from hydra import compose, initialize_config_dir

from churn.stages import outcomes, score, train
from churn.tracking import store as tracking

CONF = str(Path(__file__).resolve().parents[2] / "conf")
small, large, days_before = sys.argv[1], sys.argv[2], int(sys.argv[3])


def config(name: str, overrides: list[str]):
    """A primary config of conf/, composed as the command line would."""
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name=name, overrides=overrides)


def release_memory() -> None:
    """Hand the memory freed by the previous stage back to the system (glibc keeps it
    otherwise), so that the next stage's peak is not the previous one's."""
    gc.collect()
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def cpu_seconds() -> float:
    """User and system CPU time of this process so far (its threads included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(stage, cfg) -> tuple[dict, float, dict]:
    """Run a stage; its result, wall seconds, and its CPU seconds and memory (peak during
    it, resident before)."""
    release_memory()
    before = rss_mb()
    reset = reset_peak_rss()
    cpu, start = cpu_seconds(), time.perf_counter()
    result = stage(cfg)
    seconds = time.perf_counter() - start
    return (
        result,
        seconds,
        {
            "cpu_seconds": cpu_seconds() - cpu,
            "peak_rss_mb": peak_rss_mb(),
            "rss_before_mb": before,
            "reset": reset,
        },
    )


with tempfile.TemporaryDirectory(prefix="bench-outcomes-") as tmp:
    root = Path(tmp)
    store = [
        f"tracking.uri=sqlite:///{root / 'mlflow.db'}",
        f"tracking.artifact_root={root / 'mlartifacts'}",
        f"paths.root={root / 'outputs'}",
    ]
    train_start = time.perf_counter()
    train.run(
        config(
            "train",
            [
                "data=canonical",
                f"data.transactions={small}",
                # The champion must exist whatever the baselines do; one test origin and
                # fewer bootstrap resamples: the model registered is the default one.
                "gate.beat_baselines=false",
                "split.n_test_origins=1",
                "train.bootstrap_resamples=100",
                f"output_dir={root / 'train'}",
                *store,
            ],
        )
    )
    train_seconds = time.perf_counter() - train_start

    ((last,),) = duckdb.sql(f"SELECT CAST(MAX(ts) AS DATE) FROM read_parquet('{large}')").fetchall()
    as_of = last - dt.timedelta(days=days_before)
    scores_dir = root / "scores"
    manifest, score_seconds, score_memory = timed(
        score.run,
        config(
            "score",
            [
                "data=canonical",
                f"data.transactions={large}",
                f"as_of={as_of.isoformat()}",
                f"score.output_dir={scores_dir}",
                # The model's drift reference is the small shop at its last date, after
                # the list's: ages drift backwards, which the gate would stop.
                "score.drift.fail_psi=null",
                *store,
            ],
        ),
    )

    out = root / "outcomes"
    outcomes_cfg = config(
        "outcomes",
        [
            "data=canonical",
            f"data.transactions={large}",
            f"score.output_dir={scores_dir}",
            f"outcomes.output_dir={out}",
            "outcomes.log_to_mlflow=false",
            *store,
        ],
    )
    result, outcomes_seconds, outcomes_memory = timed(outcomes.run, outcomes_cfg)
    (run,) = result["runs"]
    assert run["status"] == "matured", run["status"]
    written = json.loads((out / "en" / "outcomes.json").read_text())

    logged = [
        {
            "as_of": run["as_of"],
            "model_version": str(run["model_version"]),
            "run_id": manifest["model"]["run_id"],
            "metrics": outcomes._mlflow_metrics(run),
        }
    ]
    start = time.perf_counter()
    tracking.log_outcomes(str(outcomes_cfg.tracking.uri), "churn", logged)
    mlflow_seconds = time.perf_counter() - start

report(
    outcomes_seconds,
    customers=run["customers"],
    rows=manifest["rows_read"],
    as_of=run["as_of"],
    data_last_date=result["data_last_date"],
    score_seconds=score_seconds,
    outcomes_seconds=outcomes_seconds,
    ratio=outcomes_seconds / score_seconds,
    score_steps_s=manifest["timings_s"],
    outcomes_steps_s=written["timings_s"],
    score_memory=score_memory,
    outcomes_memory=outcomes_memory,
    mlflow_log_seconds=mlflow_seconds,
    train_seconds=train_seconds,
    model_version=run["model_version"],
    groups={k: run[k] for k in ("contact", "control", "not_selected")},
    realised_roc_auc=run["performance"]["not_contacted"]["roc_auc"],
)
