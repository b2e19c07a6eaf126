"""Rolling-origin snapshot schedule: which cutoffs train, validate and test a model.

With data ending on ``last_date`` and a label horizon ``h``:

* the **test** cutoff is ``last_date - h``, the latest date whose label window is complete;
* the **validation** cutoff is ``test - h``: its label window ends on the test cutoff, so
  nothing used for early stopping comes from after the test cutoff;
* the **training** cutoffs are ``validation - h - k * spacing`` for ``k = 0..n-1``: their
  label windows end on or before the validation cutoff, so validation is out of time too.

Cutoffs with less than ``min_history_days`` of data before them are skipped.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from churn.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Schedule:
    """Cutoff dates of one rolling-origin evaluation (training cutoffs oldest first)."""

    train: tuple[dt.date, ...]
    validation: dt.date
    test: dt.date

    def as_dict(self) -> dict[str, str]:
        """ISO dates, for logging."""
        return {
            "train_cutoffs": ",".join(d.isoformat() for d in self.train),
            "validation_cutoff": self.validation.isoformat(),
            "test_cutoff": self.test.isoformat(),
        }


def snapshot_schedule(
    first_date: dt.date,
    last_date: dt.date,
    horizon_days: int,
    n_train_cutoffs: int = 6,
    spacing_days: int = 30,
    min_history_days: int = 180,
) -> Schedule:
    """Compute the snapshot schedule for data covering ``first_date..last_date``.

    Raises
    ------
    ConfigError
        If the data is too short to hold at least one training cutoff with enough
        history before it, a validation and a test cutoff.
    """
    if n_train_cutoffs < 1 or spacing_days < 1:
        raise ConfigError("split.n_train_cutoffs and split.spacing_days must be at least 1")
    h = dt.timedelta(days=int(horizon_days))
    test = last_date - h
    validation = test - h
    earliest = first_date + dt.timedelta(days=int(min_history_days))
    train = []
    for k in range(n_train_cutoffs):
        cutoff = validation - h - dt.timedelta(days=k * int(spacing_days))
        if cutoff < earliest:
            log.info(
                "skipping training cutoff %s: less than %d days of history",
                cutoff,
                min_history_days,
            )
            continue
        train.append(cutoff)
    if not train:
        raise ConfigError(
            f"data from {first_date} to {last_date} is too short for a {horizon_days}-day "
            f"horizon: need about {3 * horizon_days + min_history_days} days "
            f"(3 horizons + split.min_history_days)"
        )
    return Schedule(train=tuple(sorted(train)), validation=validation, test=test)
