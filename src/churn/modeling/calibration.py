"""Probability calibration: map the booster's raw churn probabilities to calibrated ones.

Fitted on the validation snapshot (out of time for the trees). Two methods:

* ``isotonic``: a non-decreasing step-wise linear map (scikit-learn's
  :class:`~sklearn.isotonic.IsotonicRegression`), flexible, needs a few thousand rows;
* ``sigmoid`` (Platt scaling): ``p = 1 / (1 + exp(-(a * logit(raw) + b)))``, two numbers,
  keeps the ranking exactly.

A calibrator is stored as plain JSON (no pickle) next to the booster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from churn.errors import ConfigError

METHODS = ("isotonic", "sigmoid", "none")
_EPS = 1e-15


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype="float64"), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


@dataclass(frozen=True)
class Calibrator:
    """A fitted calibration map; ``method='none'`` is the identity."""

    method: str = "none"
    params: dict[str, Any] = field(default_factory=dict)

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for raw booster probabilities."""
        raw = np.asarray(raw, dtype="float64")
        if self.method == "isotonic":
            return np.interp(raw, self.params["x"], self.params["y"])
        if self.method == "sigmoid":
            z = self.params["a"] * _logit(raw) + self.params["b"]
            return 1.0 / (1.0 + np.exp(-z))
        return raw

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, read back by :meth:`from_dict`."""
        return {"method": self.method, "params": self.params}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        """Inverse of :meth:`to_dict`."""
        return cls(method=data["method"], params=dict(data.get("params") or {}))


def fit_calibrator(raw: np.ndarray, y_true: np.ndarray, method: str) -> Calibrator:
    """Fit a calibration map from raw probabilities to observed outcomes.

    Raises
    ------
    ConfigError
        If ``method`` is not one of :data:`METHODS`.
    """
    raw = np.asarray(raw, dtype="float64")
    y = np.asarray(y_true, dtype="float64")
    if method == "isotonic":
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, y)
        return Calibrator(
            "isotonic",
            {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()},
        )
    if method == "sigmoid":
        lr = LogisticRegression(C=1e6, solver="lbfgs").fit(_logit(raw).reshape(-1, 1), y)
        return Calibrator("sigmoid", {"a": float(lr.coef_[0][0]), "b": float(lr.intercept_[0])})
    if method == "none":
        return Calibrator()
    raise ConfigError(f"model.calibration must be one of {list(METHODS)}, got {method!r}")
