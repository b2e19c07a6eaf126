"""The classifier: exact SHAP contributions and a lossless save/load round trip."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import shap

from churn.features.registry import FAMILIES
from churn.modeling.calibration import Calibrator
from churn.modeling.model import ChurnClassifier, FeatureSettings, fit_lightgbm


@pytest.fixture(scope="module")
def fitted() -> tuple[ChurnClassifier, pd.DataFrame]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(
        {
            "days_since_last_order": rng.integers(0, 365, 600).astype(float),
            "orders_90d": rng.poisson(2, 600).astype(float),
            "spend_90d": rng.gamma(2, 30, 600),
        }
    )
    logit = 0.01 * x["days_since_last_order"] - 0.5 * x["orders_90d"]
    y = pd.Series((rng.random(600) < 1 / (1 + np.exp(-logit))).astype(int))
    model = fit_lightgbm(
        x[:400],
        y[:400],
        x[400:],
        y[400:],
        params={"num_leaves": 7},
        num_boost_round=50,
        feature_settings=FeatureSettings(windows=(30, 90), active_lookback_days=365),
    )
    return model, x


def test_contributions_sum_to_the_log_odds(fitted):
    model, x = fitted
    log_odds = np.log(model.predict_proba(x) / (1 - model.predict_proba(x)))
    np.testing.assert_allclose(model.contributions(x).sum(axis=1), log_odds, atol=1e-9)


def test_contributions_equal_shap_tree_explainer(fitted):
    model, x = fitted
    sample = x.head(100)
    booster = model.booster
    # TreeExplainer on a booster cut to the trees the classifier actually uses.
    trimmed = booster.model_from_string(booster.model_to_string(num_iteration=model.best_iteration))
    expected = shap.TreeExplainer(trimmed).shap_values(sample)
    got = model.contributions(sample).drop(columns="bias").to_numpy()
    np.testing.assert_allclose(got, np.asarray(expected).reshape(got.shape), atol=1e-6)


def test_save_and_load_keep_predictions_and_settings(fitted, tmp_path):
    model, x = fitted
    loaded = ChurnClassifier.load(model.save(tmp_path / "m"))
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    assert loaded.feature_names == model.feature_names
    assert loaded.feature_settings == FeatureSettings(windows=(30, 90), active_lookback_days=365)


def test_a_model_saved_with_the_untyped_settings_of_old_loads_with_the_defaults(fitted, tmp_path):
    model, _ = fitted
    folder = model.save(tmp_path / "old")
    meta = json.loads((folder / "classifier.json").read_text())
    meta["feature_settings"] = {"windows": [30, 90], "active_lookback_days": 365}
    (folder / "classifier.json").write_text(json.dumps(meta))
    settings = ChurnClassifier.load(folder).feature_settings
    assert settings == FeatureSettings(windows=(30, 90), active_lookback_days=365)
    assert settings.families == FAMILIES
    assert settings.btyd_horizon_days is None


def test_calibrating_makes_a_new_model_and_leaves_the_fitted_one_as_it_was(fitted):
    model, x = fitted
    halved = Calibrator("isotonic", {"x": [0.0, 1.0], "y": [0.0, 0.5]})
    calibrated = model.calibrated(halved)
    np.testing.assert_allclose(calibrated.predict_proba(x), model.predict_raw(x) / 2)
    assert model.calibrator == Calibrator()
    assert calibrated.booster is model.booster


def test_the_label_horizon_is_saved_with_the_model(tmp_path):
    x = pd.DataFrame({"a": np.arange(40, dtype=float)})
    y = pd.Series((np.arange(40) % 2).astype(int))
    model = dataclasses.replace(
        fit_lightgbm(x, y, x, y, params={"num_leaves": 3}, num_boost_round=5), horizon_days=90
    )
    assert ChurnClassifier.load(model.save(tmp_path / "m")).horizon_days == 90
