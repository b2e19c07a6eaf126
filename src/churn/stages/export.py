"""Export stage: the registered champion (or a chosen version) as an MLflow model folder
under ``models/``, which ``churn score model.path=...`` reads on a machine with no
tracking store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from churn.stages.run_context import log
from churn.tracking import store as tracking


def run(cfg: DictConfig) -> dict[str, Any]:
    """Write the registered model ``cfg.model`` picks into ``cfg.output_dir``; return
    what was exported (name, version, run id, folder).

    Raises
    ------
    NoModelError
        If the store has no such model (exit code 5); nothing is written.
    """
    exported = tracking.export_model(
        cfg.tracking.uri,
        cfg.tracking.registered_model,
        Path(cfg.output_dir),
        alias=cfg.model.alias,
        version=cfg.model.version,
    )
    log.info(
        "exported model %s version %s (run %s) to %s; score with model.path=%s",
        exported.name,
        exported.version,
        exported.run_id,
        exported.uri,
        cfg.output_dir,
    )
    return {
        "name": exported.name,
        "version": exported.version,
        "run_id": exported.run_id,
        "path": exported.uri,
    }


if __name__ == "__main__":
    # `python -m churn.stages.export` runs the stage as `churn export` does.
    import sys

    from churn.cli import run_stage

    run_stage("export", sys.argv[1:])
