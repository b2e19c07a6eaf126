"""One sentence per theme, from the customer's own facts, in English and Italian.

Each variant is checked on hand-made facts, including the contradictions a real shop
showed with per-feature templates: several orders on one day read as "only one order",
"of the last 12 months" for a customer of a few weeks, "spent 0 times", a negative amount
"spent".
"""

from __future__ import annotations

import math

import pytest

from churn.features.registry import THEMES
from churn.scoring.reasons import FACT_COLUMNS, ReasonWriter, citable, reason_variant

NBSP = "\xa0"


def say(theme: str, locale: str = "en", currency: str = "GBP", **facts: float) -> str | None:
    """The sentence of ``theme`` for a customer with ``facts`` (``None``: not citable)."""
    variant = reason_variant(theme, facts)
    if variant is None:
        return None
    return ReasonWriter(locale, currency).sentence(variant).replace(NBSP, " ")


# --- rhythm ---------------------------------------------------------------------------


def test_rhythm_overdue_compares_with_the_usual_gap():
    text = say("rhythm", days_since_last_order=84, mean_gap_days=21, orders_total=5)
    assert text == "No order for 84 days, 4 times their usual gap of 21 days"


def test_rhythm_not_yet_overdue_gives_the_usual_gap():
    text = say("rhythm", days_since_last_order=25, mean_gap_days=21, orders_total=5)
    assert text == "No order for 25 days (usually every 21 days)"


def test_a_customer_not_yet_due_with_a_long_gap_orders_rarely():
    text = say("rhythm", days_since_last_order=47, mean_gap_days=353, orders_total=3)
    assert text == "Orders rarely: about every 353 days, the last 47 days ago"


def test_rhythm_with_one_order_says_so_from_the_order_count():
    text = say("rhythm", days_since_last_order=40, mean_gap_days=math.nan, orders_total=1)
    assert text == "Only one order so far, 40 days ago"


def test_several_orders_on_one_day_are_not_only_one_order():
    # The real shop: several invoices on one day leave no gap between order dates.
    text = say("rhythm", days_since_last_order=40, mean_gap_days=math.nan, orders_total=3)
    assert text == "All 3 orders were on one day, 40 days ago"


def test_rhythm_without_order_count_or_gap_gives_the_days_only():
    assert say("rhythm", days_since_last_order=1) == "No order for 1 day"


# --- frequency ------------------------------------------------------------------------


def test_a_new_customer_is_never_told_about_the_last_12_months():
    text = say(
        "frequency", orders_total=3, tenure_days=120, active_months_365d=1, orders_90d=1,
        orders_prev_90d=2,
    )  # fmt: skip
    assert text == "3 orders since their first order 120 days ago"


def test_falling_orders_compare_the_last_90_days_with_the_90_before():
    text = say(
        "frequency", orders_total=12, tenure_days=800, orders_90d=1, orders_prev_90d=4,
        active_months_365d=6,
    )  # fmt: skip
    assert text == "1 order in the last 90 days against 4 in the 90 before"


def test_no_order_in_90_days_is_not_told_again_as_falling_orders():
    text = say(
        "frequency", orders_total=12, tenure_days=800, orders_90d=0, orders_prev_90d=3,
        active_months_365d=5,
    )  # fmt: skip
    assert text == "Ordered in 5 of the last 12 months"


def test_steady_orders_give_the_active_months_never_more_than_12():
    facts = {"orders_total": 30, "tenure_days": 800, "orders_90d": 3, "orders_prev_90d": 3}
    assert say("frequency", **facts, active_months_365d=4) == "Ordered in 4 of the last 12 months"
    # 365 days hold 13 periods of 30 days.
    assert say("frequency", **facts, active_months_365d=13) == "Ordered in 12 of the last 12 months"


# --- spending -------------------------------------------------------------------------


def test_negative_net_spend_says_refunds_exceeded_purchases():
    text = say("spending", spend_90d=-24.2, spend_prev_90d=60.0, spend_365d=80.0)
    assert text == "Refunds exceeded purchases by £24.20 in the last 90 days"
    assert "-" not in text


