"""Faults of the MLflow store: a champion whose files are gone, a mistyped tracking.uri,
a read-only, corrupt or unreachable store. Every store here is a temporary one."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from churn.errors import NoModelError, StorageError
from churn.stages import score, train
from churn.stages.cli import run_cli
from churn.tracking import store as tracking
from tests.cli import run_churn
from tests.conftest import compose_config

UNREACHABLE = "http://127.0.0.1:9"


def run_pipeline(
    stage: str, *overrides: str, cwd: Path, unprivileged: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run ``churn <stage>`` as a scheduler would; ``unprivileged`` drops root's
    power to write files whose permissions forbid it (the only way a root test sees a
    read-only store)."""
    prefix: list[str] = []
    if unprivileged and os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: permissions cannot be enforced")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner"]
    return run_churn([stage, *overrides], cwd=cwd, prefix=prefix)


def sqlite_uri(path: Path) -> str:
    return f"sqlite:///{path}"


def score_config(shop: Path, tmp_path: Path, uri: str):
    return compose_config(
        "score",
        [
            f"data.transactions={shop}",
            f"score.output_dir={tmp_path / 'scores'}",
            f"tracking.uri={uri}",
            f"tracking.artifact_root={tmp_path / 'mlartifacts'}",
        ],
    )


def train_config(shop: Path, tmp_path: Path, uri: str):
    return compose_config(
        "train",
        [
            f"data.transactions={shop}",
            "experiment=quick",
            "gate.beat_baselines=false",
            f"output_dir={tmp_path / 'train'}",
            f"tracking.uri={uri}",
            f"tracking.artifact_root={tmp_path / 'mlartifacts'}",
        ],
    )


def new_store(path: Path) -> str:
    """An empty MLflow store (tables and the experiment) at ``path``."""
    uri = sqlite_uri(path)
    tracking.start(uri, "churn", str(path.parent / "mlartifacts"), create=True)
    return uri


@pytest.fixture
def no_user_http_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in tracking._FAIL_FAST_HTTP:
        monkeypatch.delenv(key, raising=False)


# A champion whose files are gone


def test_retraining_after_the_champions_files_were_deleted_promotes_on_floor_and_baseline(
    small_shop_path, tracking_overrides, tmp_path
):
    train.run(
        compose_config(
            "train",
            [
                f"data.transactions={small_shop_path}",
                "experiment=quick",
                "gate.beat_baselines=false",
                f"output_dir={tmp_path / 'first'}",
                *tracking_overrides,
            ],
        )
    )
    # The artifact root holds nothing but the champion's run and model folders.
    shutil.rmtree(tmp_path / "mlartifacts")

    result = run_pipeline(
        "train",
        f"data.transactions={small_shop_path}",
        "experiment=quick",
        "gate.beat_baselines=false",
        f"hydra.run.dir={tmp_path / 'second'}",
        *tracking_overrides,
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "second" / "metrics.json").read_text())
    gate = metrics["gate"]
    assert (gate["verdict"], metrics["model_alias"], metrics["model_version"]) == (
        "passed",
        "champion",
        "2",
    )
    assert "model files are gone" in gate["champion_unusable"]
    assert gate["reasons"][1].startswith("skipped: champion v1 is unusable (its model files")
    assert "champion v1 is unusable" in result.stdout + result.stderr
    client = MlflowClient(tracking_uri=tracking_overrides[0].split("=", 1)[1])
    tags = client.get_model_version("churn", "2").tags
    assert "model files are gone" in tags["gate.champion_unusable"]


def test_scoring_with_a_champion_whose_files_were_deleted_says_they_are_gone(
    small_shop_path, tracking_overrides, tmp_path
):
    uri = tracking_overrides[0].split("=", 1)[1]
    train.run(train_config(small_shop_path, tmp_path, uri))
    shutil.rmtree(tmp_path / "mlartifacts")
    with pytest.raises(NoModelError, match=r"version 1 .*model files are gone: .* does not exist"):
        score.run(score_config(small_shop_path, tmp_path, uri))


# A mistyped tracking.uri


def test_command_line_scoring_with_a_mistyped_tracking_uri_exits_5_and_creates_nothing(
    small_shop_path, tmp_path
):
    store = tmp_path / "typo" / "mlflow.db"
    result = run_pipeline(
        "score",
        f"data.transactions={small_shop_path}",
        f"score.output_dir={tmp_path / 'scores'}",
        f"hydra.run.dir={tmp_path / 'logs'}",
        f"tracking.uri={sqlite_uri(store)}",
        f"tracking.artifact_root={tmp_path / 'mlartifacts'}",
        cwd=tmp_path,
    )

    assert result.returncode == 5, result.stderr[-3000:]
    assert f"no MLflow store exists at {sqlite_uri(store)}" in result.stderr
    assert "check tracking.uri" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "typo").exists()


