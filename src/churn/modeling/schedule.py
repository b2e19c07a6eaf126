"""Rolling-origin snapshot schedules: which cutoffs train, validate and test a model.

With data ending on ``last_date``, a label horizon ``h`` and ``m = min_history_days``:

* the **test** cutoff is ``last_date - h``, the latest date whose label window is complete;
* the **validation** cutoff is ``test - h``: its label window ends on the test cutoff, so
  nothing used for early stopping or calibration comes from after the test cutoff;
* the **training** cutoffs, when the history holds all ``n_train_cutoffs`` of them, are
  ``validation - h - k * spacing`` for ``k = 0..n-1`` (*out-of-time validation*: their
  label windows end on or before the validation cutoff);
* with a shorter history (real shops often have a year or less) they are the most recent
  cutoffs before the validation cutoff, ``validation - k * s`` for ``k = 1..n``, with the
  spacing ``s`` shrunk (down to ``min_spacing_days``) so that they fit after
  ``first_date + m``. Their label windows overlap the validation window but still end on or
  before the test cutoff. When the only labelled cutoff is the validation cutoff itself,
  its customers are split: a fixed share (:data:`HOLDOUT_SHARE`) validates, the rest
  trains.

Any history of at least ``2 h + m`` days therefore has a schedule; a shorter one is a
:class:`~churn.errors.ConfigError` that names the longest horizon the data allows.

Several **test origins** (:func:`origin_schedules`) repeat this as if the data ended
``origin_spacing_days``, twice that, ... earlier: each origin gets its own schedule, so a
model evaluated at an origin is trained only on what was known at that origin.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from churn.errors import ConfigError

log = logging.getLogger(__name__)

# Share of the validation cutoff's customers held out to validate when that cutoff is the
# only labelled one (the rest trains).
HOLDOUT_SHARE = 0.2
OUT_OF_TIME = "out-of-time"
RECENT = "recent-overlapping"
SINGLE = "single-cutoff-holdout"


@dataclass(frozen=True)
class Schedule:
    """Cutoff dates of one rolling-origin evaluation (training cutoffs oldest first).

    ``mode`` says how the training cutoffs were placed (:data:`OUT_OF_TIME`,
    :data:`RECENT` or :data:`SINGLE`), ``spacing_days`` their spacing,
    ``validation_holdout`` the share of the validation cutoff's customers that validate
    when the validation cutoff also trains (0 otherwise), and ``notes`` why, in words.
    """

    train: tuple[dt.date, ...]
    validation: dt.date
    test: dt.date
    mode: str = OUT_OF_TIME
    spacing_days: int = 30
    validation_holdout: float = 0.0
    notes: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, str]:
        """ISO dates, for logging and tags."""
        return {
            "train_cutoffs": ",".join(d.isoformat() for d in self.train),
            "validation_cutoff": self.validation.isoformat(),
            "test_cutoff": self.test.isoformat(),
        }

    def describe(self) -> dict[str, Any]:
        """Everything about the schedule, for ``schedule.json``."""
        return {
            **self.as_dict(),
            "mode": self.mode,
            "spacing_days": self.spacing_days,
            "validation_holdout": self.validation_holdout,
            "notes": list(self.notes),
        }


def longest_horizon(first_date: dt.date, last_date: dt.date, min_history_days: int) -> int:
    """The longest horizon (days) whose schedule fits data from ``first_date`` to
    ``last_date``: two horizons plus ``min_history_days`` (0 when none fits)."""
    return max(0, ((last_date - first_date).days - int(min_history_days)) // 2)


def _too_short(first: dt.date, last: dt.date, horizon_days: int, min_history_days: int) -> str:
    longest = longest_horizon(first, last, min_history_days)
    fix = (
        f"use label.horizon_days={longest} or less, or more history"
        if longest >= 1
        else "more history is needed"
    )
    return (
        f"data from {first} to {last} ({(last - first).days} days) is too short for a "
        f"{horizon_days}-day horizon: need {2 * horizon_days + min_history_days} days "
        f"(2 horizons + split.min_history_days={min_history_days}); {fix}"
    )


def snapshot_schedule(
    first_date: dt.date,
    last_date: dt.date,
    horizon_days: int,
    n_train_cutoffs: int = 6,
    spacing_days: int = 30,
    min_history_days: int = 30,
    min_spacing_days: int = 7,
) -> Schedule:
    """Compute the snapshot schedule for data covering ``first_date..last_date``.

    Every label window used to train, stop early, calibrate or choose the model ends on or
    before the test cutoff; every training cutoff has at least ``min_history_days`` of data
    before it.

    Raises
    ------
    ConfigError
        If the data is shorter than two horizons plus ``min_history_days`` (the message
        names the longest horizon that fits).
    """
    if n_train_cutoffs < 1 or spacing_days < 1 or min_spacing_days < 1:
        raise ConfigError(
            "split.n_train_cutoffs, split.spacing_days and split.min_spacing_days must be "
            "at least 1"
        )
    h = dt.timedelta(days=int(horizon_days))
    test = last_date - h
    validation = test - h
    earliest = first_date + dt.timedelta(days=int(min_history_days))
    if validation < earliest:
        raise ConfigError(_too_short(first_date, last_date, horizon_days, min_history_days))

    strict = [validation - h - dt.timedelta(days=k * spacing_days) for k in range(n_train_cutoffs)]
    if strict[-1] >= earliest:
        return Schedule(
            train=tuple(sorted(strict)),
            validation=validation,
            test=test,
            mode=OUT_OF_TIME,
            spacing_days=spacing_days,
            notes=(
                f"{n_train_cutoffs} training cutoffs every {spacing_days} days, their label "
                "windows ending on or before the validation cutoff (out-of-time validation)",
            ),
        )

    room = (validation - earliest).days
    needed = 3 * horizon_days + (n_train_cutoffs - 1) * spacing_days + min_history_days
    why = (
        f"the history ({(last_date - first_date).days} days) is shorter than the {needed} "
        f"days of {n_train_cutoffs} out-of-time training cutoffs"
    )
    spacing = min(spacing_days, max(min_spacing_days, room // n_train_cutoffs))
    train = [
        validation - dt.timedelta(days=k * spacing)
        for k in range(1, n_train_cutoffs + 1)
        if validation - dt.timedelta(days=k * spacing) >= earliest
    ]
    if not train:
        return Schedule(
            train=(validation,),
            validation=validation,
            test=test,
            mode=SINGLE,
            spacing_days=spacing,
            validation_holdout=HOLDOUT_SHARE,
            notes=(
                f"{why}: only one labelled cutoff ({validation}); "
                f"{round(HOLDOUT_SHARE * 100)}% of its customers validate, the rest train",
            ),
        )
    notes = [
        f"{why}: {len(train)} training cutoffs every {spacing} days before the validation "
        "cutoff, the most recent labelled ones; their label windows overlap the validation "
        "window and end on or before the test cutoff"
    ]
    if len(train) == 1:
        notes.append("only one training cutoff: the model sees a single period")
    return Schedule(
        train=tuple(sorted(train)),
        validation=validation,
        test=test,
        mode=RECENT,
        spacing_days=spacing,
        notes=tuple(notes),
    )


def origin_cutoffs(
    first_date: dt.date,
    last_date: dt.date,
    horizon_days: int,
    n_origins: int = 3,
    origin_spacing_days: int = 30,
    min_history_days: int = 30,
) -> tuple[dt.date, ...]:
    """The test cutoffs of a rolling-origin evaluation, oldest first: ``last_date - h``,
    then ``origin_spacing_days`` earlier each, as many of ``n_origins`` as leave a
    schedule (two horizons plus ``min_history_days`` of data up to ``origin + h``).

    Raises
    ------
    ConfigError
        If not even the newest origin has a schedule.
    """
    if n_origins < 1 or origin_spacing_days < 1:
        raise ConfigError("split.n_test_origins and split.origin_spacing_days must be at least 1")
    h = dt.timedelta(days=int(horizon_days))
    earliest = first_date + dt.timedelta(days=int(min_history_days))
    origins = [last_date - h - dt.timedelta(days=k * origin_spacing_days) for k in range(n_origins)]
    fitting = [o for o in origins if o - h >= earliest]
    if not fitting:
        raise ConfigError(_too_short(first_date, last_date, horizon_days, min_history_days))
    return tuple(sorted(fitting))


def origin_schedules(
    first_date: dt.date,
    last_date: dt.date,
    horizon_days: int,
    n_origins: int = 3,
    origin_spacing_days: int = 30,
    **schedule: int,
) -> tuple[Schedule, ...]:
    """One :func:`snapshot_schedule` per test origin (:func:`origin_cutoffs`), oldest first,
    each as if the data ended on its origin + horizon. ``schedule`` holds
    :func:`snapshot_schedule`'s keyword arguments."""
    min_history = int(schedule.get("min_history_days", 30))
    origins = origin_cutoffs(
        first_date, last_date, horizon_days, n_origins, origin_spacing_days, min_history
    )
    return tuple(
        snapshot_schedule(
            first_date, origin + dt.timedelta(days=int(horizon_days)), horizon_days, **schedule
        )
        for origin in origins
    )


def holdout_customers(customer_ids: pd.Series, share: float) -> np.ndarray:
    """True for the customers held out to validate: a fixed ``share`` of ids chosen by a
    hash of the id, so the same customer is held out in every run and at every cutoff."""
    if share <= 0:
        return np.zeros(len(customer_ids), dtype=bool)
    hashed = pd.util.hash_pandas_object(customer_ids.astype(str), index=False).to_numpy()
    return (hashed % np.uint64(10_000)) < np.uint64(round(share * 10_000))
