"""models/: the registered champion exported as an MLflow model folder, and scoring from
that folder on a machine with no tracking store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from churn.errors import NoModelError
from churn.tracking import store as tracking
from tests.cli import last_line, run_churn
from tests.test_score_stage import AS_OF, run_score


def _uri(store: list[str]) -> str:
    return next(o.split("=", 1)[1] for o in store if o.startswith("tracking.uri="))


@pytest.fixture(scope="module")
def exported(trained_store, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("models") / "churn"
    tracking.export_model(_uri(trained_store), "churn", folder)
    return folder


def test_the_export_is_an_mlflow_model_folder_naming_its_registered_version(
    exported, trained_store
):
    assert (exported / "MLmodel").is_file()
    record = json.loads((exported / tracking.EXPORT_RECORD).read_text())
    registered = tracking.load_model(None, _uri(trained_store), "churn", alias="champion")
    assert record == {
        "name": "churn",
        "version": registered.version,
        "run_id": registered.run_id,
    }


def test_the_exported_model_predicts_as_the_registered_one(exported, trained_store):
    import pandas as pd

    registered = tracking.load_model(None, _uri(trained_store), "churn", alias="champion")
    folder = tracking.load_model(str(exported), "sqlite:////nonexistent/mlflow.db", "churn")
    assert (folder.name, folder.version, folder.uri) == ("churn", registered.version, str(exported))
    rows = pd.DataFrame([dict.fromkeys(registered.classifier.feature_names, 1.0)])
    assert folder.classifier.predict_proba(rows) == pytest.approx(
        registered.classifier.predict_proba(rows)
    )


def test_scoring_from_the_folder_needs_no_store_and_writes_the_same_list(
    exported, trained_store, small_shop_path, tmp_path
):
    run_score(small_shop_path, tmp_path / "registry", trained_store)
    missing = tmp_path / "nowhere" / "mlflow.db"
    run_score(
        small_shop_path,
        tmp_path / "folder",
        [f"tracking.uri=sqlite:///{missing}"],
        f"model.path={exported}",
    )
    csv = Path("en") / AS_OF / "at_risk_customers.csv"
    assert (tmp_path / "folder" / csv).read_bytes() == (tmp_path / "registry" / csv).read_bytes()
    assert not missing.parent.exists()


def test_a_missing_folder_is_no_model_naming_it(tmp_path):
    with pytest.raises(NoModelError, match=f"no exported model at {tmp_path / 'none'}"):
        tracking.load_model(str(tmp_path / "none"), "sqlite:///unused.db", "churn")


def test_scoring_never_creates_a_store_and_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NoModelError, match=f"looked for {tmp_path / 'mlflow.db'}"):
        tracking.load_model(None, "sqlite:///mlflow.db", "churn", alias="champion")
    assert list(tmp_path.iterdir()) == []


def test_churn_export_writes_the_folder_and_replaces_an_older_one(trained_store, tmp_path):
    target = tmp_path / "models" / "churn"
    target.mkdir(parents=True)
    (target / "stale.txt").write_text("from an older export")
    done = run_churn(
        ["export", *trained_store, f"output_dir={target}", f"hydra.run.dir={tmp_path / 'log'}"],
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (target / "MLmodel").is_file() and not (target / "stale.txt").exists()
    assert sorted(p.name for p in target.parent.iterdir()) == ["churn"]


def test_churn_export_without_a_model_exits_5(tmp_path):
    done = run_churn(
        [
            "export",
            f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}",
            f"hydra.run.dir={tmp_path / 'log'}",
        ],
        cwd=tmp_path,
    )
    assert done.returncode == 5
    assert last_line(done).startswith("error: no registered model 'churn'")
    assert not (tmp_path / "models").exists()