def test_scoring_from_a_sqlite_file_that_does_not_exist_creates_no_file(small_shop_path, tmp_path):
    store = tmp_path / "mlflow.db"
    with pytest.raises(NoModelError, match="no MLflow store exists at"):
        score.run(score_config(small_shop_path, tmp_path, sqlite_uri(store)))
    assert not store.exists()


def test_scoring_from_a_file_store_folder_that_does_not_exist_is_no_model_error(
    small_shop_path, tmp_path
):
    folder = tmp_path / "mlruns"
    with pytest.raises(NoModelError, match="no MLflow store exists at"):
        score.run(score_config(small_shop_path, tmp_path, folder.as_uri()))
    assert not folder.exists()


def test_training_into_a_store_that_does_not_exist_logs_that_it_creates_one(tmp_path, caplog):
    store = tmp_path / "new" / "mlflow.db"
    with caplog.at_level(logging.WARNING, logger="churn"):
        tracking.start(sqlite_uri(store), "churn", str(tmp_path / "mlartifacts"), create=True)
    assert f"no MLflow store at {sqlite_uri(store)}: creating a new one" in caplog.text
    assert store.exists()


# Read-only, corrupt and unreachable stores


def test_training_into_a_read_only_sqlite_file_exits_6_naming_the_store(small_shop_path, tmp_path):
    store = tmp_path / "store" / "mlflow.db"
    uri = new_store(store)
    store.chmod(0o444)
    result = run_pipeline(
        "train",
        f"data.transactions={small_shop_path}",
        f"hydra.run.dir={tmp_path / 'logs'}",
        f"tracking.uri={uri}",
        cwd=tmp_path,
        unprivileged=True,
    )
    assert result.returncode == 6, result.stderr[-3000:]
    assert f"error: MLflow store {uri} is read-only: no write permission on {store}" in (
        result.stderr
    )
    assert "check its permissions or set tracking.uri" in result.stderr


def test_training_into_a_store_whose_folder_is_read_only_exits_6(small_shop_path, tmp_path):
    store = tmp_path / "store" / "mlflow.db"
    uri = new_store(store)
    store.parent.chmod(0o555)
    try:
        result = run_pipeline(
            "train",
            f"data.transactions={small_shop_path}",
            f"hydra.run.dir={tmp_path / 'logs'}",
            f"tracking.uri={uri}",
            cwd=tmp_path,
            unprivileged=True,
        )
    finally:
        store.parent.chmod(0o755)
    assert result.returncode == 6, result.stderr[-3000:]
    assert f"is read-only: no write permission on its folder {store.parent}" in result.stderr


def test_training_on_a_file_that_is_not_a_sqlite_database_exits_6(
    small_shop_path, tmp_path, capsys
):
    store = tmp_path / "mlflow.db"
    store.write_text("customer_id,ts,amount\n")
    with pytest.raises(SystemExit) as exited:
        run_cli(train.run, train_config(small_shop_path, tmp_path, sqlite_uri(store)))
    assert exited.value.code == 6
    err = capsys.readouterr().err
    assert err.startswith(f"error: MLflow store {sqlite_uri(store)} is not a SQLite database")
    assert err.count("\n") == 1
    assert store.read_text() == "customer_id,ts,amount\n"


def test_scoring_from_a_file_that_is_not_a_sqlite_database_is_storage_error(
    small_shop_path, tmp_path
):
    store = tmp_path / "mlflow.db"
    store.write_bytes(b"\x00" * 64)
    with pytest.raises(StorageError, match="is not a SQLite database"):
        score.run(score_config(small_shop_path, tmp_path, sqlite_uri(store)))


def test_scoring_against_an_unreachable_server_fails_within_seconds(
    small_shop_path, tmp_path, no_user_http_settings
):
    started = time.monotonic()
    with pytest.raises(StorageError, match=f"tracking server {UNREACHABLE} cannot be reached"):
        score.run(score_config(small_shop_path, tmp_path, UNREACHABLE))
    assert time.monotonic() - started < 30
    # The short retries served the check only.
    assert not set(tracking._FAIL_FAST_HTTP) & set(os.environ)


def test_training_against_an_unreachable_server_exits_6_before_training(
    small_shop_path, tmp_path, capsys, no_user_http_settings
):
    with pytest.raises(SystemExit) as exited:
        run_cli(train.run, train_config(small_shop_path, tmp_path, UNREACHABLE))
    assert exited.value.code == 6
    assert "make mlflow-server" in capsys.readouterr().err
    assert not (tmp_path / "train" / "metrics.json").exists()