def test_negative_spend_over_the_year_says_refunds_exceeded_purchases_too():
    text = say("spending", spend_90d=0.0, spend_prev_90d=0.0, spend_365d=-1234.6)
    assert text == "Refunds exceeded purchases by £1,235 in the last 12 months"


def test_falling_spend_gives_both_amounts_never_a_ratio():
    text = say("spending", spend_90d=24.2, spend_prev_90d=310.0, spend_365d=900.0)
    assert text == "Spent £24.20 in the last 90 days against £310 in the 90 before"


def test_spend_that_stopped_is_never_zero_times_what_it_was():
    # Orders whose refunds cancelled them out (to a float residue).
    text = say("spending", spend_90d=1e-14, spend_prev_90d=85.5, spend_365d=300.0, orders_90d=2)
    assert text == (
        "Refunds cancelled out their purchases of the last 90 days, against £85.50 spent in "
        "the 90 before"
    )
    assert "times" not in text
    assert say("spending", spend_90d=-1e-14, spend_365d=-1e-14, orders_90d=1) == (
        "Refunds cancelled out their purchases of the last 12 months"
    )


def test_no_spend_without_an_order_in_90_days_is_not_told_again():
    # The recency rhythm tells it; the year's spend alone is no reason either.
    assert (
        say("spending", spend_90d=0.0, spend_prev_90d=85.5, spend_365d=300.0, orders_90d=0) is None
    )


def test_a_small_last_basket_is_compared_with_the_usual_one():
    text = say(
        "spending", spend_90d=50, spend_prev_90d=40, last_basket_value=12.0,
        basket_value_mean_365d=40.0, spend_365d=400,
    )  # fmt: skip
    assert text == "Last basket £12.00, below their usual £40.00"


# --- returns, price, interest, habits, lifecycle --------------------------------------


def test_returns_are_cited_only_for_a_customer_who_returned_something():
    assert not citable("returns", {"returns_count_365d": 0.0, "days_since_last_return": None})
    assert say("returns", returns_count_365d=1, days_since_last_return=6) == (
        "Returned an item 6 days ago"
    )
    assert say("returns", returns_count_365d=3, days_since_last_return=6) == (
        "3 returns in the last 12 months, the last 6 days ago"
    )
    # A return more than a year ago still counts.
    assert say("returns", returns_count_365d=0, days_since_last_return=400) == (
        "Returned an item 400 days ago"
    )


def test_price_is_cited_only_for_a_customer_who_bought_with_a_discount_this_year():
    assert not citable("price", {"discount_order_share_365d": 0.0})
    assert not citable("price", {"discount_order_share_365d": 0.0, "days_since_last_discount": 557})
    assert not citable("price", {})
    text = say(
        "price", discount_order_share_365d=0.4, last_order_discounted=0,
        days_since_last_discount=75,
    )  # fmt: skip
    assert text == "Bought 40% of their orders with a discount; none in the last 75 days"
    assert say("price", discount_order_share_365d=0.4, last_order_discounted=1) == (
        "Bought 40% of their orders with a discount"
    )


def test_interest_needs_category_data():
    assert not citable("interest", {"categories_distinct_365d": None})
    assert say("interest", categories_distinct_365d=1, top_category_share_365d=1.0) == (
        "Buys from one category only"
    )
    assert say("interest", categories_distinct_365d=3, top_category_share_365d=0.7) == (
        "Buys from 3 categories, 70% of purchases in their main one"
    )


def test_habits_tell_the_channel_of_a_customer_with_a_few_orders():
    assert say("habits", orders_total=3, channels_distinct_365d=2, top_channel_share_365d=0.9) == (
        "Orders mostly through one channel (90% of orders)"
    )


def test_habits_are_no_reason_after_one_or_two_orders():
    assert say("habits", orders_total=2, channels_distinct_365d=1) is None


