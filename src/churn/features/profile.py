"""Per-customer personalisation fields for the at-risk list, point in time.

Marketers import the at-risk list into e-mail tools, where these fields become merge tags
("your favourite category", "we have not seen you for 40 days"). They are descriptions of
a customer's own history, not model inputs, and follow the rules of every feature
(:mod:`churn.features.query`): a cutoff ``as_of`` means *through the end of that day*,
only rows with ``ts < as_of + 1 day`` count, and "the last 365 days" are the dates
``(as_of - 365, as_of]``. An **order** is what :func:`churn.features.query.order_ctes`
defines (an ``order_id`` with a line of positive amount, dated by its first such line);
a **purchase line** is a row of positive amount.

The query is written once, in DuckDB's SQL over the ``transactions`` (and ``customers``)
tables, and runs through :class:`churn.engines.base.Engine`, so DuckDB and Spark give the
same frame.

Timestamps are the canonical ``ts``: UTC, as ingest stores them (``data.timezone`` is
converted away), so ``preferred_weekday`` and ``preferred_hour`` are UTC weekdays and hours.
An order at exactly 00:00:00 is taken to have no time of day (an export of dates only, or
a system that records some orders by date): it does not vote for ``preferred_hour``, which
is null when none of the customer's orders of the last 365 days has a time. (The feature
``order_hour_mean_365d`` counts such orders as hour 0.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pandas as pd

from churn.data.contract import quote
from churn.engines import as_engine
from churn.features.query import counts_cte, order_ctes
from churn.features.registry import registry

# Column -> what it holds, in the words of the marketer who uses it as a merge tag.
PROFILE_COLUMNS: dict[str, str] = {
    "first_name": "First name, from the customers table (empty without one).",
    "email": "E-mail address, from the customers table (empty without one).",
    "favourite_category": (
        "The category the customer bought most often in the last 12 months "
        "(empty when the shop records no categories)."
    ),
    "last_category": "Category of the last item bought (empty when the shop records none).",
    "last_product": "Product code of the last item bought (empty when the shop records none).",
    "days_since_last_purchase": "Days since the last purchase (0 = bought on the list's date).",
    "usual_gap_days": ("Usual number of days between two orders (empty after a single order)."),
    "expected_next_order": (
        "Date the next order was due at the usual pace, YYYY-MM-DD (in the past: overdue)."
    ),
    "preferred_weekday": (
        "Day of the week with most orders in the last 12 months, 1 = Monday to 7 = Sunday (UTC)."
    ),
    "preferred_hour": (
        "Hour of the day (0-23, UTC) with most orders in the last 12 months "
        "(empty when the shop records dates without times)."
    ),
    "preferred_channel": (
        "Channel with most orders in the last 12 months (empty when the shop records none)."
    ),
}
TEXT_COLUMNS = (
    "first_name",
    "email",
    "favourite_category",
    "last_category",
    "last_product",
    "expected_next_order",
    "preferred_channel",
)
NUMBER_COLUMNS = (
    "days_since_last_purchase",
    "usual_gap_days",
    "preferred_weekday",
    "preferred_hour",
)
# Optional inputs the profile reads: transactions columns, then customers columns.
TRANSACTION_INPUTS = ("category", "product_id", "channel")
CUSTOMER_INPUTS = ("first_name", "email")
# Purchased amounts are compared at this many decimals: float sums differ in the last bits
# with the order of summation, which must not decide a tie.
AMOUNT_DECIMALS = 6
# The engine table holding the customers a profile is asked for.
PROFILE_CUSTOMERS = "profile_customers"


def _registry_sql(name: str) -> str:
    return next(f.sql for f in registry() if f.name == name)


def _first(source: str, value: str, order: str) -> str:
    """Per customer, the ``value`` of the first row of ``source`` in ``order``."""
    return (
        f"SELECT customer_id, {value} FROM (\n"
        f"    SELECT *, ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY {order}) AS pick\n"
        f"    FROM {source}\n"
        "  ) AS ranked WHERE pick = 1"
    )


def profile_sql(as_of: dt.date, available: Sequence[str], customers: str | None = None) -> str:
    """The query of :func:`customer_profile`, in DuckDB's SQL (Spark transpiles it).

    Parameters
    ----------
    as_of : datetime.date
        The cutoff (through the end of that day).
    available : sequence of str
        Optional inputs present: any of :data:`TRANSACTION_INPUTS` (columns of
        ``transactions``) and of :data:`CUSTOMER_INPUTS` (columns of ``customers``).
    customers : str, optional
        A table (or an aliased subquery) with a ``customer_id`` column: the profiles of
        those customers only.

    Returns
    -------
    str
        One row per customer with an order up to ``as_of``: ``customer_id``,
        ``last_order_date`` and the columns of :data:`PROFILE_COLUMNS` but
        ``expected_next_order``, which :func:`customer_profile` computes.
    """
    dates = f"(SELECT CAST({quote(as_of.isoformat())} AS DATE) AS as_of) AS d"
    ctes = order_ctes(available, dates, customers)

    def column(name: str, alias: str) -> str:
        return f"{name} AS {alias}" if name in available else f"CAST(NULL AS VARCHAR) AS {alias}"

    # The last purchase line: latest time, then largest amount, then smallest names.
    tie_break = "".join(
        f", {c} ASC NULLS LAST" for c in ("product_id", "category") if c in available
    )
    ctes.append(
        "last_line AS (\n  "
        + _first(
            "lines WHERE amount > 0",
            f"{column('category', 'last_category')}, {column('product_id', 'last_product')}, "
            "age_days AS days_since_last_purchase",
            f"ts DESC, amount DESC{tie_break}",
        )
        + "\n)"
    )
    ctes.append(
        f"""rhythm AS (
  SELECT customer_id, MAX(order_date) AS last_order_date,
    ROUND({_registry_sql("mean_gap_days")}) AS usual_gap_days
  FROM order_seq
  GROUP BY customer_id
)"""
    )
    # ISO weekday from the 0 = Sunday of order_seq.
    ctes.append(
        """weekdays AS (
  SELECT customer_id, (weekday + 6) % 7 + 1 AS preferred_weekday, COUNT(*) AS n
  FROM order_seq
  WHERE age_days < 365
  GROUP BY customer_id, weekday
)"""
    )
    ctes.append(
        """hours AS (
  SELECT customer_id, hour AS preferred_hour, COUNT(*) AS n
  FROM order_seq
  WHERE age_days < 365 AND order_ts <> CAST(order_date AS TIMESTAMP)
  GROUP BY customer_id, hour
)"""
    )
    ctes.append(
        "top_weekday AS (\n  "
        + _first("weekdays", "preferred_weekday", "n DESC, preferred_weekday ASC")
        + "\n)"
    )
    ctes.append(
        "top_hour AS (\n  "
        + _first("hours", "preferred_hour", "n DESC, preferred_hour ASC")
        + "\n)"
    )
    joins = [
        "FROM rhythm AS r",
        "JOIN last_line USING (customer_id)",
        "LEFT JOIN top_weekday USING (customer_id)",
        "LEFT JOIN top_hour USING (customer_id)",
    ]
    outputs = [
        "r.customer_id",
        "r.last_order_date",
        "last_category",
        "last_product",
        "days_since_last_purchase",
        "usual_gap_days",
        "preferred_weekday",
        "preferred_hour",
    ]
    if "category" in available:
        ctes.append(counts_cte("categories"))
        ctes.append(
            "top_category AS (\n  "
            + _first(
                "categories_counts",
                "category AS favourite_category",
                f"n DESC, ROUND(purchased, {AMOUNT_DECIMALS}) DESC, category ASC",
            )
            + "\n)"
        )
        joins.append("LEFT JOIN top_category USING (customer_id)")
        outputs.append("favourite_category")
    else:
        outputs.append("CAST(NULL AS VARCHAR) AS favourite_category")
    if "channel" in available:
        ctes.append(counts_cte("channels"))
        ctes.append(
            "top_channel AS (\n  "
            + _first("channels_counts", "channel AS preferred_channel", "n DESC, channel ASC")
            + "\n)"
        )
        joins.append("LEFT JOIN top_channel USING (customer_id)")
        outputs.append("preferred_channel")
    else:
        outputs.append("CAST(NULL AS VARCHAR) AS preferred_channel")
    named = [c for c in CUSTOMER_INPUTS if c in available]
    if named:
        joins.append("LEFT JOIN customers AS cu ON cu.customer_id = r.customer_id")
    outputs += [
        f"cu.{c}" if c in named else f"CAST(NULL AS VARCHAR) AS {c}" for c in CUSTOMER_INPUTS
    ]
    return (
        "WITH "
        + ",\n".join(ctes)
        + "\nSELECT "
        + ",\n  ".join(outputs)
        + "\n"
        + "\n".join(joins)
        + "\nORDER BY r.customer_id"
    )


def customer_profile(
    engine: Any,
    as_of: dt.date,
    customers_table: bool = True,
    customer_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The personalisation fields of every customer with an order up to ``as_of``.

    Parameters
    ----------
    engine : Engine or duckdb.DuckDBPyConnection or SparkSession
        Holds the ingested ``transactions`` table (and ``customers``, when ingested);
        anything :func:`churn.engines.as_engine` accepts. The optional columns read
        (``category``, ``product_id``, ``channel``; ``first_name``, ``email``) are those
        the tables have: a field whose column is absent is null.
    as_of : datetime.date
        The cutoff: rows after the end of that day never count.
    customers_table : bool
        Read ``first_name`` and ``email`` from the ``customers`` table when there is one
        (``False``: leave them null, for a list that must not carry them).
    customer_ids : sequence of str, optional
        The customers wanted (an at-risk list); ``None``: every customer. Each profile
        is the same either way: only the work on the others is saved.

    Returns
    -------
    pandas.DataFrame
        One row per customer: ``customer_id`` then the columns of
        :data:`PROFILE_COLUMNS`, sorted by ``customer_id``. Text columns (names, dates as
        ISO strings) are ``str`` with missing values as ``NaN``; day counts, weekday and
        hour are nullable integers (``Int64``). A customer whose only rows are returns, or
        who first ordered after ``as_of``, is absent.
    """
    engine = as_engine(engine)
    if isinstance(as_of, dt.datetime):
        as_of = as_of.date()
    present = set(engine.columns("transactions") or [])
    available = [c for c in TRANSACTION_INPUTS if c in present]
    customer_columns = set(engine.columns("customers") or []) if customers_table else set()
    available += [c for c in CUSTOMER_INPUTS if c in customer_columns]
    if customer_ids is None:
        return _finish(engine.frame(profile_sql(as_of, available)))
    wanted = pd.DataFrame({"customer_id": pd.Series(list(customer_ids), dtype=object).astype(str)})
    if wanted.empty:
        # An empty list: no frame to hand the engine (Spark cannot infer an empty one's
        # types), and nobody to look for.
        nobody = "(SELECT CAST(NULL AS VARCHAR) AS customer_id WHERE 1 = 0) AS nobody"
        return _finish(engine.frame(profile_sql(as_of, available, nobody)))
    engine.read_frame(wanted, PROFILE_CUSTOMERS)
    try:
        return _finish(engine.frame(profile_sql(as_of, available, PROFILE_CUSTOMERS)))
    finally:
        engine.drop(PROFILE_CUSTOMERS)


def _finish(table: pd.DataFrame) -> pd.DataFrame:
    """The query's rows as :func:`customer_profile` returns them, on any engine."""
    out = pd.DataFrame({"customer_id": table["customer_id"].astype(str)})
    for name in NUMBER_COLUMNS:
        out[name] = pd.to_numeric(table[name]).round().astype("Int64")
    last_order = pd.to_datetime(table["last_order_date"])
    due = last_order + pd.to_timedelta(out["usual_gap_days"].astype("float64"), unit="D")
    expected = due.dt.strftime("%Y-%m-%d")
    for name in TEXT_COLUMNS:
        values = expected if name == "expected_next_order" else table[name]
        out[name] = pd.Series(
            [None if pd.isna(v) else str(v) for v in values], index=out.index, dtype="str"
        )
    out = out.sort_values("customer_id", kind="stable").reset_index(drop=True)
    return out[["customer_id", *PROFILE_COLUMNS]]
