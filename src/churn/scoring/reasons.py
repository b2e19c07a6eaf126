"""What a reason says: one sentence per theme, written from the customer's own facts.

A theme (:data:`churn.features.registry.THEMES`) is *citable* for a customer when their
facts give something true to say about it: ``returns`` only if they returned something,
``price`` only if they bought with a discount in the last year, ``lifecycle`` only in their
first year, ``interest`` only with category data, and no theme whose facts are all missing.
:func:`reason_variant` picks the sentence by the facts (``None``: not citable) and
:class:`ReasonWriter` writes it from the lists catalog (``reason.<theme>.<variant>``). No
sentence quotes a model output (a probability, an expected number of orders), a ratio of
zero, or a negative amount as spent.

The number formatting helpers at the end (:func:`format_number`, :func:`format_money`,
:data:`LOCALES`, :func:`check_locale`) are the pages' until they move to
:mod:`churn.text.formatting`; reasons use Babel through :class:`~churn.text.Formatter`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from churn.text.formatting import Formatter
from churn.text.messages import Messages, messages

# No order for this many usual gaps or more is "overdue" (the sentence gives the ratio).
OVERDUE_RATIO = 1.5
# A customer whose usual gap is this long or longer and who is not yet due "orders rarely".
RARE_GAP_DAYS = 90
# A last basket below this share of the usual one is worth saying.
SMALL_BASKET = 0.8
# Spending "fell" when the last 90 days are below this share of the 90 before: "£215
# against £219" is no fall a marketer should act on.
SMALL_DROP = 0.8
# A channel habit is told only of a customer with at least this many orders.
HABIT_MIN_ORDERS = 3
# "Early in the relationship" is told only in the first half-year.
NEW_RELATIONSHIP_DAYS = 180
# A customer is in their first year below this tenure: lifecycle is citable, and their
# frequency is told since their first order rather than over "the last 12 months".
FIRST_YEAR_DAYS = 365

# The facts the sentences read, all feature columns (any may be absent).
FACT_COLUMNS = (
    "days_since_last_order",
    "orders_total",
    "mean_gap_days",
    "tenure_days",
    "orders_90d",
    "orders_prev_90d",
    "orders_365d",
    "active_months_365d",
    "spend_90d",
    "spend_prev_90d",
    "spend_365d",
    "last_basket_value",
    "basket_value_mean_365d",
    "returns_count_365d",
    "days_since_last_return",
    "discount_order_share_365d",
    "days_since_last_discount",
    "last_order_discounted",
    "categories_distinct_365d",
    "top_category_share_365d",
    "channels_distinct_365d",
    "top_channel_share_365d",
    "order_hour_mean_365d",
    "weekend_order_share_365d",
)

Facts = Mapping[str, float | None]
# A value for a placeholder, with how to write it: days, orders, returns (counted units),
# money, share (a percentage), ratio (a short number), count (a whole number), hour.
Value = tuple[str, float]
Variant = tuple[str, dict[str, Value]]


def fact(facts: Facts, name: str) -> float | None:
    """The customer's value of ``name``; ``None`` when missing or absent."""
    value = facts.get(name)
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _one_order(f: Facts) -> Variant | None:
    """The same sentence whichever theme tells it, so that it is said once."""
    days = fact(f, "days_since_last_order")
    if days is None:
        return None
    return "reason.one_order", {"days": ("days", days)}


def _rhythm(f: Facts) -> Variant | None:
    days = fact(f, "days_since_last_order")
    if days is None:
        return None
    orders, gap = fact(f, "orders_total"), fact(f, "mean_gap_days")
    if orders is not None and orders <= 1:
        return _one_order(f)
    if gap is None and orders is not None:  # several orders, all on one day
        return "reason.rhythm.one_day", {"n": ("count", orders), "days": ("days", days)}
    if gap is None or gap <= 0:
        return "reason.rhythm.since", {"days": ("days", days)}
    # The gap as the sentence shows it (whole days, halves up, as usual_gap_days in the
    # list), and the ratio of the numbers shown: "22 days, 22 times their gap of 1 day".
    shown = max(math.floor(gap + 0.5), 1)
    values = {"days": ("days", days), "gap": ("days", shown)}
    ratio = days / shown
    if ratio >= OVERDUE_RATIO:
        return "reason.rhythm.overdue", {**values, "ratio": ("ratio", ratio)}
    if ratio < 1:
        # Not yet due: the risk is how rarely they buy, when they do; otherwise nothing
        # about their rhythm is broken ("No order for 0 days, usually every 62" is not).
        return ("reason.rhythm.rare", values) if gap >= RARE_GAP_DAYS else None
    return "reason.rhythm.usual", values


