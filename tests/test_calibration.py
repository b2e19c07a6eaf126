"""Calibration maps: fitted on raw probabilities, stored as JSON, applied exactly."""

from __future__ import annotations

import numpy as np
import pytest

from churn.errors import ConfigError
from churn.modeling.calibration import Calibrator, fit_calibrator


def test_isotonic_maps_each_step_to_its_observed_rate():
    raw = np.array([0.1, 0.2, 0.3, 0.4])
    y = np.array([0, 1, 0, 1])
    # Pool-adjacent-violators: (0.2 -> 1, 0.3 -> 0) violate order and pool to 0.5.
    calibrated = fit_calibrator(raw, y, "isotonic").apply(raw)
    assert calibrated.tolist() == pytest.approx([0.0, 0.5, 0.5, 1.0])


def test_sigmoid_keeps_the_ranking():
    rng = np.random.default_rng(0)
    raw = rng.uniform(0.05, 0.95, 200)
    y = (rng.uniform(size=200) < raw**2).astype(int)
    calibrated = fit_calibrator(raw, y, "sigmoid").apply(raw)
    assert (np.argsort(calibrated) == np.argsort(raw)).all()


def test_sigmoid_corrects_systematic_overconfidence():
    rng = np.random.default_rng(1)
    truth = rng.uniform(0.1, 0.9, 5000)
    y = (rng.uniform(size=5000) < truth).astype(int)
    overconfident = 1 / (1 + np.exp(-3 * np.log(truth / (1 - truth))))
    calibrator = fit_calibrator(overconfident, y, "sigmoid")
    assert calibrator.params["a"] == pytest.approx(1 / 3, abs=0.05)


def test_round_trip_through_a_dict_predicts_the_same():
    raw = np.array([0.1, 0.35, 0.6, 0.9])
    fitted = fit_calibrator(raw, np.array([0, 0, 1, 1]), "isotonic")
    again = Calibrator.from_dict(fitted.to_dict())
    assert again.apply(np.array([0.2, 0.7])).tolist() == fitted.apply(np.array([0.2, 0.7])).tolist()


def test_none_is_the_identity():
    raw = np.array([0.12, 0.5])
    assert fit_calibrator(raw, np.array([0, 1]), "none").apply(raw).tolist() == [0.12, 0.5]


def test_an_unknown_method_is_a_config_error():
    with pytest.raises(ConfigError, match="model.calibration"):
        fit_calibrator(np.array([0.5]), np.array([1]), "beta")
