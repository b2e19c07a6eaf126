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

from churn.data.consent import quarantined_objections, suppression_reasons
from churn.errors import ChurnError, ConfigError, DataContractError, DriftError
from churn.features.registry import FAMILIES
from churn.reporting.summary_page import write_summary
from churn.scoring.drift import drift_report
from churn.scoring.reasons import check_locale, localise_segments, top_reasons
from churn.scoring.selection import (
    assign_segments,
    empty_list_reason,
    expected_value_at_risk,
    neutralise_formulas,
    risk_tier,
    select_at_risk,
)
from churn.stages.inputs import (
    OpenedData,
    combined_manifest,
    input_fingerprint,
    local_uri,
    open_transactions,
)
from churn.stages.output_folder import atomic_dir, check_output_folder
from churn.stages.outputs import write_json
from churn.stages.run_context import code_version, log, resolve_as_of, step
from churn.tracking import store as tracking

CSV_FILE = "at_risk_customers.csv"
# The at-risk CSV holds these columns only, in this order (an allow-list: nothing else
# about a customer leaves the pipeline through it); reason_1..reason_<n_reasons> go
# between spend_365d and as_of.
CSV_LEADING = [
    "customer_id",
    "churn_probability",
    "risk_tier",
    "segment",
    "recommended_action",
    "expected_value_at_risk",
    "days_since_last_order",
    "orders_365d",
    "spend_365d",
]
CSV_TRAILING = ["as_of", "model_version"]
CSV_COLUMNS = [*CSV_LEADING, "reason_1", "reason_2", "reason_3", *CSV_TRAILING]
# Every file the stage writes into <output_dir>/<as_of>/: the folder is ours alone.
OWN_FILES = (
    CSV_FILE,
    "scores.parquet",
    "manifest.json",
    "summary.html",
    "quarantine.csv",
    "customers_quarantine.csv",
)


def csv_columns(n_reasons: int) -> list[str]:
    """The at-risk CSV's columns with ``n_reasons`` reason columns."""
    return [*CSV_LEADING, *(f"reason_{k + 1}" for k in range(n_reasons)), *CSV_TRAILING]


def _do_not_contact(opened: OpenedData, customer_ids: pd.Series, delimiter: str) -> pd.Series:
    """Why each scored customer must not be contacted (``None``: they may be); see
    :mod:`churn.data.consent`."""
    columns = opened.columns("customers") or []
    if opened.customers is None or "customer_id" not in columns:
        return pd.Series(None, index=customer_ids.index, dtype=object)
    opted_out: list[str] = []
    if "marketing_opt_out" in columns:
        rows = opened.rows("SELECT customer_id FROM customers WHERE marketing_opt_out")
        opted_out = [str(r[0]) for r in rows]
    mapped = opened.customers.manifest.get("columns_mapped", {})
    objections = quarantined_objections(
        opened.customers.quarantine,
        id_column=mapped.get("customer_id", "customer_id"),
        opt_out_column=mapped.get("marketing_opt_out"),
        delimiter=delimiter,
    )
    return suppression_reasons(customer_ids, opted_out, objections)


def _predict(opened: OpenedData, model: Any, features: pd.DataFrame) -> np.ndarray:
    """Churn probabilities: in process (DuckDB engine), or by MLflow's Spark UDF of the
    registered model on the Spark engine's workers."""
    classifier = model.classifier
    if opened.engine != "spark":
        return classifier.predict_proba(features)
    names = list(classifier.feature_names)
    udf = tracking.spark_udf(opened.spark, model.name, model.version, uri=model.uri)
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


def _drift_ignored(cfg: DictConfig) -> dict[str, str]:
    """``score.drift.ignore``: feature -> why its drift may not stop the run."""
    why = cfg.score.drift.get("ignore_reason")
    reason = f"{why} (score.drift.ignore)" if why else "listed in score.drift.ignore"
    return dict.fromkeys(map(str, cfg.score.drift.get("ignore") or []), reason)