def test_a_mean_hour_or_weekend_share_is_no_reason():
    # A mean of 23:00 and 01:00 is 12:00, an hour nobody ordered at.
    facts = {"orders_total": 5, "order_hour_mean_365d": 12.0, "weekend_order_share_365d": 0.0}
    assert reason_variant("habits", facts) is None


def test_rhythm_is_no_reason_before_a_short_usual_gap_has_passed():
    assert say("rhythm", days_since_last_order=2, mean_gap_days=64, orders_total=5) is None


def test_the_overdue_ratio_is_that_of_the_numbers_shown():
    text = say("rhythm", days_since_last_order=22, mean_gap_days=0.7, orders_total=30)
    assert text == "No order for 22 days, 22 times their usual gap of 1 day"


def test_a_small_fall_in_spending_is_no_reason():
    assert say("spending", spend_90d=215.0, spend_prev_90d=219.0, spend_365d=900.0) is None


def test_discounts_have_not_stopped_when_the_last_order_was_discounted():
    text = say(
        "price",
        discount_order_share_365d=0.54,
        last_order_discounted=0,
        days_since_last_discount=52,
        days_since_last_order=52,
    )
    assert text == "Bought 54% of their orders with a discount"


def test_lifecycle_only_in_the_first_year():
    assert say("lifecycle", tenure_days=1068, orders_total=20) is None
    assert (
        say("lifecycle", tenure_days=45, orders_total=2) == "New customer: first order 45 days ago"
    )


def test_one_order_is_the_same_sentence_in_every_theme_that_tells_it():
    facts = {"days_since_last_order": 30.0, "tenure_days": 30.0, "orders_total": 1.0}
    sentences = {say(theme, **facts) for theme in ("rhythm", "frequency", "lifecycle")}
    assert sentences == {"Only one order so far, 30 days ago"}


@pytest.mark.parametrize("theme", THEMES)
def test_a_theme_whose_facts_are_all_missing_is_not_citable(theme):
    assert not citable(theme, dict.fromkeys(FACT_COLUMNS, math.nan))
    assert not citable(theme, {})


@pytest.mark.parametrize("locale", ["en", "it"])
@pytest.mark.parametrize("value", [0.0, 1.0, 2.0, 400.0])
def test_every_variant_renders_for_edge_values(locale, value):
    writer = ReasonWriter(locale, "EUR")
    facts = dict.fromkeys(FACT_COLUMNS, value)
    for theme in THEMES:
        variant = reason_variant(theme, facts)
        if variant is not None:
            text = writer.sentence(variant)
            assert text and not any(c in text for c in "{}"), (theme, text)
            assert text[0].isupper() or not text[0].isalpha(), (theme, text)


# --- Italian --------------------------------------------------------------------------


def test_italian_sentences_are_natural_italian():
    assert say("rhythm", "it", days_since_last_order=84, mean_gap_days=21, orders_total=5) == (
        "Nessun ordine da 84 giorni, 4 volte il suo intervallo abituale di 21 giorni"
    )
    assert say("rhythm", "it", days_since_last_order=1, orders_total=1) == (
        "Un solo ordine finora, 1 giorno fa"
    )
    assert say("returns", "it", returns_count_365d=2, days_since_last_return=5) == (
        "2 resi negli ultimi 12 mesi, l'ultimo 5 giorni fa"
    )
    assert say("spending", "it", "EUR", spend_90d=-24.2, spend_365d=10.0) == (
        "Negli ultimi 90 giorni i rimborsi hanno superato gli acquisti di 24,20 €"
    )
    assert say(
        "price", "it", discount_order_share_365d=0.4, last_order_discounted=0,
        days_since_last_discount=75,
    ) == (
        "Ordini con sconto: 40% del totale; nessuno sconto negli ultimi 75 giorni"
    )  # fmt: skip


def test_a_years_spend_that_did_not_fall_is_no_reason():
    facts = {"spend_90d": 900.0, "spend_prev_90d": 800.0, "spend_365d": 21536.0}
    assert reason_variant("spending", facts) is None
