"""Scoring stage (nightly): ``<output_dir>/<as_of>/`` gets the at-risk CSV, every score,
a manifest and a one-page summary for marketers, all or nothing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from churn import tracking
from churn.drift import drift_report
from churn.errors import ConfigError, DataContractError, DriftError
from churn.feature_registry import FAMILIES
from churn.reasons import check_locale, localise_segments, top_reasons
from churn.scoring import (
    assign_segments,
    expected_value_at_risk,
    neutralise_formulas,
    risk_tier,
    select_at_risk,
)
from churn.stages.common import (
    OpenedData,
    code_version,
    ingest_manifest,
    input_fingerprint,
    local_uri,
    log,
    open_transactions,
    resolve_as_of,
    step,
    write_json,
)
from churn.stages.output_folder import atomic_dir
from churn.summary_page import write_summary

CSV_FILE = "at_risk_customers.csv"
# The at-risk CSV holds these columns only, in this order (an allow-list: nothing else
# about a customer leaves the pipeline through it).
CSV_COLUMNS = [
    "customer_id",
    "churn_probability",
    "risk_tier",
    "segment",
    "recommended_action",
    "expected_value_at_risk",
    "days_since_last_order",
    "orders_365d",
    "spend_365d",
    "reason_1",
    "reason_2",
    "reason_3",
    "as_of",
    "model_version",
]


def _opted_out(opened: OpenedData) -> set[str]:
    if "marketing_opt_out" not in (opened.columns("customers") or []):
        return set()
    rows = opened.rows("SELECT customer_id FROM customers WHERE marketing_opt_out")
    return {str(r[0]) for r in rows}


def _predict(opened: OpenedData, model: Any, features: pd.DataFrame) -> np.ndarray:
    """Churn probabilities: in process (DuckDB engine), or by MLflow's Spark UDF of the
    registered model on the Spark engine's workers."""
    classifier = model.classifier
    if opened.engine != "spark":
        return classifier.predict_proba(features)
    names = list(classifier.feature_names)
    udf = tracking.spark_udf(opened.spark, model.name, model.version)
    frame = opened.spark.createDataFrame(features[["customer_id", *names]])
    predicted = frame.select("customer_id", udf(*names).alias("p")).toPandas()
    by_customer = predicted.set_index("customer_id")["p"]
    return by_customer.reindex(features["customer_id"]).to_numpy(dtype="float64")


def _write_scores(opened: OpenedData, scores: pd.DataFrame, target: Path) -> None:
    """``scores.parquet``: one file (DuckDB engine), or on Spark a folder partitioned by
    ``risk_tier`` (``risk_tier=high/part-*.parquet``), as a data lake table expects."""
    if opened.engine != "spark":
        scores.to_parquet(target, index=False)
        return
    frame = opened.spark.createDataFrame(scores)
    frame.write.mode("overwrite").partitionBy("risk_tier").parquet(local_uri(target))


def _check_drift(report: list[dict[str, Any]], cfg: DictConfig) -> None:
    for row in report:
        if row["status"] == "warn":
            log.warning(
                "drift: %s PSI %.3f >= score.drift.warn_psi %s",
                row["feature"],
                row["psi"],
                cfg.score.drift.warn_psi,
            )
    failed = [r for r in report if r["status"] == "fail"]
    if failed:
        worst = failed[0]
        others = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        raise DriftError(
            f"feature drift: {worst['feature']} has PSI {worst['psi']:.3f} >= "
            f"score.drift.fail_psi={cfg.score.drift.fail_psi} against the model's training "
            f"population{others}; check the input data, retrain, or set "
            "score.drift.fail_psi=null to score anyway"
        )


