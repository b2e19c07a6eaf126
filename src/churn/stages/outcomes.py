"""Outcomes stage: every stored at-risk list read against the transactions that came after
it. Matured lists (their horizon has passed) show realised against predicted churn and the
campaign's effect, contacted against control; pending ones what is expected and when it
will be known. Writes ``outcomes.csv``, ``campaign_effect.csv``, ``outcomes.json`` and
``outcomes.html`` into ``<outcomes.output_dir>/<locale>/outcomes/`` (by default beside
the lists: ``<score.output_dir>/<locale>/outcomes/``), logs the realised metrics to
MLflow against the model version of each list, and exits 7 when the newest model's lists
came out below its thresholds (retrain)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig

from churn.errors import RetrainNeeded
from churn.outcomes.arms import NOT_CONTACTED, arm_counts, assign_arms
from churn.outcomes.measure import campaign_effect, performance, realised
from churn.outcomes.windows import customer_outcomes
from churn.reporting.outcomes_page import write_outcomes_page
from churn.stages.inputs import (
    OpenedData,
    combined_manifest,
    open_contacts,
    open_transactions,
    require_duckdb,
)
from churn.stages.output_folder import atomic_dir, check_output_folder
from churn.stages.outputs import write_json
from churn.stages.run_context import log, step
from churn.stages.score import csv_dialect
from churn.stages.stored_runs import StoredRun, of_model, read_scores, stored_runs
from churn.text.messages import check_locale
from churn.tracking import store as tracking

OUTCOMES_FOLDER = "outcomes"
OWN_FILES = (
    "outcomes.csv",
    "campaign_effect.csv",
    "outcomes.json",
    "outcomes.html",
    "quarantine.csv",
    "customers_quarantine.csv",
    "contacts_quarantine.csv",
)


@dataclass(frozen=True)
class OutcomesPlan:
    """Everything the outcomes stage reads from its config, typed once by :func:`run`."""

    scores_dir: Path
    output_dir: Path
    locale: str
    currency: str
    response_days: int
    contact_window_days: int
    cost_per_contact: float
    min_roc_auc: float
    max_calibration_error: float
    log_to_mlflow: bool

    @classmethod
    def from_config(cls, cfg: DictConfig, locale: str) -> OutcomesPlan:
        """The plan of a composed ``outcomes`` config, in the checked ``locale``."""
        outcomes = cfg.outcomes
        return cls(
            scores_dir=Path(cfg.score.output_dir),
            output_dir=Path(outcomes.output_dir),
            locale=locale,
            currency=str(cfg.data.currency),
            response_days=int(outcomes.response_days),
            contact_window_days=int(outcomes.contact_window_days),
            cost_per_contact=float(cfg.score.cost_per_contact),
            min_roc_auc=float(cfg.gate.min_roc_auc),
            max_calibration_error=float(outcomes.max_calibration_error),
            log_to_mlflow=bool(outcomes.log_to_mlflow),
        )


def _run_view(run: StoredRun, scores: pd.DataFrame, status: str) -> dict[str, Any]:
    """What every run shows, matured or pending."""
    counts = scores["group"].value_counts()
    return {
        "as_of": run.as_of.isoformat(),
        "model_name": run.model.get("name"),
        "model_version": None if run.model.get("version") is None else str(run.model["version"]),
        "status": status,
        "horizon_days": run.horizon_days,
        "outcome_known_on": run.known_on.isoformat(),
        "customers": len(scores),
        "contact": int(counts.get("contact", 0)),
        "control": int(counts.get("control", 0)),
        "not_selected": int(counts.get("not_selected", 0)),
        "predicted_churn": float(scores["churn_probability"].mean()) if len(scores) else None,
        "performance": None,
        "effect": None,
    }


def matured_frame(
    plan: OutcomesPlan, opened: OpenedData, run: StoredRun, scores: pd.DataFrame
) -> pd.DataFrame:
    """``scores`` with each customer's outcome (:func:`customer_outcomes`) and ``arm``."""
    outcomes = customer_outcomes(
        opened.con,
        scores["customer_id"],
        run.as_of,
        run.horizon_days,
        plan.response_days,
        plan.contact_window_days,
        contacts=opened.contacts is not None,
    )
    frame = pd.concat([scores, outcomes.drop(columns="customer_id")], axis=1)
    frame["arm"] = assign_arms(frame["group"], frame["log_group"], opened.contacts is not None)
    return frame


