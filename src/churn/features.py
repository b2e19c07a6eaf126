"""Point-in-time customer features computed by DuckDB over the ``transactions`` view.

A cutoff ``as_of`` is a calendar date and means *through the end of that day*: only rows
with ``ts < as_of + 1 day`` influence a customer's features at that cutoff. A window of
``N`` days covers the dates ``(as_of - N, as_of]``, so ``orders_30d`` counts the orders of
the last 30 calendar days including ``as_of`` itself.

Definitions
-----------
order
    A distinct ``order_id`` with at least one line of positive amount; its date is the
    date of its first such line. Return rows (negative amount) are not orders.
days_since_last_order
    Calendar days from the last order's date to ``as_of`` (0 = ordered on ``as_of``).
orders_{N}d, spend_{N}d
    Orders, and net revenue (purchases minus returns, by the row's own date), in the window.
tenure_days
    Calendar days from the first order's date to ``as_of``.
mean_gap_days
    Mean days between consecutive order dates: (last - first) / (orders - 1); missing
    for one-order customers.
overdue_ratio
    ``days_since_last_order / mean_gap_days``: how many usual gaps the customer is late.
returns_share_365d
    Returned amount / purchased amount within the last 365 days.

Every cutoff is computed in one query: pass several dates to get a snapshot table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb
import pandas as pd

from churn.errors import ConfigError

KEY_COLUMNS = ("customer_id", "as_of")


def feature_names(windows: Sequence[int]) -> list[str]:
    """Names of the feature columns, in table order, for the given windows (days)."""
    names = ["days_since_last_order"]
    names += [f"orders_{w}d" for w in windows]
    names += [f"spend_{w}d" for w in windows]
    names += [
        "orders_total",
        "spend_total",
        "tenure_days",
        "mean_gap_days",
        "overdue_ratio",
        "returns_share_365d",
    ]
    return names


def _validate(windows: Sequence[int], active_lookback_days: int) -> list[int]:
    clean = sorted({int(w) for w in windows})
    if not clean or clean[0] <= 0:
        raise ConfigError(f"features.windows must be positive day counts, got {list(windows)}")
    if active_lookback_days <= 0:
        raise ConfigError(
            f"label.active_lookback_days must be positive, got {active_lookback_days}"
        )
    return clean


def _feature_sql(windows: Sequence[int], active_lookback_days: int) -> str:
    order_windows = ",\n".join(
        f"    COUNT(*) FILTER (WHERE age_days < {w}) AS orders_{w}d" for w in windows
    )
    spend_windows = ",\n".join(
        f"    COALESCE(SUM(amount) FILTER (WHERE age_days < {w}), 0) AS spend_{w}d" for w in windows
    )
    order_cols = ", ".join(f"o.orders_{w}d" for w in windows)
    spend_cols = ", ".join(f"l.spend_{w}d" for w in windows)
    return f"""
WITH lines AS (
  SELECT c.as_of, t.customer_id, t.order_id, t.amount,
         CAST(t.ts AS DATE) AS line_date,
         date_diff('day', CAST(t.ts AS DATE), c.as_of) AS age_days
  FROM transactions AS t
  JOIN (SELECT CAST(as_of AS DATE) AS as_of FROM cutoff_dates) AS c
    ON t.ts < CAST(c.as_of AS TIMESTAMP) + INTERVAL 1 DAY
),
orders AS (
  SELECT as_of, customer_id, order_id, MIN(line_date) AS order_date, MIN(age_days) AS age_days
  FROM lines
  WHERE amount > 0
  GROUP BY as_of, customer_id, order_id
),
order_stats AS (
  SELECT as_of, customer_id,
    COUNT(*) AS orders_total,
    MIN(order_date) AS first_order_date,
    MAX(order_date) AS last_order_date,
{order_windows}
  FROM orders
  GROUP BY as_of, customer_id
),
line_stats AS (
  SELECT as_of, customer_id,
    SUM(amount) AS spend_total,
{spend_windows},
    COALESCE(SUM(-amount) FILTER (WHERE amount < 0 AND age_days < 365), 0) AS returned_365d,
    SUM(amount) FILTER (WHERE amount > 0 AND age_days < 365) AS purchased_365d
  FROM lines
  GROUP BY as_of, customer_id
),
joined AS (
  SELECT o.customer_id, o.as_of,
    date_diff('day', o.last_order_date, o.as_of) AS days_since_last_order,
    {order_cols}, {spend_cols},
    o.orders_total, l.spend_total,
    date_diff('day', o.first_order_date, o.as_of) AS tenure_days,
    CASE WHEN o.orders_total > 1
         THEN date_diff('day', o.first_order_date, o.last_order_date) / (o.orders_total - 1)
    END AS mean_gap_days,
    l.returned_365d / NULLIF(l.purchased_365d, 0) AS returns_share_365d
  FROM order_stats AS o
  JOIN line_stats AS l USING (as_of, customer_id)
)
SELECT customer_id, as_of, days_since_last_order,
  {", ".join(f"orders_{w}d" for w in windows)}, {", ".join(f"spend_{w}d" for w in windows)},
  orders_total, spend_total, tenure_days, mean_gap_days,
  days_since_last_order / NULLIF(mean_gap_days, 0) AS overdue_ratio,
  returns_share_365d
FROM joined
WHERE days_since_last_order < {int(active_lookback_days)}
ORDER BY as_of, customer_id
"""


def build_features(
    con: duckdb.DuckDBPyConnection,
    cutoffs: Sequence[dt.date],
    windows: Sequence[int] = (30, 90, 365),
    active_lookback_days: int = 365,
) -> pd.DataFrame:
    """Feature table for every customer in the population at each cutoff.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection with a canonical ``transactions`` view (see :mod:`churn.data`).
    cutoffs : sequence of datetime.date
        The ``as_of`` dates; each means through the end of that day.
    windows : sequence of int
        Window lengths in days for the order and spend counts.
    active_lookback_days : int
        Population: customers with an order in the last ``active_lookback_days`` days
        up to and including ``as_of``.

    Returns
    -------
    pandas.DataFrame
        One row per (customer, cutoff) in the population: ``customer_id``, ``as_of``
        (datetime64 at midnight) and the columns of :func:`feature_names`, sorted by
        ``as_of`` then ``customer_id``.
    """
    clean = _validate(windows, active_lookback_days)
    cutoff_frame = pd.DataFrame({"as_of": pd.to_datetime(sorted(set(cutoffs))).date})
    con.register("cutoff_dates", cutoff_frame)
    try:
        table = con.execute(_feature_sql(clean, active_lookback_days)).df()
    finally:
        con.unregister("cutoff_dates")
    table["as_of"] = pd.to_datetime(table["as_of"]).astype("datetime64[us]")
    float_cols = [c for c in table.columns if c not in KEY_COLUMNS]
    table[float_cols] = table[float_cols].astype("float64")
    table["customer_id"] = table["customer_id"].astype(str)
    return table[[*KEY_COLUMNS, *feature_names(clean)]]
