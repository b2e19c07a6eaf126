"""Command line for the features stage; see `python pipelines/features.py --help` and the README."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from churn.stages.cli import main_with_exit_codes, run_cli
from churn.stages.features import run


@hydra.main(version_base="1.3", config_path="../conf", config_name="features")
def main(cfg: DictConfig) -> None:
    """Run the features stage with the composed config."""
    run_cli(run, cfg)


if __name__ == "__main__":
    main_with_exit_codes(main)
