"""The scoring runs stored under ``score.output_dir``: ``<locale>/<as_of>/`` folders holding
``manifest.json`` and ``scores.parquet``, as ``churn score`` writes them. The outcomes stage
reads them against later transactions, and the retention report counts each as a campaign
when there is no contact log."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from churn.errors import DataContractError
from churn.stages.run_context import log

# The columns of scores.parquet the outcomes read (group, action: lists made since the
# control group; older lists have listed only).
SCORE_COLUMNS = ("customer_id", "churn_probability", "risk_tier", "segment")


@dataclass(frozen=True)
class StoredRun:
    """One scoring run's folder ``<scores_dir>/<locale>/<as_of>/`` and its manifest."""

    folder: Path
    as_of: dt.date
    manifest: dict[str, Any]

    @property
    def horizon_days(self) -> int:
        """Over how many days the list's probabilities run (90 for lists that predate
        recording it)."""
        return int(self.manifest.get("horizon_days") or 90)

    @property
    def known_on(self) -> dt.date:
        """The last day of the label window: the outcome is known once the data reach it."""
        return self.as_of + dt.timedelta(days=self.horizon_days)

    @property
    def model(self) -> dict[str, Any]:
        """The model that made the list: ``name``, ``version``, ``run_id``."""
        return dict(self.manifest.get("model") or {})


def stored_runs(scores_dir: Path, locale: str) -> list[StoredRun]:
    """The scoring runs under ``scores_dir`` in ``locale``, newest first: folders named by
    a date holding ``manifest.json`` and ``scores.parquet`` (hidden folders, a run's
    temporary or previous outputs, are not runs)."""
    root = scores_dir / locale
    if not root.is_dir():
        return []
    runs = []
    for folder in sorted(root.iterdir(), reverse=True):
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        try:
            as_of = dt.date.fromisoformat(folder.name)
        except ValueError:
            continue
        manifest_path = folder / "manifest.json"
        if not manifest_path.is_file() or not (folder / "scores.parquet").exists():
            log.warning(
                "%s: no manifest.json or scores.parquet, not a scoring run: skipped", folder
            )
            continue
        runs.append(StoredRun(folder, as_of, json.loads(manifest_path.read_text())))
    return runs


def of_model(runs: list[StoredRun], model_name: str) -> list[StoredRun]:
    """The runs made by the registered model ``model_name`` (another shop's lists stored
    in the same folder are left out, with a warning naming them and the setting)."""
    kept = [r for r in runs if r.model.get("name") in (None, model_name)]
    others = sorted({str(r.model.get("name")) for r in runs if r not in kept})
    if others:
        log.warning(
            "%d stored lists were made by another model (%s), not tracking.registered_model="
            "%s: left out (another shop's lists? give each shop its own score.output_dir)",
            len(runs) - len(kept),
            ", ".join(others),
            model_name,
        )
    return kept


def of_source(runs: list[StoredRun], source: str) -> list[StoredRun]:
    """The runs scored from the data ``source`` (as the manifest records it), with a
    warning naming the others."""
    kept = [r for r in runs if r.manifest.get("input", {}).get("source") in (None, source)]
    if len(kept) < len(runs):
        log.warning(
            "%d stored lists were scored from other data than %s: left out",
            len(runs) - len(kept),
            source,
        )
    return kept


def read_scores(run: StoredRun) -> pd.DataFrame:
    """A run's customers with their probability, tier, segment, ``group`` and ``action``
    (a list made before control groups: everyone listed is ``contact``)."""
    scores = pd.read_parquet(run.folder / "scores.parquet")
    missing = [c for c in SCORE_COLUMNS if c not in scores.columns]
    if missing:
        raise DataContractError(
            f"{run.folder / 'scores.parquet'}: columns {', '.join(missing)} missing (rule: a "
            "scoring run's scores.parquet as `churn score` writes it); move the folder out "
            "of score.output_dir or score that date again"
        )
    out = scores[list(SCORE_COLUMNS)].copy()
    out["customer_id"] = out["customer_id"].astype(str)
    if "group" in scores.columns:
        out["group"] = scores["group"].astype(str)
    else:
        listed = scores["listed"] if "listed" in scores.columns else False
        out["group"] = pd.Series(listed, index=scores.index).map(
            {True: "contact", False: "not_selected"}
        )
    out["action"] = scores["action"] if "action" in scores.columns else None
    return out.reset_index(drop=True)
