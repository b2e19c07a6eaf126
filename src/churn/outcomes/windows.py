"""Each customer's outcome after a list's date, from the transactions (and the contact log).

For a list made at ``as_of`` with a horizon of ``H`` days, the label window is
``[as_of + 1 day, as_of + 1 day + H)``, as in :mod:`churn.modeling.labels`: an order is an
``order_id`` with a positive line, dated by its first positive line. A customer's contact
time is their first contact in the log within ``contact_window_days`` after the list's
date; customers without one (the control group, or every customer when there is no log)
take the campaign's start: its first contact in the log, or the day after ``as_of`` at
00:00. From the contact time to the end of the label window:

- ``churned``: no order in the label window (the list's prediction, whatever the contact);
- ``responded``: an order within ``response_days`` of the contact;
- ``converted``: an order at any time after the contact, by the end of the label window;
- ``revenue``: the net amount of every line (refunds included) in that period.

The windows all end with the label window, so every figure is known once the horizon has
passed, and never before.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

OUTCOME_COLUMNS = (
    "customer_id",
    "churned",
    "log_group",
    "contacted_at",
    "responded",
    "converted",
    "revenue",
)


def label_window_end(as_of: dt.date, horizon_days: int) -> dt.date:
    """The first day after a list's label window: ``as_of + 1 + horizon_days``."""
    return as_of + dt.timedelta(days=1 + int(horizon_days))


def customer_outcomes(
    con: duckdb.DuckDBPyConnection,
    customer_ids: pd.Series,
    as_of: dt.date,
    horizon_days: int,
    response_days: int,
    contact_window_days: int,
    contacts: bool,
) -> pd.DataFrame:
    """The outcome of each customer of a list (see the module docstring).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Holds the canonical ``transactions`` and, when ``contacts``, the ``contacts``
        table (:func:`churn.data.ingest.ingest_contacts`).
    customer_ids : Series of str
        The list's customers (every customer scored).
    as_of : datetime.date
        The list's date.
    horizon_days, response_days, contact_window_days : int
        The label horizon, the response window and how many days after ``as_of`` a
        contact in the log still belongs to this list.
    contacts : bool
        Whether ``con`` holds a contact log.

    Returns
    -------
    pandas.DataFrame
        :data:`OUTCOME_COLUMNS`, in the order of ``customer_ids``: ``churned``,
        ``responded`` and ``converted`` as 0/1, ``log_group`` ``contact``, ``control`` or
        missing (no contact in the log), ``contacted_at`` the contact time used,
        ``revenue`` in the shop's currency.
    """
    keys = pd.DataFrame(
        {"row": range(len(customer_ids)), "customer_id": customer_ids.astype(str).to_numpy()}
    )
    start = f"(DATE '{as_of.isoformat()}' + INTERVAL 1 DAY)"
    end = f"CAST(DATE '{label_window_end(as_of, horizon_days).isoformat()}' AS TIMESTAMP)"
    window_end = f"({start} + INTERVAL {int(contact_window_days)} DAY)"
    logged = (
        f"""
        SELECT customer_id,
               CASE WHEN bool_or(contact_group = 'contact') THEN 'contact' ELSE 'control' END
                 AS log_group,
               COALESCE(MIN(contacted_at) FILTER (WHERE contact_group = 'contact'),
                        MIN(contacted_at)) AS contacted_at
        FROM contacts
        WHERE contacted_at >= {start} AND contacted_at < {window_end}
        GROUP BY customer_id
        """
        if contacts
        else "SELECT CAST(NULL AS VARCHAR) AS customer_id, CAST(NULL AS VARCHAR) AS log_group, "
        "CAST(NULL AS TIMESTAMP) AS contacted_at WHERE false"
    )
    con.register("outcome_keys", keys)
    try:
        frame = con.execute(
            f"""
            WITH logged AS ({logged}),
            listed_log AS (
              SELECT l.* FROM logged AS l JOIN outcome_keys AS k USING (customer_id)
            ),
            campaign AS (
              SELECT COALESCE(MIN(contacted_at) FILTER (WHERE log_group = 'contact'),
                              CAST({start} AS TIMESTAMP)) AS start_ts
              FROM listed_log
            ),
            who AS (
              SELECT k.row, k.customer_id, l.log_group,
                     COALESCE(l.contacted_at, c.start_ts) AS contacted_at
              FROM outcome_keys AS k
              LEFT JOIN listed_log AS l USING (customer_id)
              CROSS JOIN campaign AS c
            ),
            order_starts AS (
              SELECT t.customer_id, t.order_id, MIN(t.ts) AS order_ts
              FROM transactions AS t SEMI JOIN outcome_keys AS k USING (customer_id)
              WHERE t.amount > 0
              GROUP BY t.customer_id, t.order_id
            ),
            orders AS (
              SELECT w.row,
                     COUNT(*) FILTER (WHERE o.order_ts >= {start} AND o.order_ts < {end})
                       AS in_window,
                     COUNT(*) FILTER (WHERE o.order_ts >= w.contacted_at
                       AND o.order_ts < LEAST(w.contacted_at + INTERVAL {int(response_days)} DAY,
                                              {end})) AS responses,
                     COUNT(*) FILTER (WHERE o.order_ts >= w.contacted_at AND o.order_ts < {end})
                       AS conversions
              FROM who AS w JOIN order_starts AS o USING (customer_id)
              GROUP BY w.row
            ),
            spend AS (
              SELECT w.row, SUM(t.amount) AS revenue
              FROM who AS w JOIN transactions AS t USING (customer_id)
              WHERE t.ts >= w.contacted_at AND t.ts < {end}
              GROUP BY w.row
            )
            SELECT w.customer_id,
                   CAST(COALESCE(o.in_window, 0) = 0 AS TINYINT) AS churned,
                   w.log_group,
                   w.contacted_at,
                   CAST(COALESCE(o.responses, 0) > 0 AS TINYINT) AS responded,
                   CAST(COALESCE(o.conversions, 0) > 0 AS TINYINT) AS converted,
                   COALESCE(s.revenue, 0.0) AS revenue
            FROM who AS w
            LEFT JOIN orders AS o USING (row)
            LEFT JOIN spend AS s USING (row)
            ORDER BY w.row
            """
        ).df()
    finally:
        con.unregister("outcome_keys")
    return frame[list(OUTCOME_COLUMNS)]