def _mlflow_metrics(view: dict[str, Any]) -> dict[str, float | None]:
    """A matured run's figures as MLflow metrics."""
    perf = view["performance"]
    out: dict[str, float | None] = {}
    for population, prefix in (("not_contacted", "realised"), ("all", "realised_all")):
        figures = perf[population]
        out[f"{prefix}_churn_rate"] = figures["realised"]
        out[f"{prefix}_predicted_churn_rate"] = figures["predicted"]
        for key in ("roc_auc", "brier", "calibration_error"):
            out[f"{prefix}_{key}"] = figures[key]
        out[f"{prefix}_customers"] = figures["customers"]
    effect = view["effect"]
    if effect:
        for metric in effect["metrics"]:
            out[f"effect_{metric['metric']}_difference"] = metric["difference"]
        out["effect_incremental_customers"] = effect["incremental_customers"]["value"]
        out["effect_incremental_revenue"] = effect["incremental_revenue"]["value"]
        out["effect_contact_customers"] = effect["contact"]
        out["effect_control_customers"] = effect["control"]
    return out


def _by_model(frames: dict[str, list[pd.DataFrame]]) -> list[dict[str, Any]]:
    """One row per model version over its matured lists' customers nobody contacted."""
    rows = []
    for version in sorted(frames, key=lambda v: (len(v), v)):
        pooled = pd.concat(frames[version], ignore_index=True)
        figures = realised(pooled)
        rows.append(
            {
                "model_version": version,
                "runs": len(frames[version]),
                "customers": figures["customers"],
                "roc_auc": figures["roc_auc"],
                "calibration_error": figures["calibration_error"],
                "predicted": figures["predicted"],
                "realised": figures["realised"],
            }
        )
    return rows