def _summary(
    cfg: DictConfig,
    as_of: str,
    model: Any,
    scores: pd.DataFrame,
    at_risk: pd.DataFrame,
    reason_features: pd.DataFrame,
    suppressed: int,
    locale: str,
) -> dict[str, Any]:
    by_cell = (
        at_risk.groupby(["segment", "risk_tier"], sort=True)
        .agg(customers=("customer_id", "size"), value_at_risk=("expected_value_at_risk", "sum"))
        .reset_index()
        .rename(columns={"risk_tier": "tier"})
    )
    counts = pd.Series(reason_features.to_numpy().ravel()).value_counts()
    counts = counts[counts.index != ""]
    top = []
    for feature, n in (
        counts.sort_index().sort_values(ascending=False, kind="stable").head(8).items()
    ):
        holder = reason_features.eq(feature).to_numpy()
        row, col = np.argwhere(holder)[0]
        top.append(
            {
                "feature": feature,
                "example": at_risk.iloc[row][f"reason_{col + 1}"],
                "customers": int(n),
            }
        )
    counts_hist, edges = np.histogram(scores["churn_probability"], bins=10, range=(0, 1))
    keys = ["new", "regular", "dormant", "vip"]
    names, actions = localise_segments(keys, locale)
    return {
        "as_of": as_of,
        "locale": locale,
        "currency": str(cfg.data.currency),
        "model": {"name": model.name, "version": model.version},
        "totals": {
            "scored": len(scores),
            "at_risk": len(at_risk),
            "suppressed_opt_out": suppressed,
            "value_at_risk": float(at_risk["expected_value_at_risk"].sum()),
        },
        "by_segment_tier": by_cell.to_dict("records"),
        "top_reasons": top,
        "probability_histogram": {"edges": edges.tolist(), "counts": counts_hist.tolist()},
        "tiers": {k: float(v) for k, v in cfg.score.tiers.items()},
        "actions": [{"segment": n, "action": a} for n, a in zip(names, actions, strict=True)],
        "files": {"csv": CSV_FILE},
    }


