"""Shared fixtures: tiny hand-made frames, a small generated shop, temporary MLflow stores."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from churn.data.ingest import SourceSpec, ingest_transactions
from churn.data.synth import ShopSpec, generate_transactions
from churn.engines import duckdb_engine

CONF_DIR = str(Path(__file__).resolve().parents[1] / "conf")


def make_transactions(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    """A canonical frame from ``(customer_id, order_id, ts, amount)`` tuples."""
    frame = pd.DataFrame(rows, columns=["customer_id", "order_id", "ts", "amount"])
    frame["ts"] = pd.to_datetime(frame["ts"])
    return frame


def connect_to(frame: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection whose ``transactions`` table is ``frame``, ingested."""
    con = duckdb_engine.connect()
    ingest_transactions(con, SourceSpec(), frame=frame)
    return con


def ingest_contact_log(
    con: duckdb.DuckDBPyConnection, rows: list[tuple[str, str, str, str]]
) -> None:
    """Ingest ``(customer_id, contacted_at, campaign, group)`` rows as the ``contacts``
    table of ``con``."""
    from churn.data.ingest import ingest_contacts

    frame = pd.DataFrame(rows, columns=["customer_id", "contacted_at", "campaign", "group"])
    columns = {
        "customer_id": "customer_id",
        "contacted_at": "contacted_at",
        "campaign": "campaign",
        "contact_group": "group",
    }
    ingest_contacts(con, SourceSpec(columns=columns), frame=frame)


def has_java_17() -> bool:
    """Whether a Java runtime of version 17 or later is on PATH (Spark 4 needs it)."""
    if shutil.which("java") is None:
        return False
    shown = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
    found = re.search(r'version "(\d+)', shown)
    return bool(found) and int(found.group(1)) >= 17


def compose_config(name: str, overrides: list[str] | None = None):
    """Compose a primary config from conf/ as the command line would."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(config_name=name, overrides=overrides or [])


@pytest.fixture(scope="session")
def small_shop_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated shop of 1,500 customers over two years, as Parquet."""
    path = tmp_path_factory.mktemp("shop") / "transactions.parquet"
    generate_transactions(ShopSpec(n_customers=1500, days=730, seed=3)).to_parquet(path)
    return path


@pytest.fixture(autouse=True)
def no_tracking_uri_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The configs honour MLFLOW_TRACKING_URI, and mlflow.set_tracking_uri exports it: a
    test must not inherit an earlier test's store, nor the developer's own."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture
def tracking_overrides(tmp_path: Path) -> list[str]:
    """Config overrides pointing MLflow at a store of this test's own."""
    return [
        f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}",
        f"tracking.artifact_root={tmp_path / 'mlartifacts'}",
    ]


@pytest.fixture(scope="session")
def trained_store(small_shop_path: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Tracking overrides of a store whose ``churn@champion`` was trained once on the small
    shop, shared by the tests that only score (they must not register models)."""
    from churn.stages import train

    root = tmp_path_factory.mktemp("trained")
    overrides = [
        f"tracking.uri=sqlite:///{root / 'mlflow.db'}",
        f"tracking.artifact_root={root / 'mlartifacts'}",
    ]
    cfg = compose_config(
        "train",
        [
            f"data.transactions={small_shop_path}",
            "experiment=quick",
            # The small shop's model does not beat BG/NBD: the scoring tests need a champion.
            "gate.beat_baselines=false",
            f"output_dir={root}",
            *overrides,
        ],
    )
    train.run(cfg)
    return overrides
