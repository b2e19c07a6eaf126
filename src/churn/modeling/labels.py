"""Churn labels: did a customer of the population order again within the horizon?

At cutoff ``t`` the population is the customers with an order in the
``active_lookback_days`` up to ``t`` (see :func:`churn.features.query.build_features`). A
customer is *churned* (label 1) when they place no order in ``(t, t + horizon]``: no
order (an ``order_id`` with a positive line) whose first positive line has
``t + 1 day <= ts < t + 1 day + horizon days``. A late line of an order placed before the
cutoff is not a new order.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from churn.errors import ConfigError


def last_labelled_cutoff(last_date: dt.date, horizon_days: int) -> dt.date:
    """Latest cutoff whose whole label window lies within data ending on ``last_date``."""
    return last_date - dt.timedelta(days=int(horizon_days))


def make_labels(
    con: duckdb.DuckDBPyConnection,
    population: pd.DataFrame,
    horizon_days: int,
    last_date: dt.date,
) -> pd.Series:
    """Label each (customer, cutoff) row of ``population``: 1 = churned, 0 = ordered again.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection with the canonical ``transactions`` view.
    population : pandas.DataFrame
        Rows with ``customer_id`` and ``as_of`` (for example a feature table).
    horizon_days : int
        Length of the label window in days.
    last_date : datetime.date
        Last date covered by the data; every label window must end on or before it.

    Returns
    -------
    pandas.Series
        ``churned`` as int8, aligned with ``population``'s index.

    Raises
    ------
    ConfigError
        If a cutoff's label window reaches past ``last_date`` (its label is not known yet).
    """
    if horizon_days <= 0:
        raise ConfigError(f"label.horizon_days must be positive, got {horizon_days}")
    latest = pd.Timestamp(last_labelled_cutoff(last_date, horizon_days))
    if len(population) and pd.to_datetime(population["as_of"]).max() > latest:
        raise ConfigError(
            f"cannot label cutoff {pd.to_datetime(population['as_of']).max():%Y-%m-%d}: its "
            f"{horizon_days}-day window ends after the data's last date {last_date}; "
            f"the latest fully labelled cutoff is {latest:%Y-%m-%d}"
        )
    keys = pd.DataFrame(
        {
            "row": range(len(population)),
            "customer_id": population["customer_id"].astype(str).to_numpy(),
            "as_of": pd.to_datetime(population["as_of"]).dt.date.to_numpy(),
        }
    )
    con.register("label_keys", keys)
    try:
        result = con.execute(
            f"""
            WITH order_starts AS (
              SELECT customer_id, order_id, MIN(ts) AS order_ts
              FROM transactions
              WHERE amount > 0
              GROUP BY customer_id, order_id
            )
            SELECT k.row, COUNT(o.customer_id) = 0 AS churned
            FROM label_keys AS k
            LEFT JOIN order_starts AS o
              ON o.customer_id = k.customer_id
             AND o.order_ts >= CAST(k.as_of AS TIMESTAMP) + INTERVAL 1 DAY
             AND o.order_ts < CAST(k.as_of AS TIMESTAMP) + INTERVAL {1 + int(horizon_days)} DAY
            GROUP BY k.row
            ORDER BY k.row
            """
        ).df()
    finally:
        con.unregister("label_keys")
    return pd.Series(
        result["churned"].astype("int8").to_numpy(), index=population.index, name="churned"
    )