def _check_drift(report: list[dict[str, Any]], cfg: DictConfig) -> None:
    for row in report:
        if "aligned_days" in row and row["psi_as_measured"] >= cfg.score.drift.warn_psi:
            log.info(
                "drift: %s PSI %.3f as measured, %.3f after allowing for the %d days since "
                "the model's reference snapshot (every customer's value grows by one a day)",
                row["feature"],
                row["psi_as_measured"],
                row["psi"],
                row["elapsed_days"],
            )
        if row["status"] != "warn":
            continue
        if "ignored" in row:
            log.warning(
                "drift: %s PSI %.3f >= score.drift.fail_psi %s, ignored: %s; the run goes on",
                row["feature"],
                row["psi"],
                cfg.score.drift.fail_psi,
                row["ignored"],
            )
        else:
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
    suppressed_by_reason: dict[str, int],
    locale: str,
    empty_reason: dict[str, Any] | None,
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
            "suppressed_opt_out": sum(suppressed_by_reason.values()),
            "suppressed_by_reason": dict(suppressed_by_reason),
            "value_at_risk": float(at_risk["expected_value_at_risk"].sum()),
        },
        "by_segment_tier": by_cell.to_dict("records"),
        "top_reasons": top,
        "probability_histogram": {"edges": edges.tolist(), "counts": counts_hist.tolist()},
        "tiers": {k: float(v) for k, v in cfg.score.tiers.items()},
        "actions": [{"segment": n, "action": a} for n, a in zip(names, actions, strict=True)],
        "files": {"csv": CSV_FILE},
        "empty_reason": empty_reason,
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
    # The model first: a mistyped tracking.uri fails before a long ingest.
    with step("load model", timings):
        model = tracking.load_model(
            cfg.model.get("path"),
            cfg.tracking.uri,
            cfg.tracking.registered_model,
            alias=cfg.model.alias,
            version=cfg.model.version,
        )
    log.info("model %s version %s (run %s)", model.name, model.version, model.run_id)
    try:
        return _score(cfg, model, timings, locale)
    except ChurnError as exc:
        # Which model failed matters once several shops share a store.
        raise type(exc)(f"model {model.name} v{model.version}: {exc}") from exc


