"""The uplift model on a planted campaign: it finds the customers the contact persuades,
is repeatable, and saves and loads without changing a prediction."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from churn.uplift.metrics import qini_coefficient
from churn.uplift.model import UpliftModel, UpliftParams


def planted_campaign(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Customers kept with probability 0.5 whatever we do, except that contacting one with
    ``days_since_last_order`` under 60 raises it by 30 points; ``orders_365d`` raises it
    for everyone, contacted or not (a response the model must not mistake for uplift)."""
    rng = np.random.default_rng(seed)
    features = pd.DataFrame(
        {
            "days_since_last_order": rng.integers(0, 120, n).astype(float),
            "orders_365d": rng.poisson(3, n).astype(float),
        }
    )
    treatment = rng.integers(0, 2, n)
    persuadable = features["days_since_last_order"].to_numpy() < 60
    p_kept = 0.35 + 0.05 * np.minimum(features["orders_365d"].to_numpy(), 6) / 2
    p_kept = p_kept + 0.3 * persuadable * treatment
    return features, treatment, (rng.random(n) < p_kept).astype(int)


@pytest.fixture(scope="module")
def campaign() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    return planted_campaign(6000, seed=0)


@pytest.fixture(scope="module", params=["s", "t"])
def fitted(request, campaign) -> UpliftModel:
    features, treatment, kept = campaign
    return UpliftModel.fit(features, treatment, kept, UpliftParams(learner=request.param), seed=0)


def test_the_model_ranks_the_persuadable_customers_first(fitted):
    features, treatment, kept = planted_campaign(4000, seed=1)
    uplift = fitted.predict_uplift(features)
    persuadable = features["days_since_last_order"] < 60
    assert uplift[persuadable].mean() > 0.2
    assert abs(uplift[~persuadable].mean()) < 0.05
    # Almost every persuadable customer is ranked above almost every other one.
    first = np.argsort(-uplift)[: persuadable.sum()]
    assert persuadable.iloc[first].mean() > 0.9
    # Close to the Qini coefficient of the true effect (about 0.10: the outcomes are noisy).
    truth = qini_coefficient(kept, treatment, persuadable.astype(float))
    assert qini_coefficient(kept, treatment, uplift) > 0.85 * truth > 0


def test_the_uplift_is_the_contacted_probability_minus_the_control_one(fitted, campaign):
    features = campaign[0].head(50)
    np.testing.assert_allclose(
        fitted.predict_uplift(features),
        fitted.predict_outcome(features, True) - fitted.predict_outcome(features, False),
    )


def test_save_and_load_give_identical_predictions(fitted, campaign, tmp_path):
    features = campaign[0]
    loaded = UpliftModel.load(fitted.save(tmp_path / "uplift"))
    assert np.array_equal(loaded.predict_uplift(features), fitted.predict_uplift(features))
    assert (loaded.feature_names, loaded.outcome, loaded.params, loaded.seed) == (
        fitted.feature_names,
        fitted.outcome,
        fitted.params,
        fitted.seed,
    )


def test_the_same_data_and_seed_give_the_same_model(fitted, campaign):
    features, treatment, kept = campaign
    again = UpliftModel.fit(features, treatment, kept, fitted.params, seed=0)
    assert np.array_equal(again.predict_uplift(features), fitted.predict_uplift(features))


def test_the_default_is_the_s_learner_on_the_features_and_a_treated_column(campaign):
    features, treatment, kept = campaign
    model = UpliftModel.fit(features.head(500), treatment[:500], kept[:500], seed=0)
    assert model.params == UpliftParams() and model.params.learner == "s"
    assert model.outcome == "kept"
    assert model.boosters[0].feature_name() == [*features.columns, "treated"]
    assert model.boosters[0].num_trees() == 200


def test_the_model_reads_its_columns_by_name_and_is_frozen(fitted, campaign):
    features = campaign[0].head(20)
    shuffled = features[features.columns[::-1]].assign(customer_id="c")
    assert np.array_equal(fitted.predict_uplift(shuffled), fitted.predict_uplift(features))
    with pytest.raises(KeyError, match="orders_365d"):
        fitted.predict_uplift(features.drop(columns="orders_365d"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        fitted.outcome = "visit"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f, w, y: (f.assign(treated=w), w, y), "treated"),
        (lambda f, w, y: (f, np.ones_like(w), y), "both contacted"),
        (lambda f, w, y: (f, w, y * 2), "only 0 and 1"),
        (lambda f, w, y: (f, w[:-1], y), "one value per row"),
    ],
)
def test_a_campaign_it_cannot_learn_from_is_refused(campaign, change, message):
    features, treatment, kept = (part[:200] for part in campaign)
    with pytest.raises(ValueError, match=message):
        UpliftModel.fit(*change(features, treatment, kept))


def test_an_unknown_learner_is_refused():
    with pytest.raises(ValueError, match="learner"):
        UpliftParams(learner="x")  # type: ignore[arg-type]
