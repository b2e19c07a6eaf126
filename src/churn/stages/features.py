"""Feature stage: ``features.parquet`` for one cutoff."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from churn.stages.common import log, open_transactions, resolve_as_of, write_ingest_report


def run(cfg: DictConfig) -> pd.DataFrame:
    """Build the feature table at ``cfg.as_of`` and write ``<output_dir>/features.parquet``."""
    opened = open_transactions(cfg)
    as_of = resolve_as_of(cfg.as_of, opened.last_date)
    table = opened.features(
        [as_of],
        windows=list(cfg.features.windows),
        active_lookback_days=int(cfg.label.active_lookback_days),
        families=list(cfg.features.families),
        btyd_horizon_days=int(cfg.label.horizon_days) if cfg.features.btyd.enabled else None,
    )
    out = Path(cfg.output_dir)
    write_ingest_report(opened, out)
    table.to_parquet(out / "features.parquet", index=False)
    log.info(
        "wrote %s: %d customers x %d features as of %s",
        out / "features.parquet",
        len(table),
        table.shape[1] - 2,
        as_of,
    )
    return table