def _score(cfg: DictConfig, model: Any, timings: dict[str, float], locale: str) -> dict[str, Any]:
    """:func:`run` once the model is loaded."""
    classifier = model.classifier
    with step("ingest", timings):
        opened = open_transactions(cfg)
    last = opened.last_date
    as_of = resolve_as_of(cfg.as_of, last)
    target = Path(cfg.score.output_dir) / as_of.isoformat()
    check_output_folder(target, OWN_FILES)

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
            f"feed ({', '.join(missing)}); their input columns are missing, or the model "
            "belongs to another shop (set tracking.registered_model to this shop's model)"
        )

    with step("drift check", timings):
        fail_psi = cfg.score.drift.fail_psi
        drift = drift_report(
            classifier.reference,
            features,
            float(cfg.score.drift.warn_psi),
            None if fail_psi is None else float(fail_psi),
            ignore=_drift_ignored(cfg),
            as_of=as_of,
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
        scores["do_not_contact_reason"] = _do_not_contact(
            opened, scores["customer_id"], str(cfg.data.csv.delimiter)
        )
        # True for every customer who must not be contacted: opted out, or consent in doubt.
        scores["marketing_opt_out"] = scores["do_not_contact_reason"].notna()

    with step("select and explain", timings):
        n_reasons = int(cfg.score.n_reasons)
        tiers = {str(k): float(v) for k, v in cfg.score.tiers.items()}

        def select(frame: pd.DataFrame) -> pd.DataFrame:
            return select_at_risk(
                frame,
                str(cfg.score.selection),
                list(cfg.score.at_risk_tiers),
                top_k=cfg.score.top_k,
                budget=cfg.score.budget,
                cost_per_contact=float(cfg.score.cost_per_contact),
                known_tiers=[*tiers, "low"],
            )

        # Who the list would hold without consent, then the list itself, chosen among the
        # customers who may be contacted (so top_k and budget lists are refilled).
        wanted = select(scores)
        left_out = wanted["do_not_contact_reason"].value_counts().sort_index()
        suppressed = int(left_out.sum())
        at_risk = select(scores[~scores["marketing_opt_out"]]).copy()
        explained = features.loc[at_risk.index]
        contributions = (
            classifier.contributions(explained)
            if len(at_risk)
            else pd.DataFrame(columns=classifier.feature_names, index=at_risk.index, dtype=float)
        )
        reasons = top_reasons(
            contributions,
            explained,
            n_reasons=n_reasons,
            locale=locale,
            currency=str(cfg.data.currency),
        )
        at_risk = at_risk.join(reasons.sentences)
        at_risk["churn_probability"] = at_risk["churn_probability"].round(4)
        at_risk["expected_value_at_risk"] = at_risk["expected_value_at_risk"].round(2)
        at_risk["spend_365d"] = at_risk["spend_365d"].round(2)
        for col in ("days_since_last_order", "orders_365d"):
            at_risk[col] = at_risk[col].astype("int64")
        empty_reason = None
        if at_risk.empty:
            listed = [tiers[t] for t in cfg.score.at_risk_tiers if t in tiers]
            empty_reason = empty_list_reason(
                str(cfg.score.selection),
                wanted=len(wanted),
                top_k=cfg.score.top_k,
                budget=cfg.score.budget,
                cost_per_contact=float(cfg.score.cost_per_contact),
                highest_probability=scores["churn_probability"].max() if len(scores) else None,
                lowest_listed_bound=min(listed) if listed else None,
            )
            log.warning("the at-risk list is empty: %s", empty_reason)

    config = OmegaConf.to_container(cfg, resolve=True)
    manifest: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "data_last_date": last.isoformat(),
        "input": input_fingerprint(opened),
        "ingest": combined_manifest(opened),
        "model": {"name": model.name, "version": model.version, "run_id": model.run_id},
        "rows_read": opened.ingest.manifest["rows_read"],
        "rows_scored": len(scores),
        "rows_at_risk": len(at_risk),
        "rows_suppressed_opt_out": suppressed,
        "suppressed_by_reason": {str(k): int(v) for k, v in left_out.items()},
        "do_not_contact": {
            str(k): int(v)
            for k, v in scores["do_not_contact_reason"].value_counts().sort_index().items()
        },
        "empty_list_reason": empty_reason,
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
    with step("write outputs", timings), atomic_dir(target, OWN_FILES) as tmp:
        neutralise_formulas(at_risk[csv_columns(n_reasons)]).to_csv(
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
                manifest["suppressed_by_reason"],
                locale,
                empty_reason,
            ),
            tmp / "summary.html",
        )
        if len(opened.ingest.quarantine):
            opened.ingest.quarantine.to_csv(tmp / "quarantine.csv", index=False)
        if opened.customers is not None and len(opened.customers.quarantine):
            opened.customers.quarantine.to_csv(tmp / "customers_quarantine.csv", index=False)
        manifest["timings_s"] = timings
        write_json(tmp / "manifest.json", manifest)
    print(
        f"scored {len(scores):,} customers as of {as_of}: {len(at_risk):,} at risk "
        f"({suppressed:,} more left out: opted out or consent unclear), expected value at "
        f"risk {manifest['expected_value_at_risk']:,.2f} {cfg.data.currency}; wrote {target}"
        + (f" (the list is empty: {empty_reason['code']})" if empty_reason else ""),
        flush=True,
    )
    return manifest


if __name__ == "__main__":
    # `python -m churn.stages.score` runs the stage as `churn score` does.
    import sys

    from churn.cli import run_stage

    run_stage("score", sys.argv[1:])
