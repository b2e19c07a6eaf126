"""After an Optuna sweep: train the final model with the best trial's settings.

Hydra calls :class:`TrainBestTrial` when a multirun ends (see
``conf/hparams_search/optuna.yaml``). It reads the sweeper's ``optimization_results.yaml``
and runs the train entry point once more, as a normal run that registers its model
through the promotion gate, with the sweep's own overrides plus the best parameters.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

RESULTS_FILE = "optimization_results.yaml"


def final_overrides(task_overrides: list[str], best_params: dict[str, Any]) -> list[str]:
    """Overrides of the final run: the sweep's task overrides without the search itself
    (``hparams_search=...``) or the tuned keys, then the best values, then registration."""
    tuned = set(best_params)
    kept = [
        o
        for o in task_overrides
        if o.split("=", 1)[0].lstrip("+~") not in tuned and not o.startswith("hparams_search=")
    ]
    return [*kept, *(f"{k}={v}" for k, v in best_params.items()), "train.register=true"]


class TrainBestTrial(Callback):
    """Hydra callback: when the sweep ends, train and register with the best settings."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Run ``churn train`` with the best trial's parameters in
        ``<sweep dir>/final``; a failure there fails the sweep's command."""
        sweep_dir = Path(config.hydra.sweep.dir)
        results = sweep_dir / RESULTS_FILE
        if not results.exists():
            log.warning("no %s in %s: no final model trained", RESULTS_FILE, sweep_dir)
            return
        best = OmegaConf.to_container(OmegaConf.load(results), resolve=True)
        overrides = final_overrides(list(config.hydra.overrides.task), best["best_params"])
        log.info(
            "best trial: validation ROC AUC %.4f with %s; training the final model",
            best["best_value"],
            best["best_params"],
        )
        # `churn train` (python -m churn), whichever script started the sweep, with the
        # shop's own config folder if it gave one.
        own = [
            f"--config-dir={source.path.removeprefix('file://')}"
            for source in config.hydra.runtime.config_sources
            if source.provider == "command-line"
        ]
        command = [
            sys.executable,
            "-m",
            "churn",
            "train",
            *own,
            *overrides,
            f"hydra.run.dir={sweep_dir / 'final'}",
        ]
        log.info("running: %s", " ".join(command))
        done = subprocess.run(command, check=False)
        if done.returncode != 0:
            raise SystemExit(done.returncode)
