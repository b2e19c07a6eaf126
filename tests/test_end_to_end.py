"""End to end on a small generated shop: train, register, score, and the exit codes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from churn.errors import ConfigError, NoModelError
from churn.modeling.sampling import sampled_ids
from churn.stages import score, train
from tests.cli import run_churn
from tests.conftest import compose_config

CSV_COLUMNS = [
    "customer_id",
    "churn_probability",
    "risk_tier",
    "segment",
    "reason_1",
    "reason_2",
    "reason_3",
]


def train_config(shop: Path, out: Path, tracking: list[str]):
    return compose_config(
        "train",
        [
            f"data.transactions={shop}",
            "experiment=quick",
            "gate.beat_baselines=false",
            f"output_dir={out}",
            *tracking,
        ],
    )


def score_config(shop: Path, out: Path, tracking: list[str], *extra: str):
    return compose_config(
        "score", [f"data.transactions={shop}", f"score.output_dir={out}", *tracking, *extra]
    )


def test_train_registers_a_champion_and_score_writes_the_at_risk_list(
    small_shop_path, tracking_overrides, tmp_path
):
    metrics = train.run(train_config(small_shop_path, tmp_path / "train", tracking_overrides))

    written = json.loads((tmp_path / "train" / "metrics.json").read_text())
    assert written["test_roc_auc"] == pytest.approx(metrics["test_roc_auc"])
    assert 0.5 < written["test_roc_auc"] <= 1.0
    assert {
        "test_roc_auc",
        "test_pr_auc",
        "test_brier",
        "test_log_loss",
        "test_ece",
        "test_lift_at_10pct",
        "baseline_recency_roc_auc",
        "baseline_logistic_roc_auc",
        "baseline_bgnbd_roc_auc",
        "baseline_logistic_brier",
        "baseline_bgnbd_brier",
    } <= set(written)
    assert written["gate"]["verdict"] == "passed"
    assert (written["model_version"], written["model_alias"]) == ("1", "champion")
    report = (tmp_path / "train" / "evaluation_report.html").read_text()
    # ROC, PR, gains, reliability, differences; SHAP summary, importance, 5 dependence.
    assert report.count("data:image/png;base64,") == 12
    predictions = pd.read_csv(tmp_path / "train" / "test_predictions.csv")
    assert list(predictions.columns) == ["customer_id", "as_of", "y_true", "p_churn"]
    assert predictions["as_of"].max() == written["test_cutoff"]
    newest = predictions[predictions["as_of"] == written["test_cutoff"]]
    assert len(newest) == written["n_test"]

    manifest = score.run(score_config(small_shop_path, tmp_path / "scores", tracking_overrides))
    folder = tmp_path / "scores" / "en" / manifest["as_of"]
    at_risk = pd.read_csv(folder / "at_risk_customers.csv", keep_default_na=False)
    assert at_risk.columns[0] == "customer_id"
    assert set(CSV_COLUMNS) <= set(at_risk.columns)
    assert len(at_risk) == manifest["rows_at_risk"] > 0
    assert at_risk["expected_value_at_risk"].is_monotonic_decreasing
    # The default list is the 10% of scored customers with most value at risk, less the
    # 10% of them held out as the control group.
    chosen = math.ceil(0.1 * manifest["rows_scored"])
    assert len(at_risk) + manifest["control"]["control"] == chosen
    assert (
        0 < manifest["control"]["control"] <= 0.1 * chosen + len(manifest["control"]["by_stratum"])
    )
    assert set(at_risk["risk_tier"]) <= {"high", "medium", "low"}
    assert set(at_risk["segment"]) <= {"new", "regular", "dormant", "VIP"}
    assert (at_risk["reason_1"] != "").all()
    assert (at_risk["model_version"] == 1).all()
    scores = pd.read_parquet(folder / "scores.parquet")
    assert len(scores) == manifest["rows_scored"] >= len(at_risk)


def test_train_evaluates_every_origin_and_averages_them(
    small_shop_path, tracking_overrides, tmp_path
):
    out = tmp_path / "train"
    cfg = train_config(small_shop_path, out, [*tracking_overrides, "train.register=false"])
    metrics = train.run(cfg)
    written = json.loads((out / "metrics.json").read_text())
    # Two years of data, 90-day horizon: the last three origins, a month apart.
    origins = written["origins"]
    assert [o["test_cutoff"] for o in origins] == ["2024-08-02", "2024-09-01", "2024-10-01"]
    assert written["n_origins"] == 3 and written["test_cutoff"] == "2024-10-01"
    names = {"model", "recency", "logistic", "bgnbd"}
    assert set(written["mean"]) == names
    for name in names:
        for metric in ("roc_auc", "brier"):
            values = [o["models"][name].get(metric) for o in origins]
            if name == "recency" and metric == "brier":
                assert written["mean"][name][metric] is None
                continue
            assert written["mean"][name][metric] == pytest.approx(sum(values) / 3)
    # The newest origin is what the flat keys report.
    assert origins[-1]["models"]["model"]["roc_auc"] == pytest.approx(written["test_roc_auc"])
    for origin in origins:
        schedule = origin["schedule"]
        ends = [
            pd.Timestamp(c) + pd.Timedelta(days=90)
            for c in [*schedule["train_cutoffs"].split(","), schedule["validation_cutoff"]]
        ]
        assert max(ends) <= pd.Timestamp(origin["test_cutoff"])
        for name in ("recency", "logistic", "bgnbd"):
            auc = origin["differences"][name]["roc_auc"]
            assert auc["low"] <= auc["estimate"] <= auc["high"]
    assert set(written["differences"]["recency"]) == {"roc_auc"}
    assert set(written["differences"]["bgnbd"]) == {"roc_auc", "brier"}
    predictions = pd.read_csv(out / "test_predictions.csv")
    assert sorted(predictions["as_of"].unique()) == [o["test_cutoff"] for o in origins]
    assert len(predictions) == sum(o["n_test"] for o in origins)
    schedule = json.loads((out / "schedule.json").read_text())
    assert [s["test_cutoff"] for s in schedule["origins"]] == [o["test_cutoff"] for o in origins]
    report = (out / "evaluation_report.html").read_text()
    assert "Test origins" in report and "Model minus baseline" in report
    assert metrics["mean"] == written["mean"]


def test_a_model_failing_the_gate_stays_challenger_and_scoring_keeps_the_champion(
    small_shop_path, tracking_overrides, tmp_path
):
    train.run(train_config(small_shop_path, tmp_path / "t1", tracking_overrides))
    strict = [*tracking_overrides, "gate.min_roc_auc=0.99"]
    second = train.run(train_config(small_shop_path, tmp_path / "t2", strict))
    assert (second["model_version"], second["model_alias"]) == ("2", "challenger")
    assert second["gate"]["verdict"] == "failed"
    assert any(r.startswith("FAILED: ROC AUC") for r in second["gate"]["reasons"])
    manifest = score.run(score_config(small_shop_path, tmp_path / "s", tracking_overrides))
    assert manifest["model"]["version"] == "1"


def test_forcing_the_gate_promotes_a_failed_model_and_records_it(
    small_shop_path, tracking_overrides, tmp_path
):
    forced = [*tracking_overrides, "gate.min_roc_auc=0.99", "gate.force=true"]
    metrics = train.run(train_config(small_shop_path, tmp_path / "t", forced))
    assert metrics["model_alias"] == "champion"
    assert (metrics["gate"]["verdict"], metrics["gate"]["forced"]) == ("failed", True)
    tags = MlflowClient(tracking_overrides[0].split("=", 1)[1]).get_model_version("churn", "1").tags
    assert (tags["gate.verdict"], tags["gate.forced"]) == ("failed", "true")


def test_a_retrained_model_is_compared_with_the_champion_on_the_same_rows(
    small_shop_path, tracking_overrides, tmp_path
):
    train.run(train_config(small_shop_path, tmp_path / "t1", tracking_overrides))
    second = train.run(train_config(small_shop_path, tmp_path / "t2", tracking_overrides))
    # Same data, config and seed: the champion's evaluated model scores exactly the same.
    assert second["champion_roc_auc"] == second["test_roc_auc"]
    assert any("champion v1 scores" in r for r in second["gate"]["reasons"])
    assert (second["model_version"], second["model_alias"]) == ("2", "champion")


def test_scoring_the_same_day_twice_gives_the_same_csv(
    small_shop_path, tracking_overrides, tmp_path
):
    train.run(train_config(small_shop_path, tmp_path / "t", tracking_overrides))
    cfg = score_config(small_shop_path, tmp_path / "s", tracking_overrides, "as_of=2024-10-31")
    score.run(cfg)
    folder = tmp_path / "s" / "en" / "2024-10-31"

    def csv_files() -> dict[str, bytes]:
        return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*.csv")}

    first = csv_files()
    score.run(cfg)
    # The list and each action's file, byte for byte.
    assert csv_files() == first
    assert len(first) > 2


def test_scoring_without_a_champion_is_no_model_error(
    small_shop_path, tracking_overrides, tmp_path
):
    with pytest.raises(NoModelError, match="make train"):
        score.run(score_config(small_shop_path, tmp_path / "s", tracking_overrides))


def test_scoring_after_the_data_ends_is_a_config_error(small_shop_path, trained_store, tmp_path):
    cfg = score_config(small_shop_path, tmp_path / "s", trained_store, "as_of=2030-01-01")
    with pytest.raises(ConfigError, match="after the last date in the data"):
        score.run(cfg)


def test_command_line_exit_code_and_message_without_a_model(
    small_shop_path, tracking_overrides, tmp_path
):
    result = run_churn(
        [
            "score",
            f"data.transactions={small_shop_path}",
            f"score.output_dir={tmp_path / 's'}",
            f"hydra.run.dir={tmp_path / 'logs'}",
            *tracking_overrides,
        ],
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 5
    assert "no registered model 'churn'" in result.stderr
    assert "Traceback" not in result.stderr


def test_features_command_writes_one_row_per_customer(small_shop_path, tmp_path):
    result = run_churn(
        [
            "features",
            f"data.transactions={small_shop_path}",
            "as_of=2024-06-30",
            f"hydra.run.dir={tmp_path / 'f'}",
        ],
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    table = pd.read_parquet(tmp_path / "f" / "features.parquet")
    assert table["customer_id"].is_unique
    assert (table["as_of"] == pd.Timestamp("2024-06-30")).all()


def test_complete_journey_trains_and_beats_recency(tracking_overrides, tmp_path):
    cfg = compose_config(
        "train",
        [
            "data=complete_journey",
            "experiment=quick",
            "gate.beat_baselines=false",
            f"output_dir={tmp_path}",
            *tracking_overrides,
        ],
    )
    metrics = train.run(cfg)
    assert metrics["n_test"] > 2000
    for baseline in ("recency", "logistic", "bgnbd"):
        assert metrics["test_roc_auc"] > metrics[f"baseline_{baseline}_roc_auc"]
    for baseline in ("logistic", "bgnbd"):
        assert metrics["test_brier"] < metrics[f"baseline_{baseline}_brier"]
    assert json.loads((tmp_path / "ingest_manifest.json").read_text())["customers"] == 2469


def test_training_twice_gives_the_same_metrics_and_predictions(
    small_shop_path, tracking_overrides, tmp_path
):
    runs = [
        train.run(train_config(small_shop_path, tmp_path / run, tracking_overrides))
        for run in ("a", "b")
    ]
    measured = [
        {k: v for k, v in m.items() if k.startswith(("test_", "validation_", "baseline_"))}
        for m in runs
    ]
    assert len(measured[0]) > 30
    assert measured[0] == measured[1]
    first = (tmp_path / "a" / "test_predictions.csv").read_bytes()
    assert (tmp_path / "b" / "test_predictions.csv").read_bytes() == first


def test_command_line_unknown_config_key_exits_2(tmp_path):
    result = run_churn(
        [
            "train",
            "no_such_key=1",
            f"hydra.run.dir={tmp_path}",
        ],
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 2
    assert "no_such_key" in result.stderr


def test_optuna_sweep_tunes_on_validation_and_registers_the_best_trial(small_shop_path, tmp_path):
    sweep_dir = tmp_path / "sweep"
    result = run_churn(
        [
            "train",
            "-m",
            "hparams_search=optuna",
            "hydra.sweeper.n_trials=2",
            "experiment=quick",
            "gate.beat_baselines=false",
            f"data.transactions={small_shop_path}",
            f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}",
            f"tracking.artifact_root={tmp_path / 'mlartifacts'}",
            f"hydra.sweep.dir={sweep_dir}",
        ],
        cwd=tmp_path,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    best = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    trials = [json.loads((sweep_dir / f"trial_{n}" / "metrics.json").read_text()) for n in (0, 1)]
    assert best["best_value"] == max(t["validation_roc_auc"] for t in trials)
    assert all(t["model_version"] is None for t in trials)
    final = json.loads((sweep_dir / "final" / "metrics.json").read_text())
    assert (final["model_version"], final["model_alias"]) == ("1", "champion")
    assert final["validation_roc_auc"] == best["best_value"]


def test_training_on_the_spark_engine_is_refused_with_the_reason(tmp_path):
    with pytest.raises(ConfigError, match="the train stage runs on DuckDB"):
        train.run(compose_config("train", ["engine=spark", f"output_dir={tmp_path}"]))


def test_features_command_takes_several_cutoffs(small_shop_path, tmp_path):
    from churn.stages import features

    cfg = compose_config(
        "features",
        [
            f"data.transactions={small_shop_path}",
            "as_of=[2024-06-30,2024-03-31]",
            f"output_dir={tmp_path}",
        ],
    )
    table = features.run(cfg)
    written = pd.read_parquet(tmp_path / "features.parquet")
    assert sorted(written["as_of"].dt.strftime("%Y-%m-%d").unique()) == ["2024-03-31", "2024-06-30"]
    assert not written.duplicated(["customer_id", "as_of"]).any()
    assert len(written) == len(table)


def test_the_spark_engine_without_pyspark_says_how_to_install_it(monkeypatch, small_shop_path):
    import importlib.util

    from churn.stages.inputs import open_transactions

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyspark" else real(name, *a)
    )
    cfg = compose_config("score", [f"data.transactions={small_shop_path}", "engine=spark"])
    with pytest.raises(ConfigError, match=r"pip install -e '\.\[spark\]'"):
        open_transactions(cfg)


def test_a_shop_larger_than_max_customers_trains_and_tests_on_a_sample(
    small_shop_path, tracking_overrides, tmp_path
):
    out = tmp_path / "train"
    extra = [*tracking_overrides, "train.register=false", "train.max_customers=400"]
    metrics = train.run(train_config(small_shop_path, out, extra))
    shop = pd.read_parquet(small_shop_path, columns=["customer_id"])["customer_id"]
    assert metrics["training_sample"] == {
        "customers": shop.nunique(),
        "kept": 400,
        "sampled": True,
    }
    predictions = pd.read_csv(out / "test_predictions.csv", dtype={"customer_id": str})
    assert predictions["customer_id"].nunique() <= 400
    assert set(predictions["customer_id"]) <= set(sampled_ids(shop, 400))
    report = (out / "evaluation_report.html").read_text()
    assert f"A sample of 400 of the shop's {shop.nunique():,} customers" in report
