"""Ingest stage: canonical ``transactions.parquet``, ``quarantine.csv`` and ``manifest.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from churn.stages.inputs import combined_manifest, open_transactions
from churn.stages.outputs import write_json
from churn.stages.run_context import log


def run(cfg: DictConfig) -> dict[str, Any]:
    """Ingest ``cfg.data`` into ``<output_dir>``; return the manifest.

    With ``data.customers`` set, also ``customers.parquet`` and
    ``customers_quarantine.csv``.

    ``quarantine.csv`` is always written (only a header when no row was rejected), so a
    scheduler can rely on the file being there; when too many rows are bad, the stage
    fails but leaves ``quarantine.csv`` and ``manifest.json`` (with ``error``) all the same.
    """
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    # A failed ingest leaves manifest.json and quarantine.csv here too.
    opened = open_transactions(cfg, manifest_name="manifest.json")
    target = out / "transactions.parquet"
    opened.write_parquet("transactions", target)
    quarantine = opened.ingest.quarantine
    if quarantine.empty:
        quarantine = quarantine.reindex(columns=["reason"])
    quarantine.to_csv(out / "quarantine.csv", index=False)
    if opened.customers is not None:
        opened.write_parquet("customers", out / "customers.parquet")
        opened.customers.quarantine.reindex(
            columns=list(opened.customers.quarantine.columns) or ["reason"]
        ).to_csv(out / "customers_quarantine.csv", index=False)
    manifest = combined_manifest(opened)
    write_json(out / "manifest.json", manifest)
    m = opened.ingest.manifest
    log.info(
        "wrote %s: %d rows kept of %d read (%d quarantined, %d duplicates dropped, "
        "%d without a customer id, %d of excluded products)",
        target,
        m["rows_kept"],
        m["rows_read"],
        m["rows_quarantined"],
        m["duplicates_dropped"],
        m["rows_without_customer"],
        m["rows_excluded_products"],
    )
    return manifest


if __name__ == "__main__":
    # `python -m churn.stages.ingest` runs the stage as `churn ingest` does.
    import sys

    from churn.cli import run_stage

    run_stage("ingest", sys.argv[1:])
