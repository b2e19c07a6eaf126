"""Reason sentences from the registry's templates, in English and Italian."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from churn.errors import ConfigError
from churn.features.registry import registry
from churn.scoring.reasons import (
    format_money,
    format_value,
    localise_segments,
    render_reason,
    top_reasons,
)

FEATURES = {f.name: f for f in registry()}


@pytest.mark.parametrize(
    ("value", "unit", "locale", "expected"),
    [
        (0, "days", "en", "0 days"),
        (1, "days", "en", "1 day"),
        (21.4, "days", "it", "21 giorni"),
        (1, "days", "it", "1 giorno"),
        (1, "orders", "en", "1 order"),
        (1, "orders", "it", "1 ordine"),
        (1, "returns", "en", "1 return"),
        (2, "returns", "it", "2 resi"),
        (0.3, "orders", "it", "0,3 ordini"),
        (0.04, "orders", "en", "less than 0.1 orders"),
        (0.9996, "share", "en", "99.9%"),
        (0.0001, "share", "it", "0,1%"),
        (1.0, "share", "en", "100%"),
        (0.125, "share", "en", "12.5%"),
        (0.5, "share", "it", "50%"),
        (14.5, "hour", "en", "14:30"),
        (1.0, "flag", "it", "sì"),
        (0.0, "flag", "en", "no"),
        (3.96, "ratio", "en", "4"),
        (2.54, "ratio", "it", "2,5"),
    ],
)
def test_values_are_formatted_in_their_unit(value, unit, locale, expected):
    assert format_value(value, unit, locale) == expected


def test_money_follows_each_language_convention():
    assert format_money(1234.5, "en", "EUR") == "€1,234.50"
    assert format_money(1234.5, "it", "EUR") == "1.234,50 €"
    assert format_money(-12, "en", "USD") == "-$12.00"
    assert format_money(7, "en", "SEK") == "SEK 7.00"


def test_a_missing_value_formats_as_none():
    assert format_value(math.nan, "days", "en") is None


def test_recency_reason_compares_with_the_usual_gap_in_english():
    values = {"days_since_last_order": 84, "overdue_ratio": 4.0, "mean_gap_days": 21}
    assert (
        render_reason(FEATURES["days_since_last_order"], values, "en")
        == "No order for 84 days, 4 times their usual gap (21 days)"
    )


def test_recency_reason_in_italian():
    values = {"days_since_last_order": 84, "overdue_ratio": 4.0, "mean_gap_days": 21}
    assert (
        render_reason(FEATURES["days_since_last_order"], values, "it")
        == "Nessun ordine da 84 giorni, 4 volte l'intervallo abituale (21 giorni)"
    )


def test_the_comparison_is_left_out_when_there_is_no_usual_gap():
    values = {"days_since_last_order": 84, "overdue_ratio": math.nan, "mean_gap_days": math.nan}
    assert render_reason(FEATURES["days_since_last_order"], values, "en") == "No order for 84 days"


def test_a_missing_own_value_says_what_it_means():
    assert render_reason(FEATURES["mean_gap_days"], {"mean_gap_days": math.nan}, "en") == (
        "Only one order so far"
    )
    assert render_reason(FEATURES["days_since_last_return"], {}, "it") == (
        "Non ha mai reso un articolo"
    )


@pytest.mark.parametrize("locale", ["en", "it"])
@pytest.mark.parametrize("value", [0.0, 1.0, math.nan])
def test_every_template_renders_for_edge_values(locale, value):
    values = {name: value for name in FEATURES}
    for feature in FEATURES.values():
        text = render_reason(feature, values, locale, "EUR")
        assert text and not any(c in text for c in "{}[]"), (feature.name, text)
        assert text[0].isupper() or not text[0].isalpha(), (feature.name, text)


def test_reasons_never_cite_a_feature_that_lowers_the_risk():
    contributions = pd.DataFrame(
        {
            "days_since_last_order": [0.9, -0.4],
            "returns_90d": [-0.2, 0.3],
            "orders_90d": [0.1, -0.1],
            "bias": [1.0, 1.0],
        }
    )
    features = pd.DataFrame(
        {"days_since_last_order": [84.0, 3.0], "returns_90d": [0.0, 2.0], "orders_90d": [1.0, 4.0]}
    )
    reasons = top_reasons(contributions, features, n_reasons=3)
    assert reasons.features.iloc[0].tolist() == ["days_since_last_order", "orders_90d", ""]
    assert reasons.features.iloc[1].tolist() == ["returns_90d", "", ""]
    assert reasons.sentences.iloc[0].tolist() == [
        "No order for 84 days",
        "Only 1 order in the last 90 days",
        "",
    ]
    assert reasons.sentences.iloc[1, 0] == "2 returns in the last 90 days"


def test_segments_and_actions_are_localised():
    names, actions = localise_segments(["dormant", "vip"], "it")
    assert names == ["dormiente", "VIP"]
    assert actions == ["campagna di riattivazione", "anteprima esclusiva o evento"]


def test_an_unknown_locale_is_a_config_error():
    with pytest.raises(ConfigError, match="locale"):
        localise_segments(["new"], "fr")