def _first_year(f: Facts) -> bool:
    tenure = fact(f, "tenure_days")
    return tenure is not None and tenure < FIRST_YEAR_DAYS


def _frequency(f: Facts) -> Variant | None:
    orders = fact(f, "orders_total")
    if orders is not None and orders <= 1:
        return _one_order(f)
    if _first_year(f) and orders is not None:
        tenure = fact(f, "tenure_days") or 0.0
        return "reason.frequency.new", {"orders": ("orders", orders), "days": ("days", tenure)}
    now, before = fact(f, "orders_90d"), fact(f, "orders_prev_90d")
    # With no order in the last 90 days, "0 orders against 2" only restates the recency
    # that rhythm tells: say how many months of the year they ordered in instead.
    if now is not None and before is not None and 0 < now < before:
        return "reason.frequency.fell", {"now": ("orders", now), "before": ("count", before)}
    if _first_year(f):
        return None  # never "of the last 12 months" before a year of history
    months = fact(f, "active_months_365d")
    if months is not None:
        # 30-day periods: 365 days hold 13 of them; never "13 of the last 12 months".
        return "reason.frequency.months", {"n": ("count", min(months, 12))}
    year = fact(f, "orders_365d")
    if year is not None:
        return "reason.frequency.year", {"orders": ("orders", year)}
    return None


def _cents(value: float | None) -> float | None:
    """Money rounded to cents: a sum of purchases and refunds that cancel out leaves a
    residue such as 1e-14, which is nothing, not a refund."""
    return None if value is None else round(value, 2)


def _spending(f: Facts) -> Variant | None:
    now, before = _cents(fact(f, "spend_90d")), _cents(fact(f, "spend_prev_90d"))
    year = _cents(fact(f, "spend_365d"))
    if now is not None and now < 0:
        return "reason.spending.refunds", {"amount": ("money", -now)}
    if year is not None and year < 0:
        return "reason.spending.refunds_year", {"amount": ("money", -year)}
    ordered = fact(f, "orders_90d")
    if now is not None and before is not None and before > 0 and now < SMALL_DROP * before:
        if now > 0:
            return "reason.spending.fell", {"now": ("money", now), "before": ("money", before)}
        # Nothing spent without an order in 90 days only restates the recency rhythm tells;
        # with orders, their refunds cancelled them out.
        if ordered is not None and ordered > 0:
            return "reason.spending.cancelled", {"before": ("money", before)}
    last, usual = fact(f, "last_basket_value"), fact(f, "basket_value_mean_365d")
    if last is not None and usual is not None and usual > 0 and 0 < last < SMALL_BASKET * usual:
        return "reason.spending.basket", {"last": ("money", last), "usual": ("money", usual)}
    if year == 0:
        return "reason.spending.nothing_year", {}
    # Their spend alone ("Spent £21,536 in the last 12 months") says nothing changed: not a
    # reason a marketer can act on, so the theme is not cited.
    return None


def _returns(f: Facts) -> Variant | None:
    count, days = fact(f, "returns_count_365d"), fact(f, "days_since_last_return")
    if count is not None and count >= 2:
        if days is not None:
            return "reason.returns.several", {"returns": ("returns", count), "days": ("days", days)}
        return "reason.returns.count", {"returns": ("returns", count)}
    if days is not None:
        return "reason.returns.recent", {"days": ("days", days)}
    if count is not None and count > 0:
        return "reason.returns.count", {"returns": ("returns", count)}
    return None


def _price(f: Facts) -> Variant | None:
    # Price sensitivity is told only of a customer who bought with a discount in the last
    # year: the same fact that lets their action carry a discount (a discount two years
    # ago says little, and the list would advise a discount it then withholds).
    share, days = fact(f, "discount_order_share_365d"), fact(f, "days_since_last_discount")
    last = fact(f, "last_order_discounted")
    if share is None or share <= 0:
        return None
    since_order = fact(f, "days_since_last_order")
    # Stopped: the last order was at full price, and the last discount came before it.
    stopped = since_order is None or (days is not None and days > since_order)
    if last is not None and last < 0.5 and days is not None and stopped:
        return "reason.price.stopped", {"share": ("share", share), "days": ("days", days)}
    return "reason.price.share", {"share": ("share", share)}


