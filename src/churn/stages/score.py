"""Scoring stage: the at-risk CSV, all scores and a manifest in ``<output_dir>/<as_of>/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from churn import tracking
from churn.errors import ConfigError, DataContractError
from churn.feature_registry import FAMILIES
from churn.features import build_features
from churn.reasons import check_locale, localise_segments, top_reasons
from churn.scoring import assign_segments, risk_tier
from churn.stages.common import (
    atomic_dir,
    ingest_manifest,
    log,
    open_transactions,
    resolve_as_of,
    step,
    write_json,
)

CSV_COLUMNS = [
    "customer_id",
    "churn_probability",
    "risk_tier",
    "segment",
    "recommended_action",
    "days_since_last_order",
    "orders_365d",
    "spend_365d",
    "reason_1",
    "reason_2",
    "reason_3",
    "as_of",
    "model_version",
]


def run(cfg: DictConfig) -> dict[str, Any]:
    """Score every customer in the population at ``cfg.as_of`` with the registered model.

    Returns the manifest written next to the outputs.
    """
    timings: dict[str, float] = {}
    opened = open_transactions(cfg)
    con, last = opened.con, opened.last_date
    as_of = resolve_as_of(cfg.as_of, last)
    locale = check_locale(str(cfg.locale))

    with step("load model", timings):
        tracking.start(cfg.tracking.uri, cfg.tracking.experiment, cfg.tracking.artifact_root)
        model = tracking.load_registered_model(
            cfg.tracking.registered_model, alias=cfg.model.alias, version=cfg.model.version
        )
    classifier = model.classifier
    log.info("model %s version %s (run %s)", model.name, model.version, model.run_id)

    with step("features", timings):
        settings = classifier.feature_settings
        features = build_features(
            con,
            [as_of],
            settings["windows"],
            settings["active_lookback_days"],
            settings.get("families", FAMILIES),
            btyd_horizon_days=settings.get("btyd_horizon_days"),
        )
    if features.empty:
        raise ConfigError(
            f"no customer ordered in the {settings['active_lookback_days']} days up to "
            f"as_of={as_of}: nothing to score"
        )
    missing = [c for c in classifier.feature_names if c not in features.columns]
    if missing:
        raise DataContractError(
            f"{opened.ingest.manifest['source']}: the model needs features this data cannot "
            f"feed ({', '.join(missing)}); their input columns are missing"
        )

    with step("predict and explain", timings):
        scores = features[["customer_id"]].copy()
        scores["churn_probability"] = classifier.predict_proba(features)
        scores["risk_tier"] = risk_tier(scores["churn_probability"], dict(cfg.score.tiers))
        seg_cfg = cfg.score.segments
        vip_min_spend = float(features["spend_365d"].quantile(seg_cfg.vip_spend_quantile))
        scores["segment"] = assign_segments(
            features,
            new_max_tenure_days=int(seg_cfg.new_max_tenure_days),
            dormant_min_days=int(seg_cfg.dormant_min_days),
            vip_min_spend_365d=vip_min_spend,
        )
        scores["segment"], scores["recommended_action"] = localise_segments(
            scores["segment"].tolist(), locale
        )
        for col in ("days_since_last_order", "orders_365d", "spend_365d"):
            scores[col] = features[col]
        scores["as_of"] = as_of.isoformat()
        scores["model_version"] = model.version

        at_risk = scores[scores["risk_tier"].isin(list(cfg.score.at_risk_tiers))].copy()
        reasons = top_reasons(
            classifier.contributions(features.loc[at_risk.index]),
            features.loc[at_risk.index],
            n_reasons=int(cfg.score.n_reasons),
            locale=locale,
            currency=str(cfg.data.currency),
        )
        at_risk = at_risk.join(reasons.sentences)
        at_risk = at_risk.sort_values(
            ["churn_probability", "customer_id"], ascending=[False, True], kind="stable"
        )
        at_risk["churn_probability"] = at_risk["churn_probability"].round(4)
        at_risk["spend_365d"] = at_risk["spend_365d"].round(2)
        for col in ("days_since_last_order", "orders_365d"):
            at_risk[col] = at_risk[col].astype("int64")

    target = Path(cfg.score.output_dir) / as_of.isoformat()
    manifest: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "data_last_date": last.isoformat(),
        "ingest": ingest_manifest(opened),
        "model": {"name": model.name, "version": model.version, "run_id": model.run_id},
        "rows_scored": len(scores),
        "rows_at_risk": len(at_risk),
        "at_risk_by_tier": at_risk["risk_tier"].value_counts().sort_index().to_dict(),
        "at_risk_by_segment": at_risk["segment"].value_counts().sort_index().to_dict(),
        "vip_min_spend_365d": round(vip_min_spend, 2),
        "mean_churn_probability": float(np.mean(scores["churn_probability"])),
    }
    with step("write outputs", timings), atomic_dir(target) as tmp:
        at_risk[CSV_COLUMNS].to_csv(tmp / "at_risk_customers.csv", index=False)
        scores.to_parquet(tmp / "scores.parquet", index=False)
        manifest["timings_s"] = timings
        write_json(tmp / "manifest.json", manifest)
        if len(opened.ingest.quarantine):
            opened.ingest.quarantine.to_csv(tmp / "quarantine.csv", index=False)
    log.info(
        "%d of %d customers at risk; wrote %s",
        len(at_risk),
        len(scores),
        target / "at_risk_customers.csv",
    )
    return manifest
