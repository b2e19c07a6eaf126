"""Feature stage: ``features.parquet`` for one cutoff, or several (``as_of=[d1,d2]``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, ListConfig

from churn.stages.inputs import open_transactions, write_ingest_report
from churn.stages.run_context import log, resolve_as_of


def run(cfg: DictConfig) -> pd.DataFrame:
    """Build the feature table at ``cfg.as_of`` and write ``<output_dir>/features.parquet``.

    ``as_of`` is one date (default: the data's last date) or a list of dates: the table
    then has one row per customer in each cutoff's population (key ``customer_id, as_of``).
    """
    opened = open_transactions(cfg)
    asked = list(cfg.as_of) if isinstance(cfg.as_of, ListConfig) else [cfg.as_of]
    cutoffs = sorted({resolve_as_of(value, opened.last_date) for value in asked})
    table = opened.features(
        cutoffs,
        windows=list(cfg.features.windows),
        active_lookback_days=int(cfg.label.active_lookback_days),
        families=list(cfg.features.families),
        btyd_horizon_days=int(cfg.label.horizon_days) if cfg.features.btyd.enabled else None,
    )
    out = Path(cfg.output_dir)
    write_ingest_report(opened, out)
    table.to_parquet(out / "features.parquet", index=False)
    log.info(
        "wrote %s: %d rows x %d features as of %s",
        out / "features.parquet",
        len(table),
        table.shape[1] - 2,
        ", ".join(str(c) for c in cutoffs),
    )
    return table


if __name__ == "__main__":
    # `python -m churn.stages.features` runs the stage as `churn features` does.
    import sys

    from churn.cli import run_stage

    run_stage("features", sys.argv[1:])
