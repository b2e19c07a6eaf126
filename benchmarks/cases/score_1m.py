"""Bench case: nightly scoring of a million customers, end to end.

Arguments: the Parquet shop to train on (untimed), the Parquet shop to score, and the
model's max_depth. Timed from the Parquet file: ingest, features at the last date (all
families, BG/NBD on), calibrated probabilities for every customer, and exact TreeSHAP
reasons rendered as English sentences for the riskiest 20%.
"""

import sys
import time
from importlib import resources

import numpy as np
from _measure import report
from _model import HORIZON, train_default
from omegaconf import OmegaConf

from churn.data.ingest import SourceSpec, ingest_transactions
from churn.engines import duckdb_engine
from churn.features.query import build_features
from churn.scoring.actions import ActionTable
from churn.scoring.selection import SegmentRules
from churn.scoring.themes import explain

model, _, _ = train_default(sys.argv[1], max_depth=int(sys.argv[3]))
steps = {}
start = last_mark = time.perf_counter()


def mark(name: str) -> None:
    global last_mark
    now = time.perf_counter()
    steps[name] = round(now - last_mark, 2)
    last_mark = now


con = duckdb_engine.connect()
result = ingest_transactions(con, SourceSpec(transactions=sys.argv[2]))
mark("ingest")
_, last = duckdb_engine.date_range(con)
features = build_features(con, [last], btyd_horizon_days=HORIZON)
mark("features")
p = model.predict_proba(features)
mark("predict")
riskiest = features.iloc[np.argsort(-p, kind="stable")[: len(features) // 5]]
contributions = model.contributions(riskiest)
mark("shap")
segments = SegmentRules(90, 90, 0.9).assign(features).loc[riskiest.index]
table = ActionTable.from_config(
    OmegaConf.load(resources.files("churn") / "conf" / "actions" / "default.yaml")
)
reasons = explain(contributions, riskiest, segments, table)
mark("reasons")
report(
    time.perf_counter() - start,
    customers=len(features),
    features=len(model.feature_names),
    rows=result.manifest["rows_read"],
    explained=len(riskiest),
    max_depth=int(sys.argv[3]),
    trees=model.best_iteration or model.booster.num_trees(),
    steps_s=steps,
    example_reason=reasons["reason_1"].iloc[0],
)
