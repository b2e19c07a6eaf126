"""Ingest stage: canonical ``transactions.parquet``, ``quarantine.csv`` and ``manifest.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from churn.stages.common import log, open_transactions, write_json


def run(cfg: DictConfig) -> dict[str, Any]:
    """Ingest ``cfg.data`` into ``<output_dir>``; return the manifest.

    ``quarantine.csv`` is always written (only a header when no row was rejected), so a
    scheduler can rely on the file being there.
    """
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    opened = open_transactions(cfg)
    target = out / "transactions.parquet"
    opened.con.execute(
        f"COPY transactions TO '{str(target).replace(chr(39), chr(39) * 2)}' (FORMAT parquet)"
    )
    quarantine = opened.ingest.quarantine
    if quarantine.empty:
        quarantine = quarantine.reindex(columns=["reason"])
    quarantine.to_csv(out / "quarantine.csv", index=False)
    write_json(out / "manifest.json", opened.ingest.manifest)
    m = opened.ingest.manifest
    log.info(
        "wrote %s: %d rows kept of %d read (%d quarantined, %d duplicates dropped)",
        target,
        m["rows_kept"],
        m["rows_read"],
        m["rows_quarantined"],
        m["duplicates_dropped"],
    )
    return opened.ingest.manifest