def retrain_check(plan: OutcomesPlan, runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest model's newest matured list against the thresholds: ``None`` when it
    passes (or the newest model has no matured list yet), else what failed."""
    if not runs:
        return None
    current = runs[0]["model_version"]
    matured = [r for r in runs if r["status"] == "matured" and r["model_version"] == current]
    if not matured:
        return None
    figures = matured[0]["performance"]["not_contacted"]
    auc, ece = figures["roc_auc"], figures["calibration_error"]
    reasons = []
    if auc is not None and auc < plan.min_roc_auc:
        reasons.append("roc_auc")
    if ece is not None and ece > plan.max_calibration_error:
        reasons.append("calibration_error")
    if not reasons:
        return None
    return {
        "model_version": current,
        "as_of": matured[0]["as_of"],
        "roc_auc": auc,
        "min_roc_auc": plan.min_roc_auc,
        "calibration_error": ece,
        "max_calibration_error": plan.max_calibration_error,
        "reasons": reasons,
    }


# Rates to a hundredth of a percentage point; money to a ten-thousandth of a unit.
CSV_DECIMALS = 4
PERFORMANCE_COLUMNS = [
    "as_of",
    "model_name",
    "model_version",
    "status",
    "outcome_known_on",
    "population",
    "breakdown",
    "group",
    "customers",
    "predicted_churn",
    "realised_churn",
    "realised_low",
    "realised_high",
    "roc_auc",
    "brier",
    "calibration_error",
]
EFFECT_COLUMNS = [
    "as_of",
    "model_name",
    "model_version",
    "breakdown",
    "group",
    "metric",
    "contact_customers",
    "control_customers",
    "contact",
    "control",
    "difference",
    "low",
    "high",
]


def performance_rows(runs: list[dict[str, Any]]) -> pd.DataFrame:
    """``outcomes.csv``: per run, population and breakdown, realised against predicted
    churn (a pending run: one row with what is expected)."""
    rows = []
    for run in runs:
        keys = {k: run[k] for k in ("as_of", "model_name", "model_version", "status")}
        keys["outcome_known_on"] = run["outcome_known_on"]
        perf = run["performance"]
        if perf is None:
            rows.append(
                {
                    **keys,
                    "population": "all",
                    "breakdown": "overall",
                    "customers": run["customers"],
                    "predicted_churn": run["predicted_churn"],
                }
            )
            continue
        for population in ("not_contacted", "all"):
            rows.append(
                {**keys, "population": population, "breakdown": "overall", **_row(perf[population])}
            )
        for breakdown in ("tier", "segment", "decile"):
            for item in perf[f"by_{breakdown}"]:
                rows.append(
                    {
                        **keys,
                        "population": "not_contacted",
                        "breakdown": breakdown,
                        "group": item["group"],
                        **_row(item),
                    }
                )
    return pd.DataFrame(rows, columns=PERFORMANCE_COLUMNS).round(CSV_DECIMALS)


def _row(figures: dict[str, Any]) -> dict[str, Any]:
    return {
        "customers": figures["customers"],
        "predicted_churn": figures["predicted"],
        "realised_churn": figures["realised"],
        "realised_low": figures["low"],
        "realised_high": figures["high"],
        **{k: figures.get(k) for k in ("roc_auc", "brier", "calibration_error")},
    }


def effect_rows(runs: list[dict[str, Any]]) -> pd.DataFrame:
    """``campaign_effect.csv``: per matured run with a control group, each metric
    contacted against control, the incremental customers and revenue, cost and return;
    then the churn rate per segment and per action."""
    rows = []
    for run in runs:
        effect = run["effect"]
        if not effect:
            continue
        keys = {k: run[k] for k in ("as_of", "model_name", "model_version")}
        arms = {"contact_customers": effect["contact"], "control_customers": effect["control"]}
        for m in effect["metrics"]:
            rows.append(
                {
                    **keys,
                    "breakdown": "overall",
                    "metric": m["metric"],
                    **arms,
                    **{k: m[k] for k in ("contact", "control", "difference", "low", "high")},
                }
            )
        for name in ("incremental_customers", "incremental_revenue"):
            value = effect[name]
            rows.append(
                {
                    **keys,
                    "breakdown": "overall",
                    "metric": name,
                    **arms,
                    "difference": value["value"],
                    "low": value["low"],
                    "high": value["high"],
                }
            )
        for name in ("cost", "return_on_spend"):
            rows.append(
                {**keys, "breakdown": "overall", "metric": name, **arms, "difference": effect[name]}
            )
        for breakdown in ("segment", "action"):
            for item in effect[f"by_{breakdown}"]:
                rows.append(
                    {
                        **keys,
                        "breakdown": breakdown,
                        "group": item["group"],
                        "metric": "churn_rate",
                        "contact_customers": item["contact"],
                        "control_customers": item["control"],
                        "contact": item["churn_contact"],
                        "control": item["churn_control"],
                        **{k: item[k] for k in ("difference", "low", "high")},
                    }
                )
    return pd.DataFrame(rows, columns=EFFECT_COLUMNS).round(CSV_DECIMALS)


def _contacts_view(opened: OpenedData) -> dict[str, Any]:
    if opened.contacts is None:
        return {"source": "assumed"}
    manifest = opened.contacts.manifest
    return {
        "source": "log",
        "file": manifest["source"],
        "rows": manifest["rows_kept"],
        "quarantined": manifest["rows_quarantined"],
    }


def run(cfg: DictConfig) -> dict[str, Any]:
    """Read every list stored under ``score.output_dir`` in ``cfg.locale`` against the
    transactions (and ``data.contacts``); write the outcomes; return their view model.

    Raises
    ------
    ConfigError, DataContractError, StorageError
        Exit codes 2, 3 and 6 of the command line; nothing is written.
    RetrainNeeded
        Exit code 7, once the outputs are written: the newest model's newest matured list
        came out below ``gate.min_roc_auc`` or above ``outcomes.max_calibration_error``.
    """
    require_duckdb(cfg, "outcomes", "it reads stored lists, small beside the transactions")
    plan = OutcomesPlan.from_config(cfg, check_locale(str(cfg.locale)))
    timings: dict[str, float] = {}
    # Beside the lists it reads (by default), in a folder of its own that each run replaces.
    target = plan.output_dir / plan.locale / OUTCOMES_FOLDER
    check_output_folder(target, OWN_FILES)
    runs_found = of_model(
        stored_runs(plan.scores_dir, plan.locale), str(cfg.tracking.registered_model)
    )
    if not runs_found:
        log.warning(
            "no scoring run under %s: run `churn score` first (score.output_dir)",
            plan.scores_dir / plan.locale,
        )
    with step("ingest", timings):
        opened = open_transactions(cfg)
        open_contacts(cfg, opened)
    last_date = opened.last_date
    views: list[dict[str, Any]] = []
    logged: list[dict[str, Any]] = []
    quiet: dict[str, list[pd.DataFrame]] = {}
    with step("outcomes", timings):
        for stored in runs_found:
            scores = read_scores(stored)
            if stored.known_on > last_date:
                views.append(_run_view(stored, scores, "pending"))
                continue
            frame = matured_frame(plan, opened, stored, scores)
            view = _run_view(stored, scores, "matured")
            view["performance"] = performance(frame)
            view["effect"] = campaign_effect(frame, plan.cost_per_contact)
            view["arms"] = arm_counts(frame["arm"])
            views.append(view)
            version = str(view["model_version"])
            quiet.setdefault(version, []).append(
                frame.loc[frame["arm"].isin(NOT_CONTACTED), ["churn_probability", "churned"]]
            )
            logged.append(
                {
                    "as_of": view["as_of"],
                    "model_version": version,
                    "run_id": stored.model.get("run_id"),
                    "metrics": _mlflow_metrics(view),
                }
            )
    retrain = retrain_check(plan, views)
    result = {
        "locale": plan.locale,
        "currency": plan.currency,
        "data_last_date": last_date.isoformat(),
        "scores_dir": str(plan.scores_dir),
        "contacts": _contacts_view(opened),
        "response_days": plan.response_days,
        "cost_per_contact": plan.cost_per_contact,
        "runs": views,
        "by_model": _by_model(quiet),
        "retrain": retrain,
    }
    sep, decimal = csv_dialect(None, None, plan.locale)
    with step("write outputs", timings), atomic_dir(target, OWN_FILES) as tmp:
        for name, table in (
            ("outcomes.csv", performance_rows(views)),
            ("campaign_effect.csv", effect_rows(views)),
        ):
            table.to_csv(tmp / name, index=False, sep=sep, decimal=decimal, encoding="utf-8-sig")
        write_json(
            tmp / "outcomes.json",
            {**result, "ingest": combined_manifest(opened), "timings_s": timings},
        )
        for name, table in (
            ("quarantine.csv", opened.ingest),
            ("customers_quarantine.csv", opened.customers),
            ("contacts_quarantine.csv", opened.contacts),
        ):
            if table is not None and len(table.quarantine):
                table.quarantine.to_csv(tmp / name, index=False)
        write_outcomes_page(result, tmp / "outcomes.html")
    if plan.log_to_mlflow and logged:
        model_name = str(cfg.tracking.registered_model)
        with step("log to mlflow", timings):
            done = tracking.log_outcomes(str(cfg.tracking.uri), model_name, logged)
        if done is None:
            log.warning("tracking store %s does not exist: outcomes not logged", cfg.tracking.uri)
    matured = sum(v["status"] == "matured" for v in views)
    assumed = (
        ""
        if opened.contacts is not None
        else " (no contact log: each list taken as contacted the day after its date)"
    )
    print(
        f"outcomes of {len(views)} list{'' if len(views) == 1 else 's'} "
        f"({matured} matured, {len(views) - matured} pending)"
        f"{assumed}; wrote {target}" + _newest_effect(views),
        flush=True,
    )
    if retrain is not None:
        raise RetrainNeeded(_retrain_message(retrain))
    return result


def _newest_effect(views: list[dict[str, Any]]) -> str:
    """A line on the newest matured list with a control group: churn contacted against
    control, the difference and its interval, in points."""
    for view in views:
        if view["effect"]:
            churn = view["effect"]["metrics"][0]
            if churn["low"] is None:
                return ""
            return (
                f"\nlist of {view['as_of']}: churn {churn['contact']:.1%} contacted against "
                f"{churn['control']:.1%} control: {100 * churn['difference']:+.1f} points "
                f"(95% interval {100 * churn['low']:+.1f} to {100 * churn['high']:+.1f})"
            )
    return ""


def _retrain_message(retrain: dict[str, Any]) -> str:
    parts = []
    if "roc_auc" in retrain["reasons"]:
        parts.append(
            f"realised ROC AUC {retrain['roc_auc']:.3f} < gate.min_roc_auc {retrain['min_roc_auc']}"
        )
    if "calibration_error" in retrain["reasons"]:
        parts.append(
            f"realised calibration error {retrain['calibration_error']:.3f} > "
            f"outcomes.max_calibration_error {retrain['max_calibration_error']}"
        )
    return (
        f"model version {retrain['model_version']}, list of {retrain['as_of']}: "
        + "; ".join(parts)
        + ": retrain it (`churn train`); the outcomes are written"
    )


if __name__ == "__main__":
    import sys

    from churn.cli import run_stage

    run_stage("outcomes", sys.argv[1:])
