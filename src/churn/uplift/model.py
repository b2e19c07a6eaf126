"""The uplift model: how much contacting a customer raises the chance of the outcome,
learned from a campaign with a control group, free of any tracking code.

The default is an S-learner: one LightGBM classifier on the features plus a ``treated``
column; the uplift of a customer is its predicted probability with ``treated = 1`` minus
that with ``treated = 0``. A T-learner (one classifier per arm) is there for comparison.
On the Hillstrom e-mail experiment the S-learner was the only one of the S, T, X and
class-transformation learners that beat a response model on every one of ten splits.

References
----------
Kunzel, S. R., Sekhon, J. S., Bickel, P. J. and Yu, B. (2019). Metalearners for estimating
heterogeneous treatment effects using machine learning. *PNAS* 116(10), 4156-4165.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

TREATED = "treated"
LEARNERS = ("s", "t")


@dataclass(frozen=True)
class UpliftParams:
    """How an :class:`UpliftModel` is fitted.

    Attributes
    ----------
    learner : {"s", "t"}
        ``"s"``: one classifier on the features and the ``treated`` column (S-learner);
        ``"t"``: one classifier on each arm, the uplift the difference of their
        probabilities (T-learner).
    n_estimators : int
        Number of trees of each classifier (no early stopping: a campaign's rows are
        few, and all of them serve the fit).
    learning_rate, num_leaves, min_child_samples : float, int, int
        LightGBM's settings; small trees with many customers per leaf, as measured on
        Hillstrom.
    num_threads : int
        LightGBM threads. One by default: the fit then does not depend on the machine's
        cores, and takes about a second on Hillstrom's 45,000 training rows.
    """

    learner: Literal["s", "t"] = "s"
    n_estimators: int = 200
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_child_samples: int = 100
    num_threads: int = 1

    def __post_init__(self) -> None:
        if self.learner not in LEARNERS:
            raise ValueError(f"learner must be one of {LEARNERS}, got {self.learner!r}")

    def lightgbm(self, seed: int) -> dict[str, Any]:
        """The parameters of :func:`lightgbm.train` for one classifier (the number of
        trees is its ``num_boost_round``), repeatable for a given ``seed``."""
        return {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "num_threads": self.num_threads,
            "seed": seed,
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
        }

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain JSON (the form stored with the model)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UpliftParams:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


def _booster_files(learner: str) -> list[str]:
    if learner == "s":
        return ["booster.txt"]
    return ["booster_control.txt", "booster_contacted.txt"]


def _binary(values: ArrayLike, name: str, n_rows: int) -> np.ndarray:
    array = np.asarray(values)
    if array.shape != (n_rows,):
        raise ValueError(f"{name} must have one value per row ({n_rows}), got {array.shape}")
    if not np.isin(array, (0, 1)).all():
        raise ValueError(f"{name} must hold only 0 and 1")
    return array.astype("int64")


@dataclass(frozen=True)
class UpliftModel:
    """A fitted uplift model.

    Attributes
    ----------
    boosters : tuple of lightgbm.Booster
        S-learner: one booster, on ``feature_names`` then ``treated``. T-learner: the
        control arm's booster, then the contacted arm's, on ``feature_names``.
    feature_names : list of str
        Columns the model reads, in order (``treated`` is not one of them).
    outcome : str
        What the probabilities are of: ``"kept"`` for churn (1 = ordered within the
        horizon, so a positive uplift = contacting raises the chance of staying),
        ``"visit"`` on Hillstrom.
    params : UpliftParams
        Settings of the fit.
    seed : int
        Seed of the fit.
    """

    boosters: tuple[lgb.Booster, ...]
    feature_names: list[str]
    outcome: str
    params: UpliftParams
    seed: int = 0

    @classmethod
    def fit(
        cls,
        features: pd.DataFrame,
        treatment: ArrayLike,
        y: ArrayLike,
        params: UpliftParams | None = None,
        seed: int = 0,
        outcome: str = "kept",
    ) -> UpliftModel:
        """Fit on the customers of a campaign, contacted and control.

        Parameters
        ----------
        features : pandas.DataFrame, shape (n, n_features)
            Feature columns only (no keys, no ``treated`` column), numeric.
        treatment : array-like of 0/1, shape (n,)
            1 = contacted, 0 = control; by position, as the rows of ``features``.
        y : array-like of 0/1, shape (n,)
            1 = the outcome happened (see :attr:`outcome`); by position.
        params : UpliftParams, optional
            Settings (the defaults: an S-learner).
        seed : int
            Seed of LightGBM; with the same data, settings and seed the fit is repeatable.
        outcome : str
            Name of what ``y`` records, kept with the model.
        """
        params = params or UpliftParams()
        if TREATED in features.columns:
            raise ValueError(f"features must not hold a {TREATED!r} column: pass treatment")
        w = _binary(treatment, "treatment", len(features))
        labels = _binary(y, "y", len(features))
        if w.min() == w.max():
            raise ValueError("treatment must have both contacted (1) and control (0) customers")
        names = list(features.columns)
        x = features.astype("float64")
        lgb_params = params.lightgbm(seed)

        def train(matrix: pd.DataFrame, target: np.ndarray) -> lgb.Booster:
            data = lgb.Dataset(matrix, label=target, feature_name=list(matrix.columns))
            return lgb.train(lgb_params, data, num_boost_round=params.n_estimators)

        if params.learner == "s":
            boosters: tuple[lgb.Booster, ...] = (train(x.assign(**{TREATED: w}), labels),)
        else:
            boosters = tuple(train(x[w == arm], labels[w == arm]) for arm in (0, 1))
        return cls(
            boosters=boosters, feature_names=names, outcome=outcome, params=params, seed=seed
        )

    def _matrix(self, features: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.feature_names if c not in features.columns]
        if missing:
            raise KeyError(f"feature table lacks columns the model needs: {missing}")
        return features[self.feature_names].astype("float64")

    def predict_outcome(self, features: pd.DataFrame, treated: bool) -> np.ndarray:
        """Probability of the outcome for each row if contacted (``treated=True``) or
        not, shape ``(n_rows,)``."""
        x = self._matrix(features)
        if self.params.learner == "s":
            return self.boosters[0].predict(x.assign(**{TREATED: float(treated)}))
        return self.boosters[int(treated)].predict(x)

    def predict_uplift(self, features: pd.DataFrame) -> np.ndarray:
        """P(outcome | features, contacted) - P(outcome | features, not contacted) for
        each row, shape ``(n_rows,)``, a share in [-1, 1]."""
        return self.predict_outcome(features, True) - self.predict_outcome(features, False)

    def save(self, folder: str | Path) -> Path:
        """Write the model to ``folder``: the boosters in LightGBM's text format
        (``booster.txt``; a T-learner's ``booster_control.txt`` and
        ``booster_contacted.txt``) and ``uplift.json``; returns the folder."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for booster, name in zip(self.boosters, _booster_files(self.params.learner), strict=True):
            booster.save_model(str(folder / name))
        meta = {
            "feature_names": self.feature_names,
            "outcome": self.outcome,
            "params": self.params.to_dict(),
            "seed": self.seed,
        }
        (folder / "uplift.json").write_text(json.dumps(meta, indent=2))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> UpliftModel:
        """Read a model written by :meth:`save`."""
        folder = Path(folder)
        meta = json.loads((folder / "uplift.json").read_text())
        params = UpliftParams.from_dict(meta["params"])
        return cls(
            boosters=tuple(
                lgb.Booster(model_file=str(folder / name))
                for name in _booster_files(params.learner)
            ),
            feature_names=list(meta["feature_names"]),
            outcome=meta["outcome"],
            params=params,
            seed=int(meta["seed"]),
        )


def response_scores(
    train_features: pd.DataFrame,
    train_outcome: ArrayLike,
    features: pd.DataFrame,
    params: UpliftParams | None = None,
    seed: int = 0,
) -> np.ndarray:
    """The baseline an uplift model must beat where there is no churn model: a response
    model, one LightGBM classifier of the outcome that never sees the treatment, trained on
    ``train_features`` and scoring ``features`` (a list ranked by the chance of the outcome,
    as a propensity list would be)."""
    params = params or UpliftParams()
    labels = _binary(train_outcome, "outcome", len(train_features))
    data = lgb.Dataset(train_features, label=labels, feature_name=list(train_features.columns))
    booster = lgb.train(params.lightgbm(seed), data, num_boost_round=params.n_estimators)
    return np.asarray(booster.predict(features[list(train_features.columns)]), dtype="float64")
