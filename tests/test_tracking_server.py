"""Integration: a PostgreSQL-backed MLflow server; train, register, promote, score, and
run an Optuna sweep with two trials at once, through it (issue 8).

Skipped, saying why, when PostgreSQL's server programs or psycopg are missing
(`.ci/run` installs PostgreSQL from the distribution's packages).
"""

from __future__ import annotations

import json
import socket
import tempfile
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from churn.stages import score, train
from churn.tracking.server import postgres_bin, running_server
from tests.cli import run_churn
from tests.conftest import compose_config

pytest.importorskip("psycopg", reason="the server extra (psycopg) is not installed")
pytestmark = pytest.mark.skipif(
    postgres_bin("initdb") is None, reason="PostgreSQL server programs are not installed"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # The cluster's folder must be reachable by the postgres user: directly under /tmp.
    data_dir = Path(tempfile.mkdtemp(prefix="churn-pg-", dir="/tmp"))
    artifacts = tmp_path_factory.mktemp("server-artifacts")
    with running_server(data_dir, artifacts, _free_port(), _free_port()) as url:
        yield [f"tracking.uri={url}", "tracking.artifact_root=null"]


def test_train_gate_promote_and_score_through_the_server(small_shop_path, server, tmp_path):
    def train_with(*extra: str) -> dict:
        return train.run(
            compose_config(
                "train",
                [
                    f"data.transactions={small_shop_path}",
                    "experiment=quick",
                    "gate.beat_baselines=false",
                    f"output_dir={tmp_path / str(len(extra))}",
                    *server,
                    *extra,
                ],
            )
        )

    first = train_with()
    assert (first["model_version"], first["model_alias"]) == ("1", "champion")
    failed = train_with("gate.min_roc_auc=0.99")
    assert (failed["model_version"], failed["model_alias"]) == ("2", "challenger")
    promoted = train_with("gate.tolerance=0.01", "seed=7")
    assert promoted["model_alias"] == "champion"
    assert any("champion v1 scores" in r for r in promoted["gate"]["reasons"])

    manifest = score.run(
        compose_config(
            "score",
            [f"data.transactions={small_shop_path}", f"score.output_dir={tmp_path / 's'}", *server],
        )
    )
    assert manifest["model"]["version"] == promoted["model_version"]
    assert manifest["rows_at_risk"] > 0


def test_an_optuna_sweep_runs_two_trials_at_once_against_the_server(
    small_shop_path, server, tmp_path
):
    result = run_churn(
        [
            "train",
            "-m",
            "hparams_search=optuna",
            "hydra.sweeper.n_trials=2",
            "hydra.sweeper.n_jobs=2",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            "experiment=quick",
            "gate.beat_baselines=false",
            f"data.transactions={small_shop_path}",
            *server,
            f"hydra.sweep.dir={tmp_path}",
        ],
        cwd=tmp_path,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    trials = [json.loads((tmp_path / f"trial_{n}" / "metrics.json").read_text()) for n in (0, 1)]
    assert len({t["run_id"] for t in trials}) == 2
    assert all(t["model_version"] is None for t in trials)
    # The two trials' runs overlapped in time: they logged to the server concurrently.
    uri = next(o.split("=", 1)[1] for o in server if o.startswith("tracking.uri="))
    client = MlflowClient(tracking_uri=uri)
    first, second = (client.get_run(t["run_id"]).info for t in trials)
    assert first.start_time < second.end_time and second.start_time < first.end_time
    final = json.loads((tmp_path / "final" / "metrics.json").read_text())
    assert final["model_version"] is not None
    assert final["validation_roc_auc"] == max(t["validation_roc_auc"] for t in trials)
