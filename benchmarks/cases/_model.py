"""Shared by the explanation bench cases: train the default model on a generated shop."""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from churn.data.ingest import SourceSpec, ingest_transactions
from churn.engines import duckdb_engine
from churn.features.query import build_features
from churn.modeling.calibration import fit_calibrator
from churn.modeling.labels import make_labels
from churn.modeling.model import ChurnClassifier, FeatureSettings, fit_lightgbm
from churn.modeling.schedule import snapshot_schedule

HORIZON = 90


def default_params() -> dict:
    """The LightGBM parameters of conf/model/lightgbm.yaml."""
    with open(Path(__file__).resolve().parents[2] / "conf" / "model" / "lightgbm.yaml") as f:
        return yaml.safe_load(f)


def train_default(parquet: str, max_depth: int = -1, seed: int = 42, **overrides: float):
    """Fit the default model (all families, BG/NBD on, sigmoid calibration) on the shop's
    default schedule, with ``max_depth`` and any other LightGBM parameter overridden;
    returns the classifier, the test snapshot and the fit seconds."""
    con = duckdb_engine.connect()
    ingest_transactions(con, SourceSpec(transactions=parquet))
    first, last = duckdb_engine.date_range(con)
    schedule = snapshot_schedule(first, last, HORIZON)
    table = build_features(
        con, [*schedule.train, schedule.validation, schedule.test], btyd_horizon_days=HORIZON
    )
    table["churned"] = make_labels(con, table, HORIZON, last)
    names = [c for c in table.columns if c not in ("customer_id", "as_of", "churned")]
    as_of = table["as_of"].dt.date
    train = table[as_of.isin(schedule.train)]
    valid = table[as_of == schedule.validation]
    test = table[as_of == schedule.test]
    cfg = default_params()
    params = {**cfg["params"], "max_depth": max_depth, **overrides}
    start = time.perf_counter()
    model: ChurnClassifier = fit_lightgbm(
        train[names],
        train["churned"],
        valid[names],
        valid["churned"],
        params=params,
        num_boost_round=cfg["num_boost_round"],
        early_stopping_rounds=cfg["early_stopping_rounds"],
        seed=seed,
        feature_settings=FeatureSettings(
            windows=(30, 90, 180, 365), active_lookback_days=365, btyd_horizon_days=HORIZON
        ),
    )
    model = model.calibrated(
        fit_calibrator(model.predict_raw(valid), valid["churned"], cfg["calibration"])
    )
    return model, test, time.perf_counter() - start
