"""Retention analytics as marketers define them, computed by DuckDB on the canonical
``transactions`` table.

An **order** is a distinct ``order_id`` with at least one positive line, dated by its first
positive line (as for the churn label). A customer is **active** in a period when they
placed at least one order in it.

* **retention rate** of a period = customers active in the previous period who are active
  again in this one / customers active in the previous period (empty for the first
  period, and after a period without customers); **churn rate** = 1 - retention rate;
* **repeat purchase rate** = customers with more than one order in the period / customers
  with at least one;
* **new customers** = customers whose first order falls in the period; **revenue** = net
  amount (returns included) of the rows dated in the period;
* **cohort retention**: a cohort is the calendar month of a customer's first order; cell
  ``(cohort, k)`` is the share of the cohort with at least one order in month cohort + k.

Every period (and every cohort month) from the first order to the last date is listed,
also when nobody ordered in it.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from churn.errors import ConfigError

PERIODS = {"month": 1, "quarter": 3}

_ORDERS = """
orders AS (
  SELECT customer_id, order_id, MIN(ts) AS order_ts
  FROM {table}
  WHERE amount > 0
  GROUP BY customer_id, order_id
),
firsts AS (
  SELECT customer_id, MIN(order_ts) AS first_ts FROM orders GROUP BY customer_id
)"""


def cohort_retention(con: duckdb.DuckDBPyConnection, table: str = "transactions") -> pd.DataFrame:
    """Cohort retention table: ``cohort`` (YYYY-MM), ``months_since_first``,
    ``customers`` (cohort size), ``retained`` and ``retention_rate``, for every month from
    each cohort's first to the data's last month."""
    sql = f"""
    WITH {_ORDERS.format(table=table)},
    cohorts AS (
      SELECT customer_id, DATE_TRUNC('month', first_ts) AS cohort FROM firsts
    ),
    sizes AS (SELECT cohort, COUNT(*) AS customers FROM cohorts GROUP BY cohort),
    last_month AS (SELECT DATE_TRUNC('month', MAX(ts)) AS month FROM {table}),
    grid AS (
      SELECT s.cohort, s.customers, CAST(r.k AS INTEGER) AS k
      FROM sizes AS s, last_month AS l, range(0, 1200) AS r(k)
      WHERE r.k <= DATE_DIFF('month', s.cohort, l.month)
    ),
    active AS (
      SELECT DISTINCT c.cohort, c.customer_id,
        DATE_DIFF('month', c.cohort, DATE_TRUNC('month', o.order_ts)) AS k
      FROM orders AS o JOIN cohorts AS c USING (customer_id)
    ),
    kept AS (SELECT cohort, k, COUNT(*) AS retained FROM active GROUP BY cohort, k)
    SELECT STRFTIME(g.cohort, '%Y-%m') AS cohort, g.k AS months_since_first, g.customers,
      COALESCE(kept.retained, 0) AS retained,
      COALESCE(kept.retained, 0) * 1.0 / g.customers AS retention_rate
    FROM grid AS g LEFT JOIN kept USING (cohort, k)
    ORDER BY g.cohort, g.k
    """
    table = con.execute(sql).df()
    return table.astype({"months_since_first": "int64", "customers": "int64", "retained": "int64"})


def retention_by_period(
    con: duckdb.DuckDBPyConnection, period: str = "month", table: str = "transactions"
) -> pd.DataFrame:
    """Per period (``YYYY-MM`` or ``YYYY-Qn``): ``active``, ``retained``,
    ``retention_rate``, ``churn_rate``, ``repeat_purchase_rate``, ``new_customers`` and
    ``revenue``, every period from the first order to the last date."""
    if period not in PERIODS:
        raise ConfigError(f"report.period must be one of {list(PERIODS)}, got {period!r}")
    step = PERIODS[period]
    sql = f"""
    WITH {_ORDERS.format(table=table)},
    bounds AS (
      SELECT DATE_TRUNC('{period}', (SELECT MIN(first_ts) FROM firsts)) AS lo,
             DATE_TRUNC('{period}', MAX(ts)) AS hi
      FROM {table}
    ),
    periods AS (
      SELECT CAST(UNNEST(GENERATE_SERIES(lo, hi, INTERVAL {step} MONTH)) AS DATE) AS period
      FROM bounds
    ),
    counts AS (
      SELECT customer_id, CAST(DATE_TRUNC('{period}', order_ts) AS DATE) AS period,
        COUNT(*) AS n
      FROM orders GROUP BY ALL
    ),
    active AS (
      SELECT period, COUNT(*) AS active, SUM(CASE WHEN n > 1 THEN 1 ELSE 0 END) AS repeaters
      FROM counts GROUP BY period
    ),
    kept AS (
      SELECT cur.period, COUNT(*) AS retained
      FROM counts AS cur JOIN counts AS prev
        ON prev.customer_id = cur.customer_id
       AND prev.period = CAST(cur.period - INTERVAL {step} MONTH AS DATE)
      GROUP BY cur.period
    ),
    new AS (
      SELECT CAST(DATE_TRUNC('{period}', first_ts) AS DATE) AS period,
        COUNT(*) AS new_customers
      FROM firsts GROUP BY ALL
    ),
    revenue AS (
      SELECT CAST(DATE_TRUNC('{period}', ts) AS DATE) AS period, SUM(amount) AS revenue
      FROM {table} GROUP BY ALL
    )
    SELECT p.period,
      COALESCE(a.active, 0) AS active,
      COALESCE(k.retained, 0) AS retained,
      COALESCE(k.retained, 0) * 1.0
        / NULLIF(LAG(COALESCE(a.active, 0)) OVER (ORDER BY p.period), 0) AS retention_rate,
      a.repeaters * 1.0 / NULLIF(a.active, 0) AS repeat_purchase_rate,
      COALESCE(n.new_customers, 0) AS new_customers,
      COALESCE(r.revenue, 0) AS revenue
    FROM periods AS p
    LEFT JOIN active AS a USING (period)
    LEFT JOIN kept AS k USING (period)
    LEFT JOIN new AS n USING (period)
    LEFT JOIN revenue AS r USING (period)
    ORDER BY p.period
    """
    table = con.execute(sql).df()
    table["churn_rate"] = 1.0 - table["retention_rate"]
    dates = pd.to_datetime(table["period"])
    table["period"] = (
        dates.dt.strftime("%Y-%m")
        if period == "month"
        else dates.dt.year.astype(str) + "-Q" + dates.dt.quarter.astype(str)
    )
    table["revenue"] = table["revenue"].astype("float64").round(2)
    columns = [
        "period",
        "active",
        "retained",
        "retention_rate",
        "churn_rate",
        "repeat_purchase_rate",
        "new_customers",
        "revenue",
    ]
    return table[columns].astype({"active": "int64", "retained": "int64", "new_customers": "int64"})


def retention_by_segment(
    con: duckdb.DuckDBPyConnection, column: str, period: str = "month"
) -> dict[str, pd.DataFrame]:
    """:func:`retention_by_period` for each segment of customers, a customer's segment
    being ``column`` (for example ``channel``) of their first order's first line."""
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW first_segment AS
        SELECT customer_id, ARG_MIN({column}, ts) AS segment
        FROM transactions WHERE amount > 0 GROUP BY customer_id"""
    )
    segments = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT segment FROM first_segment WHERE segment IS NOT NULL ORDER BY 1"
        ).fetchall()
    ]
    out = {}
    for segment in segments:
        literal = str(segment).replace("'", "''")
        con.execute(
            f"""CREATE OR REPLACE TEMP VIEW segment_transactions AS
            SELECT t.* FROM transactions AS t JOIN first_segment AS f USING (customer_id)
            WHERE CAST(f.segment AS VARCHAR) = '{literal}'"""
        )
        out[str(segment)] = retention_by_period(con, period, table="segment_transactions")
    return out
