"""Per-customer reasons on a model trained by the pipeline: a return planted in the data
shows up, as the returns theme, where it was planted."""

from __future__ import annotations

import pandas as pd
import pytest

from churn.features.query import build_features
from churn.scoring.actions import ActionTable
from churn.scoring.themes import explain
from churn.tracking import store as tracking
from tests.conftest import compose_config, connect_to


@pytest.fixture(scope="module")
def trained(trained_store):
    cfg = compose_config("train", trained_store)
    tracking.start(cfg.tracking.uri, cfg.tracking.experiment, cfg.tracking.artifact_root)
    return tracking.load_registered_model("churn", alias="champion").classifier


def test_a_planted_recent_return_is_among_the_reasons_of_that_group(small_shop_path, trained):
    shop = pd.read_parquet(small_shop_path)
    as_of = shop["ts"].max().normalize()
    recent = shop[(shop["ts"] > as_of - pd.Timedelta(days=60)) & (shop["amount"] > 0)]
    no_returns = set(recent["customer_id"]) - set(
        shop.loc[
            (shop["amount"] < 0) & (shop["ts"] > as_of - pd.Timedelta(days=365)), "customer_id"
        ]
    )
    group = sorted(no_returns)[::2]
    last_lines = (
        recent[recent["customer_id"].isin(group)].sort_values("ts").groupby("customer_id").tail(1)
    )
    planted = last_lines.assign(
        order_id="RET-" + last_lines["order_id"],
        ts=as_of - pd.Timedelta(days=2) + pd.Timedelta(hours=12),
        amount=-last_lines["amount"].abs(),
        quantity=-1.0,
    )
    con = connect_to(pd.concat([shop, planted], ignore_index=True))
    settings = trained.feature_settings.to_dict()
    features = build_features(con, [as_of.date()], **settings).set_index("customer_id")
    table = ActionTable.from_config(compose_config("score").actions)
    segments = pd.Series("regular", index=features.index)
    reasons = explain(trained.contributions(features), features, segments, table, n_reasons=3)
    themes = reasons[["reason_1_theme", "reason_2_theme", "reason_3_theme"]]
    cites_returns = (themes == "returns").any(axis=1)
    in_group = features.index.isin(group)
    others = features.index.isin(list(no_returns - set(group)))
    assert in_group.sum() > 100
    assert cites_returns[in_group].mean() > 0.6
    assert cites_returns[others].mean() < 0.1
