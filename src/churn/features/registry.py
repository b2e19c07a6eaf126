"""The feature registry: every feature's name, family, theme, unit, meaning and SQL.

This is the one place a feature is defined. :mod:`churn.features.query` assembles the SQL, the
docs (``docs/features.md``, ``python -m churn.features.registry``) and the themes of the
plain-language reasons (:mod:`churn.scoring.themes`) come from here. The words of the reasons
are not here: they are in the message catalogs (:mod:`churn.text`).

How a definition reads
----------------------
Each feature is one SQL expression evaluated at a *level*:

``lines``
    aggregate over the customer's rows up to the cutoff (``amount``, ``quantity``,
    ``discount``, ``age_days`` = days from the row's date to ``as_of``, ...);
``orders``
    aggregate over the customer's orders (``order_date``, ``order_value`` = purchased
    amount, ``order_items``, ``order_lines``, ``order_discounted`` 0/1, ``gap_days`` since
    the previous order, ``is_last`` 0/1, ``weekday`` 0=Sunday..6, ``hour``, ``age_days``);
``categories`` / ``channels``
    aggregate over the customer's categories (channels) in the last 365 days, each row with
    ``share`` of the customer's lines (orders) there;
``final``
    an expression of other features of the same family (by name), or of
    ``days_since_last_order``, which every table has;
``btyd``
    computed in Python by :mod:`churn.features.btyd` from a BG/NBD model fitted at each cutoff on
    every customer seen so far (``sql`` is empty).

Expressions use portable SQL (``CASE``, ``SUM``, ``COUNT``, ``AVG``, ``STDDEV_SAMP``,
``LN``, ``NULLIF``, ``ROUND``) so that one definition serves every engine.

Themes
------
Each feature belongs to one of :data:`THEMES`, the behaviour a marketer can act on:
``rhythm`` (recency against the usual gap, and the BG/NBD features, model outputs
attributed to the purchase rhythm behind them), ``frequency``, ``spending``, ``returns``,
``price`` (discounts), ``interest`` (category diversity), ``habits`` (channels, days and
hours) and ``lifecycle`` (tenure, account age).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_WINDOWS = (30, 90, 180, 365)
FAMILIES = (
    "recency",
    "frequency_monetary",
    "tenure",
    "gaps",
    "trends",
    "basket",
    "returns",
    "discounts",
    "diversity",
    "channels",
    "habits",
    "customer",
)
LEVELS = ("lines", "orders", "categories", "channels", "final", "btyd")
# Not in FAMILIES: switched by features.btyd.enabled, and it needs the label horizon.
BTYD_FAMILY = "btyd"
# What a customer's reasons are about: each feature's theme (see the module docstring).
THEMES = (
    "rhythm",
    "frequency",
    "spending",
    "returns",
    "price",
    "interest",
    "habits",
    "lifecycle",
)


@dataclass(frozen=True)
class Feature:
    """One feature.

    Attributes
    ----------
    name : str
        Column name, in domain words.
    family : str
        One of :data:`FAMILIES`; families are switched on and off together.
    level : str
        One of :data:`LEVELS` (see the module docstring).
    sql : str
        The definition: an SQL expression at ``level``.
    unit : str
        ``days``, ``orders``, ``money``, ``share`` (0..1), ``ratio``, ``count``, ``hour``,
        ``items``, ``returns``, ``nats`` or ``flag`` (1 = yes, 0 = no).
    description : str
        What it measures, for the docs.
    theme : str
        One of :data:`THEMES`: the customer behaviour the feature measures. A customer's
        reasons are their themes (:mod:`churn.scoring.themes`), never single features.
    requires : tuple of str
        Optional canonical columns (or ``customers``) the feature needs.
    """

    name: str
    family: str
    level: str
    sql: str
    unit: str
    description: str
    theme: str
    requires: tuple[str, ...] = ()


def _distinct_periods(width: int, days: int) -> str:
    """How many of the ``width``-day periods of the last ``days`` days have an order (the
    last period is shorter when ``width`` does not divide ``days``).

    A sum of one 0/1 per period rather than ``COUNT(DISTINCT period)``: the same count,
    without the distinct aggregate's extra pass over every order (5% of the feature
    query's time on a million customers), and each period's end a plain ``age_days``
    threshold that a night (:mod:`churn.features.incremental`) can follow."""
    ends = [*range(width, days, width), days]
    return _count_true(
        [f"age_days < {width}"]
        + [f"age_days >= {a} AND age_days < {b}" for a, b in zip(ends[:-1], ends[1:], strict=True)]
    )


def _distinct_values(column: str, values: Sequence[int], where: str) -> str:
    """How many of ``values`` (a small, fixed set) ``column`` takes where ``where`` holds:
    as :func:`_distinct_periods`, a sum of one 0/1 per value, not a distinct aggregate."""
    return _count_true([f"{where} AND {column} = {value}" for value in values])


def _count_true(conditions: Sequence[str]) -> str:
    """How many of ``conditions`` hold for at least one of the rows aggregated."""
    terms = [f"MAX(CASE WHEN {c} THEN 1 ELSE 0 END)" for c in conditions]
    return "(" + " + ".join(terms) + ")"


def _window_features(w: int) -> list[Feature]:
    return [
        Feature(
            f"orders_{w}d",
            "frequency_monetary",
            "orders",
            f"SUM(CASE WHEN age_days < {w} THEN 1 ELSE 0 END)",
            "orders",
            f"Orders in the last {w} days (including the cutoff day).",
            theme="frequency",
        ),
        Feature(
            f"spend_{w}d",
            "frequency_monetary",
            "lines",
            f"COALESCE(SUM(CASE WHEN age_days < {w} THEN amount END), 0)",
            "money",
            f"Net revenue in the last {w} days: purchases minus returns, by the row's date.",
            theme="spending",
        ),
    ]


_FIXED: tuple[Feature, ...] = (
    # recency
    Feature(
        "days_since_last_order",
        "recency",
        "orders",
        "MIN(age_days)",
        "days",
        "Calendar days from the last order's date to the cutoff (0 = ordered that day).",
        theme="rhythm",
    ),
    # frequency and monetary, lifetime
    Feature(
        "orders_total",
        "frequency_monetary",
        "orders",
        "COUNT(*)",
        "orders",
        "Orders since the first one.",
        theme="frequency",
    ),
    Feature(
        "spend_total",
        "frequency_monetary",
        "lines",
        "SUM(amount)",
        "money",
        "Net revenue since the first order.",
        theme="spending",
    ),
    Feature(
        "active_months_365d",
        "frequency_monetary",
        "orders",
        _distinct_periods(30, 365),
        "count",
        "Distinct 30-day periods of the last 365 days with at least one order.",
        theme="frequency",
    ),
    # tenure
    Feature(
        "tenure_days",
        "tenure",
        "orders",
        "MAX(age_days)",
        "days",
        "Calendar days from the first order's date to the cutoff.",
        theme="lifecycle",
    ),
    # inter-purchase gaps
    Feature(
        "mean_gap_days",
        "gaps",
        "orders",
        "AVG(gap_days)",
        "days",
        "Mean days between consecutive order dates (missing with one order).",
        theme="rhythm",
    ),
    Feature(
        "std_gap_days",
        "gaps",
        "orders",
        "STDDEV_SAMP(gap_days)",
        "days",
        "Standard deviation of the days between consecutive orders.",
        theme="rhythm",
    ),
    Feature(
        "last_gap_days",
        "gaps",
        "orders",
        "MAX(CASE WHEN is_last = 1 THEN gap_days END)",
        "days",
        "Days between the last two orders.",
        theme="rhythm",
    ),
    Feature(
        "max_gap_days",
        "gaps",
        "orders",
        "MAX(gap_days)",
        "days",
        "Longest gap between consecutive orders.",
        theme="rhythm",
    ),
    Feature(
        "overdue_ratio",
        "gaps",
        "final",
        "days_since_last_order / NULLIF(mean_gap_days, 0)",
        "ratio",
        "Days since the last order divided by the usual gap: how many gaps late.",
        theme="rhythm",
    ),
    # trends: last 90 days against the 90 before
    Feature(
        "orders_prev_90d",
        "trends",
        "orders",
        "SUM(CASE WHEN age_days >= 90 AND age_days < 180 THEN 1 ELSE 0 END)",
        "orders",
        "Orders in the 90 days before the last 90.",
        theme="frequency",
    ),
    Feature(
        "orders_change_90d",
        "trends",
        "orders",
        "SUM(CASE WHEN age_days < 90 THEN 1 WHEN age_days < 180 THEN -1 ELSE 0 END)",
        "orders",
        "Orders in the last 90 days minus orders in the 90 before.",
        theme="frequency",
    ),
    Feature(
        "spend_prev_90d",
        "trends",
        "lines",
        "COALESCE(SUM(CASE WHEN age_days >= 90 AND age_days < 180 THEN amount END), 0)",
        "money",
        "Net revenue in the 90 days before the last 90.",
        theme="spending",
    ),
    Feature(
        "spend_change_90d",
        "trends",
        "lines",
        "COALESCE(SUM(CASE WHEN age_days < 90 THEN amount "
        "WHEN age_days < 180 THEN -amount END), 0)",
        "money",
        "Net revenue in the last 90 days minus the 90 before.",
        theme="spending",
    ),
    Feature(
        "spend_ratio_90d",
        "trends",
        "lines",
        # The previous net revenue rounded to 6 decimals: where purchases and returns
        # cancel out, a float sum leaves a residue such as 1e-14 whose sign depends on the
        # engine's summation order, and dividing by it gave +-1e16 from run to run.
        "COALESCE(SUM(CASE WHEN age_days < 90 THEN amount END), 0) / "
        "NULLIF(ROUND(SUM(CASE WHEN age_days >= 90 AND age_days < 180 THEN amount END), 6), 0)",
        "ratio",
        "Net revenue in the last 90 days divided by the 90 before.",
        theme="spending",
    ),
    # basket
    Feature(
        "basket_value_mean_365d",
        "basket",
        "orders",
        "AVG(CASE WHEN age_days < 365 THEN order_value END)",
        "money",
        "Mean purchased value per order in the last 365 days.",
        theme="spending",
    ),
    Feature(
        "basket_value_std_365d",
        "basket",
        "orders",
        "STDDEV_SAMP(CASE WHEN age_days < 365 THEN order_value END)",
        "money",
        "Standard deviation of order value in the last 365 days.",
        theme="spending",
    ),
    Feature(
        "basket_value_max_365d",
        "basket",
        "orders",
        "MAX(CASE WHEN age_days < 365 THEN order_value END)",
        "money",
        "Largest order value in the last 365 days.",
        theme="spending",
    ),
    Feature(
        "last_basket_value",
        "basket",
        "orders",
        "MAX(CASE WHEN is_last = 1 THEN order_value END)",
        "money",
        "Purchased value of the last order.",
        theme="spending",
    ),
    Feature(
        "last_basket_vs_mean",
        "basket",
        "final",
        "last_basket_value / NULLIF(basket_value_mean_365d, 0)",
        "ratio",
        "Last order's value divided by the mean order value (365 days).",
        theme="spending",
    ),
    Feature(
        "basket_lines_mean_365d",
        "basket",
        "orders",
        "AVG(CASE WHEN age_days < 365 THEN order_lines END)",
        "count",
        "Mean number of lines per order in the last 365 days.",
        theme="spending",
    ),
    Feature(
        "basket_items_mean_365d",
        "basket",
        "orders",
        "AVG(CASE WHEN age_days < 365 THEN order_items END)",
        "items",
        "Mean quantity of items per order in the last 365 days.",
        theme="spending",
        requires=("quantity",),
    ),
    # returns
    Feature(
        "returns_count_365d",
        "returns",
        "lines",
        "SUM(CASE WHEN amount < 0 AND age_days < 365 THEN 1 ELSE 0 END)",
        "returns",
        "Return rows (negative amount) in the last 365 days.",
        theme="returns",
    ),
    Feature(
        "returns_share_365d",
        "returns",
        "lines",
        "COALESCE(SUM(CASE WHEN amount < 0 AND age_days < 365 THEN -amount END), 0) / "
        "NULLIF(SUM(CASE WHEN amount > 0 AND age_days < 365 THEN amount END), 0)",
        "share",
        "Returned amount divided by purchased amount, last 365 days.",
        theme="returns",
    ),
    Feature(
        "returns_90d",
        "returns",
        "lines",
        "SUM(CASE WHEN amount < 0 AND age_days < 90 THEN 1 ELSE 0 END)",
        "returns",
        "Return rows in the last 90 days.",
        theme="returns",
    ),
    Feature(
        "days_since_last_return",
        "returns",
        "lines",
        "MIN(CASE WHEN amount < 0 THEN age_days END)",
        "days",
        "Calendar days since the last return (missing if none).",
        theme="returns",
    ),
    # discounts
    Feature(
        "discount_order_share_365d",
        "discounts",
        "orders",
        "AVG(CASE WHEN age_days < 365 THEN order_discounted END)",
        "share",
        "Share of orders with a discount, last 365 days.",
        theme="price",
        requires=("discount",),
    ),
    Feature(
        "discounted_spend_share_365d",
        "discounts",
        "lines",
        "COALESCE(SUM(CASE WHEN discount > 0 AND amount > 0 AND age_days < 365 THEN amount END), 0)"
        " / NULLIF(SUM(CASE WHEN amount > 0 AND age_days < 365 THEN amount END), 0)",
        "share",
        "Share of purchased amount bought with a discount, last 365 days.",
        theme="price",
        requires=("discount",),
    ),
    Feature(
        "discount_amount_365d",
        "discounts",
        "lines",
        "COALESCE(SUM(CASE WHEN discount > 0 AND age_days < 365 THEN discount END), 0)",
        "money",
        "Total discount received in the last 365 days.",
        theme="price",
        requires=("discount",),
    ),
    Feature(
        "days_since_last_discount",
        "discounts",
        "orders",
        "MIN(CASE WHEN order_discounted = 1 THEN age_days END)",
        "days",
        "Days since the last discounted order (missing if none).",
        theme="price",
        requires=("discount",),
    ),
    Feature(
        "last_order_discounted",
        "discounts",
        "orders",
        "MAX(CASE WHEN is_last = 1 THEN order_discounted END)",
        "flag",
        "1 if the last order had a discount, else 0.",
        theme="price",
        requires=("discount",),
    ),
    # diversity
    Feature(
        "categories_distinct_365d",
        "diversity",
        "categories",
        "COUNT(*)",
        "count",
        "Distinct categories bought in the last 365 days.",
        theme="interest",
        requires=("category",),
    ),
    Feature(
        "category_entropy_365d",
        "diversity",
        "categories",
        "-SUM(share * LN(share))",
        "nats",
        "Entropy of the customer's lines across categories, last 365 days (0 = one category).",
        theme="interest",
        requires=("category",),
    ),
    Feature(
        "top_category_share_365d",
        "diversity",
        "categories",
        "MAX(share)",
        "share",
        "Share of the customer's lines in their top category, last 365 days.",
        theme="interest",
        requires=("category",),
    ),
    Feature(
        "products_distinct_365d",
        "diversity",
        "lines",
        "COUNT(DISTINCT CASE WHEN age_days < 365 AND amount > 0 THEN product_id END)",
        "count",
        "Distinct products bought in the last 365 days.",
        theme="interest",
        requires=("product_id",),
    ),
    # channels
    Feature(
        "channels_distinct_365d",
        "channels",
        "channels",
        "COUNT(*)",
        "count",
        "Distinct channels ordered through in the last 365 days.",
        theme="habits",
        requires=("channel",),
    ),
    Feature(
        "top_channel_share_365d",
        "channels",
        "channels",
        "MAX(share)",
        "share",
        "Share of orders in the customer's main channel, last 365 days.",
        theme="habits",
        requires=("channel",),
    ),
    # day-of-week and hour habits
    Feature(
        "weekend_order_share_365d",
        "habits",
        "orders",
        # Integers, not 1.0 / 0.0: Spark averages decimals at 5 digits.
        "AVG(CASE WHEN age_days < 365 THEN (CASE WHEN weekday IN (0, 6) THEN 1 ELSE 0 END) END)",
        "share",
        "Share of orders placed on Saturday or Sunday, last 365 days.",
        theme="habits",
    ),
    Feature(
        "order_hour_mean_365d",
        "habits",
        "orders",
        "AVG(CASE WHEN age_days < 365 THEN hour END)",
        "hour",
        "Mean hour of day of the orders, last 365 days.",
        theme="habits",
    ),
    Feature(
        "order_hour_std_365d",
        "habits",
        "orders",
        "STDDEV_SAMP(CASE WHEN age_days < 365 THEN hour END)",
        "hour",
        "Standard deviation of the order hour, last 365 days.",
        theme="habits",
    ),
    Feature(
        "weekdays_distinct_365d",
        "habits",
        "orders",
        _distinct_values("weekday", range(7), "age_days < 365"),
        "count",
        "Distinct days of the week with orders, last 365 days.",
        theme="habits",
    ),
    # customer attributes (customers table)
    Feature(
        "account_age_days",
        "customer",
        "final",
        "account_age_days",
        "days",
        "Days from sign-up to the cutoff (customers table; missing if unknown or later).",
        theme="lifecycle",
        requires=("customers",),
    ),
)


BTYD_FEATURES: tuple[Feature, ...] = (
    Feature(
        "bgnbd_p_no_order",
        BTYD_FAMILY,
        "btyd",
        "",
        "share",
        "BG/NBD probability of no order within the label horizon (model fitted at each "
        "cutoff on every customer's history up to it).",
        theme="rhythm",
    ),
    Feature(
        "bgnbd_expected_orders",
        BTYD_FAMILY,
        "btyd",
        "",
        "orders",
        "BG/NBD expected number of order days within the label horizon.",
        theme="rhythm",
    ),
)


def registry(windows: Sequence[int] = DEFAULT_WINDOWS) -> list[Feature]:
    """Every feature, in table order, for the given window lengths (days)."""
    by_family: dict[str, list[Feature]] = {f: [] for f in FAMILIES}
    for w in sorted(set(windows)):
        for feature in _window_features(w):
            by_family[feature.family].append(feature)
    for feature in _FIXED:
        by_family[feature.family].append(feature)
    return [f for family in FAMILIES for f in by_family[family]] + list(BTYD_FEATURES)


def select_features(
    windows: Sequence[int],
    families: Sequence[str],
    available: Sequence[str],
) -> list[Feature]:
    """The registry's features of the chosen ``families`` that the data can feed.

    ``available`` lists the optional canonical columns present (and ``customers`` when
    a customers table with ``signup_ts`` was ingested). ``days_since_last_order`` is
    always included: the population is defined by it.
    """
    unknown = set(families) - {*FAMILIES, BTYD_FAMILY}
    if unknown:
        raise ValueError(f"unknown feature families {sorted(unknown)}; known: {FAMILIES}")
    chosen = set(families) | {"recency"}
    return [
        f for f in registry(windows) if f.family in chosen and set(f.requires) <= set(available)
    ]


def markdown(windows: Sequence[int] = DEFAULT_WINDOWS) -> str:
    """The feature reference as a Markdown page (``docs/features.md``)."""
    lines = [
        "# Features",
        "",
        "Generated from `src/churn/features/registry.py` by "
        "`python -m churn.features.registry > docs/features.md`; do not edit by hand.",
        "Every feature is point in time: only rows up to the end of the `as_of` day count. "
        f"Windows: {', '.join(str(w) for w in sorted(windows))} days.",
        "",
    ]
    for family in (*FAMILIES, BTYD_FAMILY):
        features = [f for f in registry(windows) if f.family == family]
        lines += [
            f"## {family}",
            "",
            "| feature | theme | unit | meaning | needs |",
            "|---|---|---|---|---|",
        ]
        for f in features:
            needs = ", ".join(f"`{r}`" for r in f.requires)
            lines.append(f"| `{f.name}` | {f.theme} | {f.unit} | {f.description} | {needs} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Print the feature reference (Markdown)."""
    parser = argparse.ArgumentParser(
        prog="python -m churn.features.registry",
        description="Print the feature reference as Markdown.",
    )
    parser.parse_args(argv)
    print(markdown(), end="")


if __name__ == "__main__":
    main()
