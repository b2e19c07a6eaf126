"""Reasons by theme, the likely cause and the next best action, on tiny frames and on a
trained model where the churn drivers were planted."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from churn.errors import ConfigError
from churn.features.registry import THEMES
from churn.modeling.model import ChurnClassifier, FeatureSettings, fit_lightgbm
from churn.scoring.actions import (
    ALL_THEMES,
    DEFAULT,
    TABLE_ROWS,
    ActionTable,
    discount_advised,
    known_actions,
    known_causes,
)
from churn.scoring.themes import explain, feature_themes, segment_name, theme_contributions
from churn.settings import ActionTableRows, SegmentActions, ThemeCauses, parse_settings
from churn.text.messages import available_locales, messages
from tests.conftest import compose_config


@pytest.fixture(scope="module")
def table() -> ActionTable:
    return ActionTable.from_config(compose_config("score").actions)


def frame(**columns: list[float]) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    return pd.DataFrame(columns, index=[f"C{i}" for i in range(n)])


def regular(index: pd.Index) -> pd.Series:
    return pd.Series("regular", index=index)


# --- sums per theme -------------------------------------------------------------------


def test_contributions_are_summed_per_theme_and_still_add_up_to_the_log_odds():
    contributions = frame(
        days_since_last_order=[0.5, -0.2],
        overdue_ratio=[0.25, 0.1],
        bgnbd_p_no_order=[1.0, 0.0],
        returns_90d=[-0.3, 0.4],
        spend_90d=[0.2, 0.0],
        bias=[-1.0, -1.0],
    )
    sums = theme_contributions(contributions)
    assert list(sums.columns) == list(THEMES)
    assert sums.loc["C0", "rhythm"] == pytest.approx(1.75)
    assert sums.loc["C1", "rhythm"] == pytest.approx(-0.1)
    assert sums.loc["C0", "returns"] == pytest.approx(-0.3)
    assert sums.loc["C0", "spending"] == pytest.approx(0.2)
    assert sums.loc["C0", "price"] == 0.0
    np.testing.assert_allclose(
        sums.sum(axis=1) + contributions["bias"], contributions.sum(axis=1), atol=1e-12
    )


def test_windowed_features_of_any_window_have_a_theme():
    assert feature_themes(["orders_60d", "spend_60d", "bias"]) == {
        "orders_60d": "frequency",
        "spend_60d": "spending",
    }
    with pytest.raises(KeyError, match="mystery"):
        feature_themes(["mystery"])


# --- reasons --------------------------------------------------------------------------


def test_two_features_of_one_theme_give_one_reason(table):
    contributions = frame(days_since_last_order=[0.6], overdue_ratio=[0.5], bias=[0.0])
    features = frame(days_since_last_order=[84.0], mean_gap_days=[21.0], orders_total=[5.0])
    out = explain(contributions, features, regular(features.index), table, 3)
    assert out.loc["C0", ["reason_1", "reason_2", "reason_3"]].tolist() == [
        "No order for 84 days, 4 times their usual gap of 21 days",
        "",
        "",
    ]
    assert out.loc["C0", "reason_1_theme"] == "rhythm"


def test_the_strongest_theme_comes_first_and_a_theme_lowering_the_risk_is_never_a_reason(table):
    contributions = frame(
        days_since_last_order=[0.3], returns_90d=[0.2], days_since_last_return=[0.5],
        spend_90d=[-0.4], bias=[0.0],
    )  # fmt: skip
    features = frame(
        days_since_last_order=[30.0], mean_gap_days=[25.0], orders_total=[6.0],
        returns_90d=[1.0], returns_count_365d=[1.0], days_since_last_return=[9.0],
        spend_90d=[10.0], spend_prev_90d=[80.0],
    )  # fmt: skip
    out = explain(contributions, features, regular(features.index), table, 3)
    assert out.loc["C0", ["reason_1_theme", "reason_2_theme", "reason_3_theme"]].tolist() == [
        "returns",
        "rhythm",
        "",
    ]
    assert out.loc["C0", "reason_1"] == "Returned an item 9 days ago"


def test_no_reason_quotes_a_probability_or_an_expected_order_count(table):
    contributions = frame(
        bgnbd_p_no_order=[2.0], bgnbd_expected_orders=[1.0], days_since_last_order=[0.1],
        bias=[0.0],
    )  # fmt: skip
    features = frame(
        bgnbd_p_no_order=[0.999], bgnbd_expected_orders=[0.02], days_since_last_order=[200.0],
        mean_gap_days=[40.0], orders_total=[4.0],
    )  # fmt: skip
    out = explain(contributions, features, regular(features.index), table, 3)
    assert out.loc["C0", "reason_1"] == "No order for 200 days, 5 times their usual gap of 40 days"
    text = " ".join(out.loc["C0", ["reason_1", "reason_2", "reason_3"]])
    assert "%" not in text and "chance" not in text and "expected" not in text


def test_a_theme_that_is_not_citable_is_skipped_and_its_share_not_given_away(table):
    # Returns push the risk up, but this customer never returned anything.
    contributions = frame(returns_count_365d=[0.9], spend_90d=[0.2], bias=[0.0])
    features = frame(
        returns_count_365d=[0.0], days_since_last_return=[math.nan], spend_90d=[20.0],
        spend_prev_90d=[90.0],
    )  # fmt: skip
    out = explain(contributions, features, regular(features.index), table, 3, "en", "GBP")
    assert out.loc["C0", ["reason_1_theme", "reason_2_theme"]].tolist() == ["spending", ""]
    assert out.loc["C0", "reason_1"] == (
        "Spent £20.00 in the last 90 days against £90.00 in the 90 before"
    )


def test_long_tenure_is_never_a_reason(table):
    contributions = frame(tenure_days=[1.2], bias=[0.0])
    features = frame(tenure_days=[1068.0], orders_total=[9.0])
    out = explain(contributions, features, regular(features.index), table, 3)
    assert out.loc["C0", "reason_1_theme"] == "none"
    assert "1,068" not in out.loc["C0", "reason_1"]


def test_one_order_is_said_once_even_when_several_themes_tell_it(table):
    contributions = frame(
        days_since_last_order=[0.4], orders_total=[0.3], tenure_days=[0.2], bias=[0.0]
    )
    features = frame(
        days_since_last_order=[30.0], orders_total=[1.0], tenure_days=[30.0],
        mean_gap_days=[math.nan],
    )  # fmt: skip
    out = explain(contributions, features, pd.Series("new", index=features.index), table, 3)
    assert out.loc["C0", ["reason_1", "reason_2"]].tolist() == [
        "Only one order so far, 30 days ago",
        "",
    ]


def test_a_customer_without_a_citable_theme_raising_the_risk_gets_the_none_reason(table):
    contributions = frame(days_since_last_order=[-0.5], returns_90d=[0.3], bias=[1.5])
    features = frame(days_since_last_order=[3.0], returns_90d=[0.0], returns_count_365d=[0.0])
    out = explain(contributions, features, regular(features.index), table, 2)
    assert out.loc["C0", "reason_1"] == (
        "No single behaviour stands out: their risk is close to that of similar customers"
    )
    assert out.loc["C0", ["reason_1_theme", "reason_2_theme", "theme"]].tolist() == [
        "none",
        "",
        "none",
    ]
    assert out.loc["C0", "cause"] == "unknown"
    assert out.loc["C0", "action"] == "loyalty_offer"  # the segment's default


def test_explain_gives_the_columns_the_list_needs_in_the_index_order(table):
    contributions = frame(days_since_last_order=[0.5, 0.2], bias=[0.0, 0.0])
    features = frame(days_since_last_order=[40.0, 10.0]).iloc[::-1]
    out = explain(contributions, features, regular(contributions.index), table, 2)
    assert list(out.index) == ["C0", "C1"]
    assert list(out.columns) == [
        *("reason_1", "reason_2", "reason_1_theme", "reason_2_theme"),
        *("theme", "cause", "action", "discount_advised"),
        *("theme_name", "cause_name", "action_name", "action_offer"),
    ]
    assert out["reason_1"].tolist() == ["No order for 40 days", "No order for 10 days"]
    assert out["discount_advised"].dtype == bool


def test_names_cause_action_and_offer_are_in_the_chosen_language(table):
    contributions = frame(days_since_last_return=[0.8], bias=[0.0])
    features = frame(days_since_last_return=[6.0], returns_count_365d=[1.0])
    out = explain(contributions, features, regular(features.index), table, 3, "it", "EUR")
    row = out.loc["C0"]
    assert row["reason_1"] == "Ha reso un articolo 6 giorni fa"
    assert (row["theme"], row["cause"], row["action"]) == (
        "returns",
        "poor_quality",
        "service_follow_up",
    )
    assert row["theme_name"] == "resi"
    assert row["cause_name"] == "qualità scarsa del prodotto o del servizio"
    assert row["action_name"] == "contatto dal servizio clienti, senza sconti"
    assert row["action_offer"].startswith("Una telefonata")
    assert segment_name("dormant", "it") == "dormiente"
    assert segment_name("vip", "en") == "VIP"


def test_an_unknown_language_is_a_config_error(table):
    with pytest.raises(ConfigError, match="locale"):
        segment_name("new", "xx")


# --- actions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("segment", "theme", "days", "action"),
    [
        ("regular", "returns", 20, "service_follow_up"),
        ("vip", "returns", 20, "service_follow_up"),
        ("regular", "price", 20, "targeted_discount"),
        ("dormant", "price", 120, "targeted_discount"),
        ("regular", "rhythm", 40, "rhythm_reminder"),
        ("vip", "rhythm", 40, "personal_contact"),
        ("vip", "interest", 40, "exclusive_preview"),
        # VIPs idle for 90+ days stay VIPs by the segment rules, and are won back.
        ("vip", "rhythm", 90, "win_back"),
        ("vip", "interest", 200, "win_back"),
        ("new", "lifecycle", 20, "second_purchase"),
        ("new", "none", 20, "second_purchase"),
        ("dormant", "rhythm", 150, "reactivation"),
    ],
)
def test_the_action_follows_segment_and_theme(table, segment, theme, days, action):
    assert table.action(segment, theme, days) == action


def test_every_theme_has_a_cause(table):
    assert set(table.causes) == set(ALL_THEMES)
    assert table.cause("returns") == "poor_quality"
    assert table.cause("price") == "price"
    assert table.cause("none") == "unknown"


def test_a_discount_is_advised_only_to_customers_who_bought_with_one(table):
    actions = pd.Series(
        ["targeted_discount", "targeted_discount", "service_follow_up", "win_back"],
        index=list("abcd"),
    )
    features = pd.DataFrame(
        {"discount_order_share_365d": [0.3, 0.0, 0.5, math.nan]}, index=list("abcd")
    )
    assert discount_advised(actions, table, features).tolist() == [True, False, False, False]
    # A shop without discount data: never.
    no_data = pd.DataFrame(index=list("abcd"))
    assert not discount_advised(actions, table, no_data).any()


def test_explain_advises_a_discount_when_discounts_stopped_for_a_discount_buyer(table):
    contributions = frame(last_order_discounted=[0.7, 0.7], bias=[0.0, 0.0])
    features = frame(
        discount_order_share_365d=[0.5, 0.0], last_order_discounted=[0.0, 0.0],
        days_since_last_discount=[60.0, 500.0], days_since_last_order=[20.0, 20.0],
    )  # fmt: skip
    out = explain(contributions, features, regular(features.index), table, 3)
    assert out["action"].tolist() == ["targeted_discount", "loyalty_offer"]
    assert out["discount_advised"].tolist() == [True, False]
    # A discount two years ago is not price sensitivity: no reason, no discount.
    assert out.loc["C1", "theme"] == "none"


# --- the config group -----------------------------------------------------------------


def test_the_settings_models_cover_every_theme_and_row():
    assert list(ThemeCauses.model_fields) == list(ALL_THEMES)
    assert set(SegmentActions.model_fields) == {DEFAULT, *ALL_THEMES}
    assert list(ActionTableRows.model_fields) == list(TABLE_ROWS)


def test_every_shipped_action_and_cause_has_words_in_every_language(table):
    used = {a for row in table.table.values() for a in row.values()} | table.discount_actions
    assert used <= set(known_actions())
    assert set(table.causes.values()) <= set(known_causes())
    for locale in available_locales():
        words = messages(locale)
        for action in known_actions():
            assert words.text(f"action.{action}.offer"), (locale, action)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("actions.table.regular.price=free_lunch", "actions.table.regular.price="),
        ("actions.causes.returns=bad_weather", "actions.causes.returns="),
        ("actions.discount_actions=[free_lunch]", "actions.discount_actions="),
        ("+actions.table.vip.mood=win_back", "actions.table.vip.mood="),
    ],
)
def test_an_action_or_cause_without_words_in_the_catalog_is_refused(override, key):
    with pytest.raises(ConfigError, match=key.replace("+", "")):
        parse_settings(compose_config("score", [override]), "score")


# --- planted drivers on a trained model -----------------------------------------------


def planted_shop(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """Customers whose churn is driven by a recent return for some, by discounts that
    stopped for others (price-sensitive customers paying full price again), on top of
    a mild recency effect."""
    rng = np.random.default_rng(seed)
    days = rng.integers(1, 120, n).astype(float)
    gap = rng.uniform(10, 60, n)
    orders = 2 + rng.poisson(6, n).astype(float)
    returned = rng.random(n) < 0.25
    days_since_return = np.where(returned, rng.uniform(1, 40, n), np.nan)
    sensitive = rng.random(n) < 0.35
    stopped = sensitive & (rng.random(n) < 0.6)
    share = np.where(sensitive, rng.uniform(0.3, 0.8, n), 0.0)
    days_since_discount = np.where(
        sensitive, np.where(stopped, days + rng.uniform(40, 150, n), days), np.nan
    )
    last_discounted = np.where(sensitive & ~stopped, 1.0, 0.0)
    spend = orders * rng.gamma(3, 15, n)
    x = pd.DataFrame(
        {
            "days_since_last_order": days,
            "mean_gap_days": gap,
            "overdue_ratio": days / gap,
            "orders_total": orders,
            "orders_90d": rng.poisson(2, n).astype(float),
            "orders_prev_90d": rng.poisson(2, n).astype(float),
            "spend_90d": spend / 4,
            "spend_prev_90d": spend / 4 * rng.uniform(0.7, 1.3, n),
            "spend_365d": spend,
            "tenure_days": rng.uniform(400, 1000, n),
            "returns_count_365d": np.where(returned, 1.0 + rng.poisson(0.5, n), 0.0),
            "days_since_last_return": days_since_return,
            "discount_order_share_365d": share,
            "days_since_last_discount": days_since_discount,
            "last_order_discounted": last_discounted,
        },
        index=[f"C{i:05d}" for i in range(n)],
    )
    logit = -2.5 + 3.0 * returned + 3.0 * stopped + 0.4 * np.log1p(days / gap)
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int), index=x.index)
    return x, y


@pytest.fixture(scope="module")
def planted() -> tuple[ChurnClassifier, pd.DataFrame, pd.Series]:
    x, y = planted_shop(8000, seed=11)
    model = fit_lightgbm(
        x[:6000],
        y[:6000],
        x[6000:],
        y[6000:],
        params={"num_leaves": 15, "learning_rate": 0.1, "verbose": -1},
        num_boost_round=200,
        early_stopping_rounds=20,
        feature_settings=FeatureSettings(windows=(90, 365), active_lookback_days=365),
    )
    test_x, test_y = planted_shop(3000, seed=12)
    return model, test_x, test_y


def test_theme_sums_of_a_trained_model_add_up_to_its_log_odds(planted):
    model, x, _ = planted
    contributions = model.contributions(x)
    raw = model.predict_raw(x)
    sums = theme_contributions(contributions).sum(axis=1) + contributions["bias"]
    np.testing.assert_allclose(sums, np.log(raw / (1 - raw)), atol=1e-9)


def test_a_planted_recent_return_leads_the_reasons_of_churners_who_returned(planted, table):
    model, x, y = planted
    out = explain(model.contributions(x), x, regular(x.index), table, 3)
    stopped = (x["discount_order_share_365d"] > 0) & (x["last_order_discounted"] == 0)
    churners = x["days_since_last_return"].notna() & ~stopped & (y == 1)
    assert churners.sum() > 200
    assert (out.loc[churners, "theme"] == "returns").mean() > 0.8
    assert (out.loc[churners, "action"] == "service_follow_up").mean() > 0.8
    # Customers who never returned anything never get the returns theme.
    assert not (out.loc[x["days_since_last_return"].isna(), "theme"] == "returns").any()


def test_stopped_discounts_lead_the_reasons_of_price_sensitive_churners(planted, table):
    model, x, y = planted
    out = explain(model.contributions(x), x, regular(x.index), table, 3)
    stopped = (x["discount_order_share_365d"] > 0) & (x["last_order_discounted"] == 0)
    churners = stopped & x["days_since_last_return"].isna() & (y == 1)
    assert churners.sum() > 200
    assert (out.loc[churners, "theme"] == "price").mean() > 0.8
    assert out.loc[churners & (out["theme"] == "price"), "discount_advised"].all()
    said = out.loc[churners, "reason_1"].str.contains("with a discount; none in the last")
    assert said.mean() > 0.8


def test_an_empty_list_explains_to_an_empty_frame_with_the_columns(table):
    contributions = pd.DataFrame(columns=["days_since_last_order"], dtype=float)
    features = pd.DataFrame(columns=["days_since_last_order"], dtype=float)
    out = explain(contributions, features, pd.Series(dtype=str), table, 2)
    assert out.empty
    assert {"reason_1", "reason_2_theme", "action_offer", "discount_advised"} <= set(out.columns)
