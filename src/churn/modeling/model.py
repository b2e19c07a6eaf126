"""The churn classifier: a LightGBM booster with its feature list, free of any tracking code."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from churn.features.registry import FAMILIES
from churn.modeling.calibration import Calibrator


@dataclass(frozen=True)
class FeatureSettings:
    """How the feature table a model was trained on is built; scoring rebuilds it the same
    way (see :func:`churn.features.query.build_features`).

    Attributes
    ----------
    windows : tuple of int
        Look-back windows of the windowed features, in days.
    active_lookback_days : int
        A customer is in the population at a cutoff when they ordered in this many days.
    families : tuple of str
        Feature families computed (a model saved before families existed used them all).
    btyd_horizon_days : int or None
        Horizon of the BG/NBD features, in days; ``None`` when that family is off.
    """

    windows: tuple[int, ...]
    active_lookback_days: int
    families: tuple[str, ...] = tuple(FAMILIES)
    btyd_horizon_days: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The keyword arguments of :func:`~churn.features.query.build_features`, as
        plain JSON (the form stored with the model)."""
        return {
            "windows": list(self.windows),
            "active_lookback_days": self.active_lookback_days,
            "families": list(self.families),
            "btyd_horizon_days": self.btyd_horizon_days,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSettings:
        """Inverse of :meth:`to_dict`; the keys a model saved before them lacks take their
        defaults."""
        return cls(
            windows=tuple(int(w) for w in data["windows"]),
            active_lookback_days=int(data["active_lookback_days"]),
            families=tuple(data.get("families", FAMILIES)),
            btyd_horizon_days=data.get("btyd_horizon_days"),
        )


@dataclass(frozen=True)
class ChurnClassifier:
    """A fitted churn model.

    Attributes
    ----------
    booster : lightgbm.Booster
        Gradient-boosted trees predicting the log-odds of churn.
    feature_names : list of str
        Columns the booster expects, in order.
    params : dict
        LightGBM parameters used for the fit (for the record).
    feature_settings : FeatureSettings or None
        Settings of the feature stage the model was trained with; scoring rebuilds
        features with the same settings. ``None`` for a model fitted outside the pipeline.
    calibrator : Calibrator
        Map from the booster's raw probabilities to calibrated ones (identity when the
        model was not calibrated).
    reference : dict
        Per feature, the training population's bins and shares (see
        :func:`churn.scoring.drift.reference_profile`), for drift checks when scoring; empty
        when not recorded.
    horizon_days : int or None
        The label horizon: the probability is that of no order in this many days after
        the cutoff. ``None`` for a model saved before it was recorded.

    Frozen: a calibrated or reference-carrying model is a new one, made by
    :meth:`calibrated` or :meth:`with_reference`.
    """

    booster: lgb.Booster
    feature_names: list[str]
    params: dict[str, Any] = field(default_factory=dict)
    feature_settings: FeatureSettings | None = None
    calibrator: Calibrator = field(default_factory=Calibrator)
    reference: dict[str, Any] = field(default_factory=dict)
    horizon_days: int | None = None

    def calibrated(self, calibrator: Calibrator) -> ChurnClassifier:
        """This model with ``calibrator`` mapping its raw probabilities."""
        return replace(self, calibrator=calibrator)

    def with_reference(self, reference: dict[str, Any]) -> ChurnClassifier:
        """This model carrying ``reference``, the population scoring checks drift against."""
        return replace(self, reference=reference)

    def _matrix(self, features: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.feature_names if c not in features.columns]
        if missing:
            raise KeyError(f"feature table lacks columns the model needs: {missing}")
        return features[self.feature_names].astype("float64")

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """Calibrated churn probability for each row, shape ``(n_rows,)``."""
        return self.calibrator.apply(self.predict_raw(features))

    def predict_raw(self, features: pd.DataFrame) -> np.ndarray:
        """The booster's own (uncalibrated) churn probability for each row."""
        return self.booster.predict(self._matrix(features), num_iteration=self.best_iteration)

    def contributions(self, features: pd.DataFrame) -> pd.DataFrame:
        """Exact TreeSHAP contributions to the booster's log-odds, one column per feature.

        The frame also has a ``bias`` column (the expected log-odds); each row sums to the
        row's predicted log-odds.
        """
        values = self.booster.predict(
            self._matrix(features), num_iteration=self.best_iteration, pred_contrib=True
        )
        return pd.DataFrame(values, columns=[*self.feature_names, "bias"], index=features.index)

    def save(self, folder: str | Path) -> Path:
        """Write the model to ``folder`` as ``booster.txt`` (LightGBM's text format, only
        the trees up to the best iteration) and ``classifier.json``; returns the folder."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(folder / "booster.txt"), num_iteration=self.best_iteration)
        meta = {
            "feature_names": self.feature_names,
            "params": self.params,
            "feature_settings": (
                None if self.feature_settings is None else self.feature_settings.to_dict()
            ),
            "calibrator": self.calibrator.to_dict(),
            "reference": self.reference,
            "horizon_days": self.horizon_days,
        }
        (folder / "classifier.json").write_text(json.dumps(meta, indent=2, default=str))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> ChurnClassifier:
        """Read a model written by :meth:`save`."""
        folder = Path(folder)
        meta = json.loads((folder / "classifier.json").read_text())
        booster = lgb.Booster(model_file=str(folder / "booster.txt"))
        calibrator = Calibrator.from_dict(meta.pop("calibrator", None) or {"method": "none"})
        # Saved before the settings had a type, or by a model fitted outside the pipeline
        # (an empty dict).
        settings = meta.pop("feature_settings", None)
        return cls(
            booster=booster,
            calibrator=calibrator,
            feature_settings=FeatureSettings.from_dict(settings) if settings else None,
            **meta,
        )

    @property
    def best_iteration(self) -> int | None:
        """Number of trees used for prediction (the early-stopping optimum)."""
        best = self.booster.best_iteration
        return best if best and best > 0 else None


def _full_params(params: Mapping[str, Any], seed: int) -> dict[str, Any]:
    return {
        "objective": "binary",
        "metric": "binary_logloss",
        "verbosity": -1,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        **dict(params),
    }


def fit_lightgbm(
    train_x: pd.DataFrame,
    train_y: pd.Series,
    valid_x: pd.DataFrame,
    valid_y: pd.Series,
    params: Mapping[str, Any],
    num_boost_round: int = 1000,
    early_stopping_rounds: int = 50,
    seed: int = 0,
    feature_settings: FeatureSettings | None = None,
) -> ChurnClassifier:
    """Fit a binary LightGBM classifier with early stopping on the validation snapshot.

    Parameters
    ----------
    train_x, valid_x : pandas.DataFrame
        Feature columns only (no keys), same columns in both.
    train_y, valid_y : pandas.Series
        Labels, 1 = churned.
    params : mapping
        LightGBM parameters (``objective`` and ``seed`` are set here).
    num_boost_round : int
        Upper bound on the number of trees.
    early_stopping_rounds : int
        Stop when validation log loss has not improved for this many rounds.
    seed : int
        Seed for LightGBM's randomness; with ``deterministic`` set the fit is repeatable.
    feature_settings : FeatureSettings, optional
        Feature-stage settings to carry with the model (see :class:`ChurnClassifier`).
    """
    full_params = _full_params(params, seed)
    names = list(train_x.columns)
    dtrain = lgb.Dataset(train_x.astype("float64"), label=train_y, feature_name=names)
    dvalid = lgb.Dataset(valid_x.astype("float64"), label=valid_y, reference=dtrain)
    booster = lgb.train(
        full_params,
        dtrain,
        num_boost_round=num_boost_round,
        valid_sets=[dvalid],
        valid_names=["validation"],
        callbacks=[lgb.early_stopping(early_stopping_rounds, verbose=False)],
    )
    return ChurnClassifier(
        booster=booster,
        feature_names=names,
        params=full_params,
        feature_settings=feature_settings,
    )


def refit(model: ChurnClassifier, x: pd.DataFrame, y: pd.Series) -> ChurnClassifier:
    """Refit ``model``'s settings on new rows with its number of trees (no early stopping).

    The result keeps the parameters, feature settings and calibrator of ``model``: used
    for the final model, trained on every labelled snapshot after evaluation.
    """
    n_trees = model.best_iteration or model.booster.num_trees()
    names = model.feature_names
    data = lgb.Dataset(x[names].astype("float64"), label=y, feature_name=names)
    booster = lgb.train(dict(model.params), data, num_boost_round=n_trees)
    return ChurnClassifier(
        booster=booster,
        feature_names=list(names),
        params=dict(model.params),
        feature_settings=model.feature_settings,
        calibrator=model.calibrator,
        horizon_days=model.horizon_days,
    )
