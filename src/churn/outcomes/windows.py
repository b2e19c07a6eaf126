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

:func:`campaign_outcomes` reads the same responses and conversions per campaign of the
contact log (or of the stored lists, each taken as contacted the day after its date), with
a conversion window of its own length after each contact rather than a list's label
window. Both build their query from the same pieces (the first contact of a customer, the
orders, the response and conversion counts), so the definitions cannot drift apart.
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


CAMPAIGN_COLUMNS = (
    "campaign",
    "customer_id",
    "contact_group",
    "contacted_at",
    "responded",
    "converted",
)


def label_window_end(as_of: dt.date, horizon_days: int) -> dt.date:
    """The first day after a list's label window: ``as_of + 1 + horizon_days``."""
    return as_of + dt.timedelta(days=1 + int(horizon_days))


def assumed_contact_time(as_of: dt.date) -> dt.datetime:
    """When a list made at ``as_of`` is taken as contacted without a contact log: the day
    after, at 00:00 (the start of its label window)."""
    return dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())


def _first_contacts(source: str, by: str, where: str = "true") -> str:
    """One row per ``by`` of the contact rows of ``source`` that pass ``where``:
    ``log_group`` ``contact`` when any row is a contact (else ``control``), and
    ``contacted_at`` the first contact's time (else the first control row's)."""
    return f"""
        SELECT {by},
               CASE WHEN bool_or(contact_group = 'contact') THEN 'contact' ELSE 'control' END
                 AS log_group,
               COALESCE(MIN(contacted_at) FILTER (WHERE contact_group = 'contact'),
                        MIN(contacted_at)) AS contacted_at
        FROM {source}
        WHERE {where}
        GROUP BY {by}"""


def _order_starts(keys: str) -> str:
    """The orders of the customers of the relation ``keys``: an ``order_id`` with a
    positive line, dated by its first positive line (as the churn label dates it)."""
    return f"""
        SELECT t.customer_id, t.order_id, MIN(t.ts) AS order_ts
        FROM transactions AS t SEMI JOIN {keys} AS k USING (customer_id)
        WHERE t.amount > 0
        GROUP BY t.customer_id, t.order_id"""


def _after_contact(response_days: int, end: str) -> str:
    """``responses`` and ``conversions``: aggregates over the orders ``o`` of a contact
    ``w`` (its ``contacted_at``), the windows ending at the SQL timestamp ``end``."""
    return f"""
        COUNT(*) FILTER (WHERE o.order_ts >= w.contacted_at
          AND o.order_ts < LEAST(w.contacted_at + INTERVAL {int(response_days)} DAY, {end}))
          AS responses,
        COUNT(*) FILTER (WHERE o.order_ts >= w.contacted_at AND o.order_ts < {end})
          AS conversions"""


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
    start = f"TIMESTAMP '{assumed_contact_time(as_of).isoformat(sep=' ')}'"
    end = f"CAST(DATE '{label_window_end(as_of, horizon_days).isoformat()}' AS TIMESTAMP)"
    window_end = f"({start} + INTERVAL {int(contact_window_days)} DAY)"
    logged = (
        _first_contacts(
            "contacts",
            "customer_id",
            f"contacted_at >= {start} AND contacted_at < {window_end}",
        )
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
                              {start}) AS start_ts
              FROM listed_log
            ),
            who AS (
              SELECT k.row, k.customer_id, l.log_group,
                     COALESCE(l.contacted_at, c.start_ts) AS contacted_at
              FROM outcome_keys AS k
              LEFT JOIN listed_log AS l USING (customer_id)
              CROSS JOIN campaign AS c
            ),
            order_starts AS ({_order_starts("outcome_keys")}),
            orders AS (
              SELECT w.row,
                     COUNT(*) FILTER (WHERE o.order_ts >= {start} AND o.order_ts < {end})
                       AS in_window,
                     {_after_contact(response_days, end)}
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


def campaign_outcomes(
    con: duckdb.DuckDBPyConnection,
    conversion_days: int,
    response_days: int,
    contacts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Each campaign's customers and whether they responded and converted after their
    contact.

    A customer counts once per campaign, at their first contact in it (their first control
    row when the campaign only held them out), as :func:`customer_outcomes` reads a list's
    contacts. From that time, with orders dated as for the churn label:

    - ``responded``: an order within ``response_days``;
    - ``converted``: an order within ``conversion_days``.

    Orders after the data's end are not known yet: whether a window had passed is for the
    caller to tell from ``contacted_at`` and the data's last date.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Holds the canonical ``transactions`` and, when ``contacts`` is not given, the
        ``contacts`` table (:func:`churn.data.ingest.ingest_contacts`).
    conversion_days, response_days : int
        The two windows after the contact, in days.
    contacts : DataFrame, optional
        Contact rows to read instead of the ``contacts`` table, with its columns
        ``customer_id`` (str), ``contacted_at`` (timestamp), ``campaign`` (str) and
        ``contact_group`` (``contact`` or ``control``).

    Returns
    -------
    pandas.DataFrame
        :data:`CAMPAIGN_COLUMNS`, by campaign and customer: ``contact_group`` ``contact``
        or ``control``, ``contacted_at`` the contact time used, ``responded`` and
        ``converted`` as 0/1.
    """
    source = "contacts"
    if contacts is not None:
        source = "campaign_contacts"
        frame = contacts[["customer_id", "contacted_at", "campaign", "contact_group"]].astype(
            {"customer_id": str, "campaign": str, "contact_group": str}
        )
        frame["contacted_at"] = pd.to_datetime(frame["contacted_at"])
        con.register(source, frame)
    end = f"(w.contacted_at + INTERVAL {int(conversion_days)} DAY)"
    try:
        table = con.execute(
            f"""
            WITH who AS (
              SELECT ROW_NUMBER() OVER (ORDER BY campaign, customer_id) AS row, *
              FROM ({_first_contacts(source, "campaign, customer_id")})
            ),
            order_starts AS ({_order_starts("who")}),
            orders AS (
              SELECT w.row, {_after_contact(response_days, end)}
              FROM who AS w JOIN order_starts AS o USING (customer_id)
              GROUP BY w.row
            )
            SELECT w.campaign, w.customer_id, w.log_group AS contact_group, w.contacted_at,
                   CAST(COALESCE(o.responses, 0) > 0 AS TINYINT) AS responded,
                   CAST(COALESCE(o.conversions, 0) > 0 AS TINYINT) AS converted
            FROM who AS w LEFT JOIN orders AS o USING (row)
            ORDER BY w.row
            """
        ).df()
    finally:
        if contacts is not None:
            con.unregister(source)
    return table[list(CAMPAIGN_COLUMNS)]
