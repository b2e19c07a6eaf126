"""Several shops in one MLflow store: each version records its data source, another
shop's champion is never compared with nor replaced, and the gate never crashes on a
champion whose features this data cannot feed."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from churn.data.synth import ShopSpec, generate_transactions
from churn.errors import DataContractError, NoModelError
from churn.stages import score, train
from tests.conftest import compose_config

# The small shop's quick model may lose to a baseline; these tests are about the store.
NO_BASELINES = "gate.beat_baselines=false"


@pytest.fixture(scope="module")
def store(small_shop_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One store: shop A's champion (v1), then shop B (no channel or category columns)
    trained under the same default registered model (v2)."""
    root = tmp_path_factory.mktemp("shops")
    overrides = [
        f"tracking.uri=sqlite:///{root / 'mlflow.db'}",
        f"tracking.artifact_root={root / 'mlartifacts'}",
    ]
    shop_b = root / "shop_b.parquet"
    frame = generate_transactions(ShopSpec(n_customers=1200, days=730, seed=11))
    frame.drop(columns=["channel", "category"]).to_parquet(shop_b)

    def run(name: str, path: Path, *extra: str) -> dict:
        cfg = compose_config(
            "train",
            [
                f"data.transactions={path}",
                "experiment=quick",
                NO_BASELINES,
                f"output_dir={root / name}",
                *overrides,
                *extra,
            ],
        )
        return train.run(cfg)

    a = run("a", small_shop_path)
    b = run("b", shop_b)
    return {"overrides": overrides, "a": a, "b": b, "shop_b": shop_b, "root": root, "run": run}


def test_another_shops_champion_is_not_comparable_and_stays(store, small_shop_path):
    a, b = store["a"], store["b"]
    assert (a["model_version"], a["model_alias"]) == ("1", "champion")
    assert (b["model_version"], b["model_alias"]) == ("2", "challenger")
    gate = b["gate"]
    assert gate["verdict"] == "failed"
    not_comparable = next(r for r in gate["reasons"] if "not comparable" in r)
    assert not_comparable.startswith(
        f"FAILED: champion v1 is not comparable: it was trained on {small_shop_path}, "
        f"this run on {store['shop_b']}"
    )
    assert "tracking.registered_model=NAME" in gate["outcome"]
    assert any("not comparable" in w for w in b["warnings"])
    client = MlflowClient(store["overrides"][0].removeprefix("tracking.uri="))
    assert str(client.get_model_version_by_alias("churn", "champion").version) == "1"
    tags = client.get_model_version("churn", "2").tags
    assert tags["data.source"] == str(store["shop_b"])
    assert "not comparable" in tags["gate.reasons"]
    assert tags["gate.outcome"] == gate["outcome"]


def test_scoring_another_shop_names_the_model_in_the_error(store, tmp_path):
    cfg = compose_config(
        "score",
        [
            f"data.transactions={store['shop_b']}",
            f"score.output_dir={tmp_path}",
            *store["overrides"],
        ],
    )
    with pytest.raises(DataContractError) as refused:
        score.run(cfg)
    message = str(refused.value)
    assert message.startswith("model churn v1: ")
    assert "the model needs features this data cannot feed" in message
    assert "tracking.registered_model" in message


def test_a_champion_needing_features_this_data_cannot_feed_is_reported_not_a_crash(
    store, small_shop_path
):
    # The same shop, read without its channel and category columns.
    result = store["run"](
        "a_without_channels",
        small_shop_path,
        "data.columns.channel=null",
        "data.columns.category=null",
    )
    skipped = next(r for r in result["gate"]["reasons"] if r.startswith("skipped:"))
    assert skipped.startswith(
        "skipped: champion v1 is unusable (it needs features this data cannot feed ("
    )
    assert "top_channel_share_365d" in skipped
    assert result["gate"]["champion_unusable"].startswith("it needs features")


@pytest.mark.parametrize(
    ("data", "name"), [("demo", "churn"), ("complete_journey", "churn_complete_journey")]
)
def test_data_configs_name_their_own_model(data, name):
    cfg = compose_config("train", [f"data={data}"])
    assert cfg.tracking.registered_model == name
    assert cfg.tracking.experiment == name


def test_scoring_a_shop_whose_only_version_failed_the_gate_says_how_to_use_it(
    small_shop_path, tmp_path
):
    overrides = [
        f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}",
        f"tracking.artifact_root={tmp_path / 'mlartifacts'}",
        "tracking.registered_model=lonely",
    ]
    trained = train.run(
        compose_config(
            "train",
            [
                f"data.transactions={small_shop_path}",
                "experiment=quick",
                "gate.min_roc_auc=0.99",
                f"output_dir={tmp_path / 'train'}",
                *overrides,
            ],
        )
    )
    assert trained["model_alias"] == "challenger"
    cfg = compose_config(
        "score",
        [f"data.transactions={small_shop_path}", f"score.output_dir={tmp_path / 's'}", *overrides],
    )
    with pytest.raises(NoModelError, match=r"none passed the promotion gate.*model\.version=1"):
        score.run(cfg)
