"""The ``churn`` command: one entry point for every stage, the demo shop and the model export.

``churn <stage> [key=value ...]`` runs a stage (train, score, ingest, features, report, export)
with the configs shipped in the package (``churn/conf``, whose source is the repository's
``conf/``); Hydra's own options work as with any Hydra app: ``--help``, ``--cfg job``, ``-m``
for sweeps, and ``--config-dir DIR`` to put a shop's own configs first in the search path.
Every failure ends in one ``error:`` line with the exit code of the command-line contract
(:mod:`churn.stages.cli`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from pathlib import Path
from typing import Any, NoReturn

from churn.errors import ConfigError
from churn.stages.run_context import installed_version

# The configs inside the package: a link to the repository's conf/ in a checkout, a copy
# in a wheel.
CONF_DIR = Path(__file__).resolve().parent / "conf"

# The stages run through Hydra, by command name: their module under churn.stages (its
# ``run(cfg)``) and the primary config of the same name.
STAGES = {
    "train": "Train, evaluate against baselines, and register the model",
    "score": "Score customers into <paths.scores>/<locale>/<as_of>/ (at-risk CSV, summary, scores)",
    "ingest": "Validate an export into the canonical table, with a quarantine",
    "features": "Write point-in-time features (features.parquet)",
    "report": "Retention report for marketers (report.html and CSVs)",
    "outcomes": "Outcomes of past lists: realised churn, the campaign's effect (outcomes.html)",
    "uplift": "Learn whom contacting changes from past campaigns; register the uplift model",
    "export": "Write the registered champion as an MLflow model folder under models/",
}
OTHER_COMMANDS = {
    "demo-data": "Generate the demo shop (data/demo/transactions.parquet; --help for options)",
    "demo-campaign": "Simulate campaigns on stored lists (data/demo/campaign/; --help for options)",
}


def usage() -> str:
    """What ``churn --help`` prints: the commands and the options every stage takes."""
    width = max(map(len, [*STAGES, *OTHER_COMMANDS]))
    lines = [
        "usage: churn <command> [key=value ...] [--config-dir DIR] [--help]",
        "",
        "Predict which customers are about to stop buying, explain why, and hand marketers",
        "at-risk lists.",
        "",
        "commands:",
        *(f"  {name:<{width}}  {text}" for name, text in {**STAGES, **OTHER_COMMANDS}.items()),
        "",
        "Each stage takes Hydra overrides (as_of=2025-12-01, data=online_retail, engine=spark)",
        "and --config-dir DIR (a folder of your own configs, searched before the shipped ones);",
        "`churn <command> --help` lists its settings and config groups.",
        "Logging: hydra/job_logging=quiet (warnings only on the console), =json (one JSON",
        "object per line), =none (no log file).",
        "Exit codes: 0 ok, 2 configuration, 3 input contract, 4 drift, 5 no usable model,",
        "6 files or store (disk, permissions), 7 retrain (outcomes), 1 bug.",
        "",
        f"churn {installed_version()}",
    ]
    return "\n".join(lines)


def _stage_main(name: str) -> Callable[[], Any]:
    """Hydra's ``main`` for a stage: composes ``conf/<name>.yaml`` with the command line's
    overrides and runs the stage under the command-line contract."""
    import hydra
    from omegaconf import DictConfig

    from churn.stages.cli import run_cli

    run = import_module(f"churn.stages.{name}").run

    @hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name=name)
    def main(cfg: DictConfig) -> Any:
        result = run_cli(run, cfg)
        # What a sweeper optimises (hparams_search=optuna): the validation ROC AUC.
        return result.get("validation_roc_auc") if isinstance(result, dict) else None

    return main


def run_stage(name: str, args: Sequence[str]) -> None:
    """Run stage ``name`` with Hydra's command line ``args`` (overrides and options)."""
    from churn.stages.cli import main_with_exit_codes

    if "--version" in args:
        # Hydra's own --version would print Hydra's.
        print(f"churn {installed_version()}")
        return
    # Hydra reads its arguments from sys.argv; the program name shows in its messages.
    sys.argv = [f"churn {name}", *args]
    main_with_exit_codes(_stage_main(name))


def _fail(message: str) -> NoReturn:
    print(usage(), file=sys.stderr)
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(ConfigError.exit_code)


def main(argv: Sequence[str] | None = None) -> None:
    """The ``churn`` console script: ``churn <command> [arguments]``."""
    try:
        _main(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:
        # The reader stopped early (`churn --help | head`): not a failure of churn's, and
        # Python must not print a traceback while flushing the closed pipe at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _main(args: list[str]) -> None:
    if not args:
        _fail("no command given: choose one of the commands above")
    command, rest = args[0], args[1:]
    if command in ("-h", "--help", "help"):
        print(usage())
    elif command in ("-V", "--version"):
        print(f"churn {installed_version()}")
    elif command in STAGES:
        run_stage(command, rest)
    elif command == "demo-data":
        from churn.data.synth import main as synth_main

        synth_main(rest)
    elif command == "demo-campaign":
        from churn.data.campaigns import main as campaign_main

        campaign_main(rest)
    else:
        _fail(f"unknown command {command!r}: choose one of the commands above")


if __name__ == "__main__":
    main()
