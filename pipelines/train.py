"""Command line for the train stage; see `python pipelines/train.py --help` and the README."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from churn.stages.cli import main_with_exit_codes, run_cli
from churn.stages.train import run


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float:
    """Run the train stage; return the validation ROC AUC (what a sweeper optimises)."""
    return run_cli(run, cfg)["validation_roc_auc"]


if __name__ == "__main__":
    main_with_exit_codes(main)
