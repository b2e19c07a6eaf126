"""Bench case: fitting BG/NBD on a shop's customers at its last date.

Arguments: the Parquet path and ``ours`` (churn.features.btyd, maximum likelihood, SciPy) or
``pymc`` (PyMC-Marketing's BetaGeoModel, MAP; its model compilation counts, as it does
in every fresh process). The customer summary is built first and not timed.
"""

import sys
import time
import warnings

import duckdb
from _measure import report

path, which = sys.argv[1].replace("'", "''"), sys.argv[2]
summary = duckdb.sql(
    f"""WITH days AS (
          SELECT DISTINCT customer_id, CAST(ts AS DATE) AS d FROM read_parquet('{path}')
          WHERE amount > 0),
        last AS (SELECT MAX(d) AS last_day FROM days)
        SELECT customer_id, COUNT(*) - 1 AS frequency,
               DATE_DIFF('day', MIN(d), MAX(d)) AS recency,
               DATE_DIFF('day', MIN(d), ANY_VALUE(last_day)) AS T
        FROM days, last GROUP BY customer_id ORDER BY customer_id"""
).df()
start = time.perf_counter()
if which == "ours":
    from churn.features.btyd import fit_bgnbd

    params = fit_bgnbd(summary["frequency"], summary["recency"], summary["T"])
    fitted = {k: getattr(params, k) for k in ("r", "alpha", "a", "b")}
else:
    warnings.filterwarnings("ignore")
    from pymc_marketing.clv import BetaGeoModel

    model = BetaGeoModel(data=summary)
    model.fit(method="map", progressbar=False)
    fitted = {k: float(v) for k, v in model.fit_summary().items() if k in ("r", "alpha", "a", "b")}
seconds = time.perf_counter() - start
report(seconds, customers=len(summary), features=2, params=fitted)