def _interest(f: Facts) -> Variant | None:
    categories = fact(f, "categories_distinct_365d")
    if categories is None or categories <= 0:
        return None
    if categories == 1:
        return "reason.interest.one", {}
    share = fact(f, "top_category_share_365d")
    if share is None:
        return None
    return "reason.interest.narrow", {"n": ("count", categories), "share": ("share", share)}


def _habits(f: Facts) -> Variant | None:
    # Only where a habit shows over a few orders, and only the channel: a mean hour of
    # the day names an hour nobody ordered at (23:00 and 01:00 make 12:00), and a shop
    # closed at weekends makes "0% of orders at weekends" everyone's fact.
    orders = fact(f, "orders_total")
    if orders is None or orders < HABIT_MIN_ORDERS:
        return None
    channels = fact(f, "channels_distinct_365d")
    if channels is not None and channels == 1:
        return "reason.habits.one_channel", {}
    channel_share = fact(f, "top_channel_share_365d")
    if channels is not None and channels > 1 and channel_share is not None:
        return "reason.habits.channel", {"share": ("share", channel_share)}
    return None


def _lifecycle(f: Facts) -> Variant | None:
    tenure = fact(f, "tenure_days")
    if tenure is None or tenure >= NEW_RELATIONSHIP_DAYS:
        return None  # never "customer for 1,068 days", nor "only 349 days ago"
    orders = fact(f, "orders_total")
    if orders is not None and orders <= 1:
        return _one_order(f)
    return "reason.lifecycle.new", {"days": ("days", fact(f, "tenure_days") or 0.0)}


_VARIANTS: dict[str, Callable[[Facts], Variant | None]] = {
    "rhythm": _rhythm,
    "frequency": _frequency,
    "spending": _spending,
    "returns": _returns,
    "price": _price,
    "interest": _interest,
    "habits": _habits,
    "lifecycle": _lifecycle,
}
NONE_REASON = "reason.none"


def reason_variant(theme: str, facts: Facts) -> Variant | None:
    """The message key and the values of ``theme``'s sentence for a customer, or ``None``
    when the theme is not citable for them (see the module docstring)."""
    return _VARIANTS[theme](facts)


def citable(theme: str, facts: Facts) -> bool:
    """Whether the customer's facts give something true to say about ``theme``."""
    return reason_variant(theme, facts) is not None


@dataclass
class ReasonWriter:
    """Writes reason sentences in one language and currency (values cached: a list has
    many customers with the same number of days)."""

    locale: str
    currency: str = "EUR"

    def __post_init__(self) -> None:
        self.messages: Messages = messages(self.locale)
        self.formatter = Formatter(self.locale, self.currency)
        self._cache: dict[tuple[str, float], str] = {}

    def value(self, kind: str, value: float) -> str:
        """``value`` written as ``kind`` (see :data:`Value`)."""
        if kind in ("days", "orders", "returns", "count"):
            value = float(round(value))
        elif kind == "money":
            value = round(value, 2)
        key = (kind, value)
        if key not in self._cache:
            self._cache[key] = self._write(kind, value)
        return self._cache[key]

    def _write(self, kind: str, value: float) -> str:
        fmt = self.formatter
        if kind in ("days", "orders", "returns"):
            return self.messages.plural(f"unit.{kind}", value, n=fmt.integer(value))
        if kind == "count":
            return fmt.integer(value)
        if kind == "money":
            return fmt.money(value)
        if kind == "share":
            return fmt.percent(value)
        if kind == "ratio":
            return fmt.short(value)
        if kind == "hour":
            minutes = round(value * 60) % (24 * 60)
            return f"{minutes // 60:02d}:{minutes % 60:02d}"
        raise ValueError(f"unknown kind of value {kind!r}")

    def sentence(self, variant: Variant) -> str:
        """The sentence of a :func:`reason_variant`, starting with a capital."""
        key, values = variant
        text = self.messages.text(key, **{k: self.value(*v) for k, v in values.items()})
        return text[:1].upper() + text[1:]

    def none(self) -> str:
        """The reason of a customer whose risk no citable behaviour explains."""
        return self.messages.text(NONE_REASON)
