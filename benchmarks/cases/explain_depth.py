"""Bench case: does a depth limit keep test ROC AUC while cutting explanation time?

Arguments: the Parquet path of the shop to train on, the max_depth (-1 = no limit), and
optionally the learning rate and num_leaves (default: the config's).
Explanation time is exact TreeSHAP (LightGBM pred_contrib) on 200,000 rows (the test
snapshot repeated).
"""

import sys
import time

import numpy as np
import pandas as pd
from _measure import report
from _model import train_default
from sklearn.metrics import roc_auc_score

depth = int(sys.argv[2])
extra = {}
if len(sys.argv) > 3:
    extra["learning_rate"] = float(sys.argv[3])
if len(sys.argv) > 4:
    extra["num_leaves"] = int(sys.argv[4])
model, test, fit_seconds = train_default(sys.argv[1], max_depth=depth, **extra)
auc = roc_auc_score(test["churned"], model.predict_proba(test))
rows = pd.concat([test] * int(np.ceil(200_000 / len(test))), ignore_index=True).head(200_000)
start = time.perf_counter()
model.contributions(rows)
explain = time.perf_counter() - start
trees = model.booster.num_trees()
leaves = model.booster.dump_model()["tree_info"]
mean_leaves = float(np.mean([t["num_leaves"] for t in leaves]))
report(
    explain,
    customers=len(rows),
    features=len(model.feature_names),
    max_depth=depth,
    learning_rate=model.params["learning_rate"],
    num_leaves=model.params["num_leaves"],
    test_roc_auc=auc,
    trees=model.best_iteration or trees,
    mean_leaves=mean_leaves,
    fit_seconds=fit_seconds,
    test_rows=len(test),
)