def run(cfg: DictConfig) -> dict[str, Any]:
    """Score every customer in the population at ``cfg.as_of`` with the registered model.

    Returns the manifest written next to the outputs.

    Raises
    ------
    ConfigError, DataContractError, DriftError, NoModelError
        Exit codes 2, 3, 4 and 5 of the command line; nothing is written for the date.
    """
    timings: dict[str, float] = {}
    locale = check_locale(str(cfg.locale))
    with step("ingest", timings):
        opened = open_transactions(cfg)
    last = opened.last_date
    as_of = resolve_as_of(cfg.as_of, last)

    with step("load model", timings):
        tracking.start(cfg.tracking.uri, cfg.tracking.experiment, cfg.tracking.artifact_root)
        model = tracking.load_registered_model(
            cfg.tracking.registered_model, alias=cfg.model.alias, version=cfg.model.version
        )
    classifier = model.classifier
    log.info("model %s version %s (run %s)", model.name, model.version, model.run_id)

    with step("features", timings):
        settings = classifier.feature_settings
        features = opened.features(
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

    with step("drift check", timings):
        fail_psi = cfg.score.drift.fail_psi
        drift = drift_report(
            classifier.reference,
            features,
            float(cfg.score.drift.warn_psi),
            None if fail_psi is None else float(fail_psi),
            ignore=list(cfg.score.drift.get("ignore") or []),
        )
        _check_drift(drift, cfg)
    if not classifier.reference:
        log.warning("model version %s has no drift reference: drift not checked", model.version)

    with step("predict", timings):
        scores = features[["customer_id"]].copy()
        scores["churn_probability"] = _predict(opened, model, features)
        scores["risk_tier"] = risk_tier(scores["churn_probability"], dict(cfg.score.tiers))
        seg_cfg = cfg.score.segments
        vip_min_spend = float(features["spend_365d"].quantile(seg_cfg.vip_spend_quantile))
        segment_keys = assign_segments(
            features,
            new_max_tenure_days=int(seg_cfg.new_max_tenure_days),
            dormant_min_days=int(seg_cfg.dormant_min_days),
            vip_min_spend_365d=vip_min_spend,
        )
        scores["segment"], scores["recommended_action"] = localise_segments(
            segment_keys.tolist(), locale
        )
        scores["expected_value_at_risk"] = expected_value_at_risk(
            scores["churn_probability"], features["spend_365d"]
        )
        for col in ("days_since_last_order", "orders_365d", "spend_365d"):
            scores[col] = features[col]
        scores["as_of"] = as_of.isoformat()
        scores["model_version"] = model.version
        opted_out = _opted_out(opened)
        scores["marketing_opt_out"] = scores["customer_id"].isin(opted_out)

    with step("select and explain", timings):
        selected = select_at_risk(
            scores,
            str(cfg.score.selection),
            list(cfg.score.at_risk_tiers),
            top_k=cfg.score.top_k,
            budget=cfg.score.budget,
            cost_per_contact=float(cfg.score.cost_per_contact),
        )
        suppressed = int(selected["marketing_opt_out"].sum())
        at_risk = selected[~selected["marketing_opt_out"]].copy()
        reasons = top_reasons(
            classifier.contributions(features.loc[at_risk.index]),
            features.loc[at_risk.index],
            n_reasons=int(cfg.score.n_reasons),
            locale=locale,
            currency=str(cfg.data.currency),
        )
        at_risk = at_risk.join(reasons.sentences)
        at_risk["churn_probability"] = at_risk["churn_probability"].round(4)
        at_risk["expected_value_at_risk"] = at_risk["expected_value_at_risk"].round(2)
        at_risk["spend_365d"] = at_risk["spend_365d"].round(2)
        for col in ("days_since_last_order", "orders_365d"):
            at_risk[col] = at_risk[col].astype("int64")

    target = Path(cfg.score.output_dir) / as_of.isoformat()
    config = OmegaConf.to_container(cfg, resolve=True)
    manifest: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "data_last_date": last.isoformat(),
        "input": input_fingerprint(opened),
        "ingest": ingest_manifest(opened),
        "model": {"name": model.name, "version": model.version, "run_id": model.run_id},
        "rows_read": opened.ingest.manifest["rows_read"],
        "rows_scored": len(scores),
        "rows_at_risk": len(at_risk),
        "rows_suppressed_opt_out": suppressed,
        "selection": str(cfg.score.selection),
        "at_risk_by_tier": at_risk["risk_tier"].value_counts().sort_index().to_dict(),
        "at_risk_by_segment": at_risk["segment"].value_counts().sort_index().to_dict(),
        "expected_value_at_risk": round(float(at_risk["expected_value_at_risk"].sum()), 2),
        "vip_min_spend_365d": round(vip_min_spend, 2),
        "mean_churn_probability": float(np.mean(scores["churn_probability"])),
        "drift": {
            "checked": bool(classifier.reference),
            "warn_psi": cfg.score.drift.warn_psi,
            "fail_psi": cfg.score.drift.fail_psi,
            "features": drift,
        },
        "locale": locale,
        "config_sha256": hashlib.sha256(
            json.dumps(config, sort_keys=True, default=str).encode()
        ).hexdigest(),
        "code_version": code_version(),
    }
    with step("write outputs", timings), atomic_dir(target) as tmp:
        neutralise_formulas(at_risk[CSV_COLUMNS]).to_csv(
            tmp / CSV_FILE,
            index=False,
            sep=str(cfg.score.csv.sep),
            decimal=str(cfg.score.csv.decimal),
            encoding="utf-8",
        )
        _write_scores(opened, scores, tmp / "scores.parquet")
        write_summary(
            _summary(
                cfg,
                as_of.isoformat(),
                model,
                scores,
                at_risk,
                reasons.features,
                suppressed,
                locale,
            ),
            tmp / "summary.html",
        )
        if len(opened.ingest.quarantine):
            opened.ingest.quarantine.to_csv(tmp / "quarantine.csv", index=False)
        manifest["timings_s"] = timings
        write_json(tmp / "manifest.json", manifest)
    print(
        f"scored {len(scores):,} customers as of {as_of}: {len(at_risk):,} at risk "
        f"({suppressed:,} more left out: marketing opt-out), expected value at risk "
        f"{manifest['expected_value_at_risk']:,.2f} {cfg.data.currency}; wrote {target}",
        flush=True,
    )
    return manifest
