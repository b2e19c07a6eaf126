"""Training stage: snapshots -> LightGBM with early stopping -> calibration -> evaluation
against baselines on the same test rows -> promotion gate -> final refit -> MLflow.

What each step means (and why) is in the README's "Evaluation" section.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from churn.errors import ConfigError
from churn.features.query import KEY_COLUMNS, bgnbd_predictions, build_features
from churn.modeling.baselines import fit_logistic_rfm, predict_logistic_rfm
from churn.modeling.calibration import fit_calibrator
from churn.modeling.evaluation import (
    interval,
    paired_bootstrap,
    probability_metrics,
    ranking_metrics,
    segment_metrics,
)
from churn.modeling.gate import MODEL, GateVerdict, promotion_verdict, same_data_source
from churn.modeling.labels import make_labels
from churn.modeling.model import ChurnClassifier, fit_lightgbm, refit
from churn.modeling.schedule import OUT_OF_TIME, Schedule, holdout_customers, origin_schedules
from churn.reporting import plots
from churn.reporting.evaluation_page import write_evaluation_report
from churn.scoring.drift import reference_profile
from churn.scoring.selection import assign_segments
from churn.stages.inputs import open_transactions, require_duckdb, write_ingest_report
from churn.stages.outputs import write_json
from churn.stages.run_context import log, step
from churn.tracking import store as tracking

REPORT_FILE = "evaluation_report.html"
# Names in metrics["mean"] and metrics["origins"][i]["models"]: the model (gate.MODEL),
# then the baselines as in the flat keys (baseline_<name>_*), with their labels.
BASELINES = {
    "logistic": "logistic RFM",
    "bgnbd": "BG/NBD",
    "recency": "recency",
}
# Baselines whose scores are probabilities (recency is a ranking: no Brier score).
PROBABILITY_BASELINES = ("logistic", "bgnbd")


def _prefixed(prefix: str, metrics: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}_{k}": v for k, v in metrics.items()}


def _schedules(cfg: DictConfig, first: Any, last: Any) -> tuple[Schedule, ...]:
    """The schedule of each test origin, oldest first; logged, with a warning when the
    history changed what the evaluation means."""
    wanted = int(cfg.split.n_test_origins)
    schedules = origin_schedules(
        first,
        last,
        int(cfg.label.horizon_days),
        n_origins=wanted,
        origin_spacing_days=int(cfg.split.origin_spacing_days),
        n_train_cutoffs=int(cfg.split.n_train_cutoffs),
        spacing_days=int(cfg.split.spacing_days),
        min_history_days=int(cfg.split.min_history_days),
        min_spacing_days=int(cfg.split.min_spacing_days),
    )
    if len(schedules) < wanted:
        log.warning(
            "only %d of split.n_test_origins=%d test origins fit in the history (%s to %s): "
            "the evaluation averages over fewer periods",
            len(schedules),
            wanted,
            first,
            last,
        )
    for schedule in schedules:
        log.info(
            "origin %s: train %s, validation %s (%s)",
            schedule.test,
            ", ".join(d.isoformat() for d in schedule.train),
            schedule.validation,
            schedule.mode,
        )
        for note in schedule.notes:
            if schedule.mode == OUT_OF_TIME:
                log.info("origin %s: %s", schedule.test, note)
            else:
                log.warning("origin %s: %s", schedule.test, note)
    return schedules


def _split(table: pd.DataFrame, schedule: Schedule) -> dict[str, pd.DataFrame]:
    as_of = table["as_of"].dt.date
    train = as_of.isin(schedule.train)
    validation = (as_of == schedule.validation).to_numpy()
    if schedule.validation_holdout > 0:
        # The validation cutoff also trains: its held-out customers validate, and they
        # train at no cutoff.
        held = holdout_customers(table["customer_id"], schedule.validation_holdout)
        train, validation = train & ~held, validation & held
    parts = {
        "train": table[train],
        "validation": table[validation],
        "test": table[as_of == schedule.test],
    }
    for name, part in parts.items():
        log.info(
            "origin %s, %s: %d rows, churn rate %.3f",
            schedule.test,
            name,
            len(part),
            part["churned"].mean(),
        )
        if part["churned"].nunique() < 2:
            raise ConfigError(
                f"the {name} snapshot has {len(part)} rows, all labelled "
                f"{'churned' if len(part) and part['churned'].iloc[0] else 'active'}: a model "
                "cannot be trained or judged on it; check label.horizon_days and split.*"
            )
    return parts


def _segments(features: pd.DataFrame, cfg: DictConfig) -> pd.Series:
    seg = cfg.score.segments
    return assign_segments(
        features,
        new_max_tenure_days=int(seg.new_max_tenure_days),
        dormant_min_days=int(seg.dormant_min_days),
        vip_min_spend_365d=float(features["spend_365d"].quantile(float(seg.vip_spend_quantile))),
    )


@dataclass(frozen=True)
class _ChampionComparison:
    """The current champion against the candidate on the same test rows.

    ``champion_roc_auc`` is ``None`` without a usable champion (``unusable`` then says why
    when there is one that cannot be loaded); ``candidate_roc_auc`` is measured on the
    rows both models score.
    """

    champion_roc_auc: float | None
    candidate_roc_auc: float
    label: str
    notes: list[str]
    unusable: str | None = None
    not_comparable: str | None = None


def _compare_with_champion(
    con: Any,
    cfg: DictConfig,
    schedule: Schedule,
    test: pd.DataFrame,
    candidate_p: np.ndarray,
    source: str,
) -> _ChampionComparison:
    """Re-score the current champion on the test snapshot, when it is a model of the same
    data (``source``) that this data can feed."""
    champion = tracking.champion_reference(cfg.tracking.registered_model)
    candidate = ranking_metrics(test["churned"], candidate_p)["roc_auc"]
    if champion is None:
        return _ChampionComparison(None, candidate, "", [])
    label = f"champion v{champion.version}"
    if champion.data_source is not None and not same_data_source(champion.data_source, source):
        why = (
            f"it was trained on {champion.data_source}, this run on {source} (another "
            f"shop's data shares the registered model {cfg.tracking.registered_model!r})"
        )
        log.warning(
            "%s is not comparable: %s; it stays @champion, the new version @challenger: "
            "set tracking.registered_model=NAME to give this shop its own model",
            label,
            why,
        )
        return _ChampionComparison(None, candidate, label, [], not_comparable=why)
    if isinstance(champion, tracking.UnusableChampion):
        log.warning(
            "%s is unusable (%s): the new model is judged on the floor and the baselines only",
            label,
            champion.reason,
        )
        return _ChampionComparison(None, candidate, label, [], unusable=champion.reason)
    notes = []
    settings = champion.classifier.feature_settings
    if set(champion.classifier.feature_names) <= set(test.columns) and (
        settings.get("active_lookback_days") == int(cfg.label.active_lookback_days)
    ):
        champion_features = test
    else:
        # Trained with other feature settings: rebuild its features for the test cutoff.
        champion_features = build_features(con, [schedule.test], **settings)
    missing = [c for c in champion.classifier.feature_names if c not in champion_features]
    if missing:
        why = f"it needs features this data cannot feed ({', '.join(missing)})"
        log.warning("%s is unusable on this data: %s; not compared", label, why)
        return _ChampionComparison(None, candidate, label, [], unusable=why)
    rows = test[["customer_id", "churned"]].assign(candidate=candidate_p)
    rows = rows.merge(champion_features, on="customer_id", suffixes=("", "_champion"))
    if len(rows) < len(test):
        notes.append(
            f"{label} was compared on the {len(rows)} of {len(test)} test customers in "
            "both models' populations"
        )
    if champion.labels_end and champion.labels_end > schedule.test.isoformat():
        notes.append(
            f"{label} was trained on outcomes up to {champion.labels_end}, after this test "
            f"cutoff ({schedule.test}): its score here is optimistic"
        )
    if not champion.evaluated_model:
        notes.append(f"{label} has no evaluation model: its final refit was re-scored")
    champion_p = champion.classifier.predict_proba(rows)
    y = rows["churned"]
    return _ChampionComparison(
        ranking_metrics(y, champion_p)["roc_auc"],
        ranking_metrics(y, rows["candidate"])["roc_auc"],
        label,
        notes,
    )


def _gate_scores(metrics: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], int]:
    """What the gate judges: each model's mean ROC AUC and Brier over the test origins
    (``metrics["mean"]``), else the single test snapshot's; and the number of origins."""
    if "mean" in metrics:
        return metrics["mean"], int(metrics.get("n_origins", 1))
    return {
        MODEL: {"roc_auc": metrics["test_roc_auc"], "brier": metrics["test_brier"]},
        # A ranking, not a probability: no Brier score.
        "recency": {"roc_auc": metrics["baseline_recency_roc_auc"], "brier": None},
        **{
            name: {
                "roc_auc": metrics[f"baseline_{name}_roc_auc"],
                "brier": metrics[f"baseline_{name}_brier"],
            }
            for name in ("logistic", "bgnbd")
        },
    }, 1


@dataclass
class _Origin:
    """One test origin: its schedule and snapshots, the model evaluated there, the flat
    metrics (``test_*``, ``baseline_*``, ...), the scores of the model and the baselines on
    its test rows (by label) and the model's probabilities before and after calibration."""

    schedule: Schedule
    parts: dict[str, pd.DataFrame]
    classifier: ChurnClassifier
    metrics: dict[str, Any]
    scores: dict[str, np.ndarray]
    probabilities: dict[str, np.ndarray]


def _fit(
    cfg: DictConfig, parts: dict[str, pd.DataFrame], feature_cols: list[str]
) -> ChurnClassifier:
    """LightGBM with early stopping on the validation snapshot, calibrated there."""
    train, valid = parts["train"], parts["validation"]
    horizon = int(cfg.label.horizon_days)
    classifier = fit_lightgbm(
        train[feature_cols],
        train["churned"],
        valid[feature_cols],
        valid["churned"],
        params=OmegaConf.to_container(cfg.model.params, resolve=True),
        num_boost_round=int(cfg.model.num_boost_round),
        early_stopping_rounds=int(cfg.model.early_stopping_rounds),
        seed=int(cfg.seed),
        feature_settings={
            "windows": list(cfg.features.windows),
            "active_lookback_days": int(cfg.label.active_lookback_days),
            "families": list(cfg.features.families),
            "btyd_horizon_days": horizon if cfg.features.btyd.enabled else None,
        },
    )
    classifier.calibrator = fit_calibrator(
        classifier.predict_raw(valid), valid["churned"], str(cfg.model.calibration)
    )
    return classifier


def _evaluate(
    cfg: DictConfig,
    con: Any,
    schedule: Schedule,
    parts: dict[str, pd.DataFrame],
    classifier: ChurnClassifier,
) -> _Origin:
    """Metrics of the model and the baselines on one origin's test rows."""
    test, valid, train = parts["test"], parts["validation"], parts["train"]
    if "bgnbd_p_no_order" in test:
        bgnbd = test["bgnbd_p_no_order"]
    else:  # family off for the model; the baseline still needs it
        preds = bgnbd_predictions(con, [schedule.test], int(cfg.label.horizon_days))
        bgnbd = test[list(KEY_COLUMNS)].merge(preds, on=list(KEY_COLUMNS), how="left")[
            "bgnbd_p_no_order"
        ]
    y = test["churned"].to_numpy()
    features = classifier.feature_names
    raw = classifier.predict_raw(test[features])
    p = classifier.predict_proba(test[features])
    logistic = fit_logistic_rfm(train, train["churned"], seed=int(cfg.seed))
    p_logistic = predict_logistic_rfm(logistic, test)
    segments = _segments(test, cfg)
    metrics: dict[str, Any] = {
        **_prefixed("test", probability_metrics(y, p)),
        **_prefixed("test_uncalibrated", probability_metrics(y, raw)),
        **_prefixed(
            "validation", probability_metrics(valid["churned"], classifier.predict_proba(valid))
        ),
        # Recency alone: the longer since the last order, the likelier churn.
        **_prefixed("baseline_recency", ranking_metrics(y, test["days_since_last_order"])),
        **_prefixed("baseline_logistic", probability_metrics(y, p_logistic)),
        **_prefixed("baseline_bgnbd", probability_metrics(y, bgnbd.to_numpy())),
        "test_churn_rate": float(y.mean()),
        "n_train": len(train),
        "n_validation": len(valid),
        "n_test": len(test),
        "best_iteration": classifier.best_iteration or classifier.booster.num_trees(),
        "calibration": classifier.calibrator.method,
        "segments": segment_metrics(y, p, segments.tolist()),
    }
    scores = {
        "LightGBM (calibrated)": p,
        BASELINES["logistic"]: p_logistic,
        BASELINES["bgnbd"]: bgnbd.to_numpy(dtype="float64"),
        BASELINES["recency"]: test["days_since_last_order"].to_numpy(dtype="float64"),
    }
    probabilities = {"before calibration": raw, "after calibration": p}
    return _Origin(schedule, parts, classifier, metrics, scores, probabilities)


def _origin_models(metrics: dict[str, Any]) -> dict[str, dict[str, float]]:
    """One origin's flat metrics by model name (``model``, ``model_uncalibrated`` and
    each baseline)."""
    prefixes = {
        MODEL: "test",
        f"{MODEL}_uncalibrated": "test_uncalibrated",
        **{name: f"baseline_{name}" for name in BASELINES},
    }
    return {
        name: {
            key.removeprefix(f"{prefix}_"): value
            for key, value in metrics.items()
            if key.startswith(f"{prefix}_") and isinstance(value, float)
        }
        for name, prefix in prefixes.items()
    }


def _across_origins(origins: list[_Origin], n_resamples: int, seed: int) -> dict[str, Any]:
    """Per origin and averaged over origins: every model's ROC AUC and Brier score, and
    the model-minus-baseline differences with 95% intervals from a paired bootstrap over
    customers (resampled within each origin; the mean's draws average the origins'
    draws of the same resample)."""
    rows, draws = [], []
    for i, origin in enumerate(origins):
        y = origin.parts["test"]["churned"].to_numpy()
        scores = origin.scores
        model_p = scores["LightGBM (calibrated)"]
        boot = paired_bootstrap(
            y,
            model_p,
            {name: scores[label] for name, label in BASELINES.items()},
            PROBABILITY_BASELINES,
            n_resamples=n_resamples,
            seed=seed + i,
        )
        models = _origin_models(origin.metrics)
        differences = {
            name: {
                metric: interval(models[MODEL][metric] - models[name][metric], values)
                for metric, values in boot[name].items()
            }
            for name in BASELINES
        }
        draws.append(boot)
        m = origin.metrics
        rows.append(
            {
                "test_cutoff": origin.schedule.test.isoformat(),
                "schedule": origin.schedule.describe(),
                **{k: m[k] for k in ("n_train", "n_validation", "n_test", "test_churn_rate")},
                "best_iteration": m["best_iteration"],
                "models": models,
                "differences": differences,
            }
        )
    mean = {
        name: {
            "roc_auc": float(np.mean([r["models"][name]["roc_auc"] for r in rows])),
            "brier": (
                float(np.mean([r["models"][name]["brier"] for r in rows]))
                if name == MODEL or name in PROBABILITY_BASELINES
                else None
            ),
        }
        for name in (MODEL, *BASELINES)
    }
    differences = {
        name: {
            metric: interval(
                float(np.mean([r["differences"][name][metric]["estimate"] for r in rows])),
                np.mean([d[name][metric] for d in draws], axis=0),
            )
            for metric in draws[0][name]
        }
        for name in BASELINES
    }
    flat = {
        f"mean_{name}_{metric}": value
        for name, values in mean.items()
        for metric, value in values.items()
        if value is not None
    }
    return {
        "n_origins": len(rows),
        "origins": rows,
        "mean": mean,
        "differences": differences,
        **flat,
    }


def _write_predictions(origins: list[_Origin], path: Path) -> None:
    """``customer_id, as_of, y_true, p_churn`` of every origin, oldest first."""
    pd.concat(
        [
            pd.DataFrame(
                {
                    "customer_id": o.parts["test"]["customer_id"].to_numpy(),
                    "as_of": o.parts["test"]["as_of"].dt.strftime("%Y-%m-%d").to_numpy(),
                    "y_true": o.parts["test"]["churned"].to_numpy(),
                    "p_churn": o.scores["LightGBM (calibrated)"],
                }
            )
            for o in origins
        ]
    ).to_csv(path, index=False)


def _comparison(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    names = {
        "test": "LightGBM (calibrated)",
        "test_uncalibrated": "LightGBM (uncalibrated)",
        "baseline_logistic": "logistic regression on RFM",
        "baseline_bgnbd": "BG/NBD P(no order in horizon)",
        "baseline_recency": "recency alone (a ranking, no probability)",
    }
    keys = ["roc_auc", "pr_auc", "brier", "log_loss", "ece"] + [
        f"{m}_at_{k}pct" for k in (10, 20) for m in ("lift", "capture")
    ]
    return [
        {"name": label, **{k: metrics.get(f"{prefix}_{k}") for k in keys}}
        for prefix, label in names.items()
    ]


def _shap_images(
    classifier: ChurnClassifier, test: pd.DataFrame, out: Path, rows: int, seed: int
) -> dict[str, Path]:
    """Global SHAP views on a fixed-seed sample of test customers (exact TreeSHAP from
    LightGBM); also writes ``shap_importance.csv``."""
    sample = test.sample(n=min(rows, len(test)), random_state=seed)
    features = sample[classifier.feature_names]
    contributions = classifier.contributions(features)
    ranking = plots.shap_ranking(contributions)
    ranking.rename("mean_abs_shap").rename_axis("feature").to_csv(out / "shap_importance.csv")
    images = {
        "SHAP summary: how each feature moves each customer's churn risk": plots.save_png(
            plots.shap_beeswarm_figure(contributions, features, seed=seed), out / "shap_summary.png"
        ),
        "Mean |SHAP| per feature: what drives the model overall": plots.save_png(
            plots.shap_bar_figure(contributions), out / "shap_importance.png"
        ),
    }
    for name in ranking.index[:5]:
        images[f"SHAP dependence of {name}"] = plots.save_png(
            plots.shap_dependence_figure(contributions, features, name),
            out / f"shap_dependence_{name}.png",
        )
    return images


def _labelled(models: dict[str, Any]) -> dict[str, Any]:
    """``{label: {"roc_auc", "brier"}}`` of the model and the baselines, for the report."""
    labels = {MODEL: "LightGBM (calibrated)", **BASELINES}
    return {
        label: {k: models[name].get(k) for k in ("roc_auc", "brier")}
        for name, label in labels.items()
    }


def _difference_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Model-minus-baseline rows of the report: per baseline, each origin then the mean."""
    rows = []
    for name, label in BASELINES.items():
        for origin in metrics["origins"]:
            rows.append(
                {"baseline": label, "origin": origin["test_cutoff"], **origin["differences"][name]}
            )
        rows.append({"baseline": label, "origin": "mean", **metrics["differences"][name]})
    return rows


def _differences_image(metrics: dict[str, Any], out: Path) -> dict[str, Path]:
    rows = [
        {
            "label": f"{row['baseline']} @ {row['origin']}",
            "mean": row["origin"] == "mean",
            "roc_auc": row.get("roc_auc"),
            "brier": row.get("brier"),
        }
        for row in _difference_rows(metrics)
    ]
    caption = "Model minus baseline with 95% intervals (paired bootstrap over customers)"
    return {caption: plots.save_png(plots.differences_figure(rows), out / "differences.png")}


def _write_report(
    out: Path,
    y: np.ndarray,
    scores: dict[str, np.ndarray],
    probabilities: dict[str, np.ndarray],
    metrics: dict[str, Any],
    schedule: Schedule,
    source: str,
    shap_images: dict[str, Path],
) -> list[Path]:
    images = {
        "ROC curves on the newest test snapshot": plots.save_png(
            plots.roc_figure(y, scores), out / "roc.png"
        ),
        "Precision-recall curves": plots.save_png(plots.pr_figure(y, scores), out / "pr.png"),
        "Cumulative gains: churners found when contacting the riskiest first": plots.save_png(
            plots.gains_figure(y, scores), out / "gains.png"
        ),
        "Reliability of the churn probabilities, before and after calibration": plots.save_png(
            plots.reliability_figure(y, probabilities), out / "calibration.png"
        ),
        **_differences_image(metrics, out),
        **shap_images,
    }
    gate = metrics["gate"]
    report = {
        "title": "Churn model evaluation",
        "model_name": metrics.get("model_name"),
        "model_version": metrics.get("model_version"),
        "run_id": metrics.get("run_id"),
        "generated_from": source,
        "schedule": schedule.as_dict(),
        "rows": {
            "train": metrics["n_train"],
            "validation": metrics["n_validation"],
            "test": metrics["n_test"],
            "test_churn_rate": metrics["test_churn_rate"],
        },
        "origins": [
            {
                "test_cutoff": o["test_cutoff"],
                "customers": o["n_test"],
                "churn_rate": o["test_churn_rate"],
                "schedule": f"{len(o['schedule']['train_cutoffs'].split(','))} "
                f"({o['schedule']['mode']}, every {o['schedule']['spacing_days']} days)",
                "models": _labelled(o["models"]),
            }
            for o in metrics["origins"]
        ],
        "origins_mean": _labelled(metrics["mean"]),
        "differences": _difference_rows(metrics),
        "comparison": _comparison(metrics),
        "calibration": {
            "method": metrics["calibration"],
            "brier_before": metrics["test_uncalibrated_brier"],
            "brier_after": metrics["test_brier"],
            "ece_before": metrics["test_uncalibrated_ece"],
            "ece_after": metrics["test_ece"],
        },
        "segments": metrics["segments"],
        "gate": gate,
        "notes": [
            "The registered model is a refit of the evaluated one on every labelled snapshot, "
            "test included, with the same settings and number of trees; it reuses the "
            "calibration fitted on the validation snapshot. The figures above are those of "
            "the evaluated model, which never saw the test snapshot's outcomes.",
            "SHAP values are exact TreeSHAP contributions of the evaluated model on a sample "
            "of test customers; they explain the booster's log-odds, before calibration.",
        ],
    }
    path = write_evaluation_report(report, images, out / REPORT_FILE)
    return [path, *images.values()]


def _summary(metrics: dict[str, Any], report: Path) -> str:
    rows = [
        ("LightGBM (calibrated)", "test"),
        ("logistic RFM", "baseline_logistic"),
        ("BG/NBD", "baseline_bgnbd"),
        ("recency", "baseline_recency"),
    ]
    lines = [
        f"test snapshot {metrics['test_cutoff']}: {metrics['n_test']} customers, "
        f"churn rate {metrics['test_churn_rate']:.3f}",
        f"{'model':<22} {'ROC AUC':>8} {'PR AUC':>8} {'Brier':>8} {'lift@10%':>9}",
    ]
    for label, prefix in rows:
        brier = metrics.get(f"{prefix}_brier")
        lines.append(
            f"{label:<22} {metrics[f'{prefix}_roc_auc']:>8.4f} {metrics[f'{prefix}_pr_auc']:>8.4f} "
            f"{'-' if brier is None else f'{brier:.4f}':>8} "
            f"{metrics[f'{prefix}_lift_at_10pct']:>9.2f}"
        )
    origins = metrics["origins"]
    cutoffs = ", ".join(o["test_cutoff"] for o in origins)
    lines.append(f"over {len(origins)} test origins ({cutoffs}): mean, and model - baseline [95%]")
    labels = {MODEL: "LightGBM (calibrated)", **BASELINES}
    for name, label in labels.items():
        mean = metrics["mean"][name]
        brier = "-" if mean["brier"] is None else f"{mean['brier']:.4f}"
        line = f"{label:<22} ROC AUC {mean['roc_auc']:.4f}  Brier {brier:>6}"
        if name in metrics["differences"]:
            d = metrics["differences"][name]["roc_auc"]
            line += f"  ROC AUC {d['estimate']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]"
        lines.append(line)
    gate = metrics["gate"]
    lines.append(f"gate: {gate['verdict']}{' (forced)' if gate.get('forced') else ''}")
    lines += [f"  {reason}" for reason in gate["reasons"]]
    if metrics.get("model_version"):
        lines.append(
            f"registered {metrics['model_name']} v{metrics['model_version']} "
            f"as @{metrics['model_alias']}"
        )
    lines.append(f"report: {report}")
    if metrics.get("warnings"):
        lines.append(f"warnings ({len(metrics['warnings'])}, also in the log and metrics.json):")
        lines += [f"  {message}" for message in metrics["warnings"]]
    return "\n".join(lines)


class _Warnings(logging.Handler):
    """The WARNING messages of one run, for its summary: they change what its figures mean
    (a degenerate BG/NBD fit, constant features, a champion not compared). Messages of one
    kind (one format, such as a BG/NBD fit per cutoff) are shown once, with their count."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._first: dict[str, str] = {}
        self._count: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        kind = str(record.msg)
        self._first.setdefault(kind, record.getMessage())
        self._count[kind] = self._count.get(kind, 0) + 1

    @property
    def messages(self) -> list[str]:
        return [
            message
            + (f" (and {self._count[kind] - 1} more like it)" if self._count[kind] > 1 else "")
            for kind, message in self._first.items()
        ]


def run(cfg: DictConfig) -> dict[str, Any]:
    """Train, evaluate, gate and register a churn model; return the metrics written to
    ``<output_dir>/metrics.json`` (with ``warnings``: what the run logged as WARNING)."""
    warned = _Warnings()
    log.addHandler(warned)
    try:
        return _train(cfg, warned)
    finally:
        log.removeHandler(warned)


def _train(cfg: DictConfig, warned: _Warnings) -> dict[str, Any]:
    require_duckdb(cfg, "train", "training fits one machine on the snapshot table")
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    horizon = int(cfg.label.horizon_days)
    windows = list(cfg.features.windows)
    families = list(cfg.features.families)
    btyd_horizon = horizon if cfg.features.btyd.enabled else None
    lookback = int(cfg.label.active_lookback_days)
    register = bool(cfg.train.register)
    # Before minutes of work: a read-only, corrupt or unreachable store fails now.
    tracking.start(
        cfg.tracking.uri, cfg.tracking.experiment, cfg.tracking.artifact_root, create=True
    )

    opened = open_transactions(cfg)
    con, last = opened.con, opened.last_date
    ingest_files = write_ingest_report(opened, out)
    schedules = _schedules(cfg, opened.first_date, last)
    # Every origin's cutoffs in one feature table: a cutoff shared by origins (they step
    # back on the same grid) is computed once, and its label does not depend on the origin.
    cutoffs = sorted({d for s in schedules for d in (*s.train, s.validation, s.test)})

    with step("features and labels", timings):
        table = build_features(con, cutoffs, windows, lookback, families, btyd_horizon)
        table["churned"] = make_labels(con, table, horizon, last)
    feature_cols = [c for c in table.columns if c not in (*KEY_COLUMNS, "churned")]
    log.info("%d features: %s", len(feature_cols), ", ".join(feature_cols))

    origins = []
    for schedule in schedules:
        parts = _split(table, schedule)
        with step(f"fit LightGBM (origin {schedule.test})", timings):
            classifier = _fit(cfg, parts, feature_cols)
        with step(f"evaluate against baselines (origin {schedule.test})", timings):
            origins.append(_evaluate(cfg, con, schedule, parts, classifier))
    # The newest origin's model is the one gated, refitted and registered.
    newest = origins[-1]
    schedule, parts, classifier = newest.schedule, newest.parts, newest.classifier
    test = parts["test"]
    metrics, scores, probabilities = newest.metrics, newest.scores, newest.probabilities
    with step("paired bootstrap over customers", timings):
        metrics.update(_across_origins(origins, int(cfg.train.bootstrap_resamples), int(cfg.seed)))
    _write_predictions(origins, out / "test_predictions.csv")

    constant = [c for c in feature_cols if parts["train"][c].nunique(dropna=False) <= 1]
    if constant:
        log.warning(
            "%d features are constant on the training snapshots, so the model cannot use them: %s",
            len(constant),
            ", ".join(constant),
        )
    if register:
        with step("promotion gate", timings):
            compared = _compare_with_champion(
                con,
                cfg,
                schedule,
                test,
                scores["LightGBM (calibrated)"],
                opened.ingest.manifest["source"],
            )
            champion_auc = compared.champion_roc_auc
            gate_scores, n_origins = _gate_scores(metrics)
            verdict = promotion_verdict(
                gate_scores,
                champion_roc_auc=champion_auc,
                candidate_roc_auc_vs_champion=compared.candidate_roc_auc,
                min_roc_auc=float(cfg.gate.min_roc_auc),
                tolerance=float(cfg.gate.tolerance),
                beat_baselines=bool(cfg.gate.beat_baselines),
                baseline_margin_roc_auc=float(cfg.gate.baseline_margin_roc_auc),
                baseline_margin_brier=float(cfg.gate.baseline_margin_brier),
                force=bool(cfg.gate.force),
                n_origins=n_origins,
                champion_label=compared.label or "the champion",
                champion_unusable=compared.unusable,
                champion_not_comparable=compared.not_comparable,
                notes=compared.notes,
            )
            if champion_auc is not None:
                metrics["champion_roc_auc"] = champion_auc
    else:
        verdict = GateVerdict(
            passed=False,
            alias="",
            forced=False,
            reasons=("skipped: train.register=false (a sweep trial or a dry run)",),
        )
    metrics["gate"] = {**verdict.as_dict(), **({} if register else {"verdict": "skipped"})}

    final = classifier
    if register and bool(cfg.train.refit):
        with step("final refit on all labelled snapshots", timings):
            labelled = pd.concat([parts["train"], parts["validation"], test])
            final = refit(classifier, labelled, labelled["churned"])
    # Drift reference for scoring: the newest labelled population (the test snapshot).
    final.reference = reference_profile(test, classifier.feature_names)

    with step("log to MLflow" + (" and register" if register else ""), timings):
        OmegaConf.save(cfg, out / "config.yaml", resolve=True)
        write_json(
            out / "schedule.json",
            {**schedule.describe(), "origins": [o.schedule.describe() for o in origins]},
        )
        numeric = {k: v for k, v in metrics.items() if isinstance(v, int | float)}
        for row in metrics["segments"]:
            numeric[f"segment_{row['segment']}_churn_rate"] = row["churn_rate"]
            if row["roc_auc"] is not None:
                numeric[f"segment_{row['segment']}_roc_auc"] = row["roc_auc"]
        gate_tags = {
            "gate.verdict": metrics["gate"]["verdict"],
            "gate.forced": str(verdict.forced).lower(),
            "gate.reasons": " | ".join(verdict.reasons)[:5000],
            **({"gate.outcome": verdict.outcome[:5000]} if verdict.outcome else {}),
        }
        if verdict.champion_unusable is not None:
            gate_tags["gate.champion_unusable"] = verdict.champion_unusable[:5000]
        run_id, version = tracking.log_training_run(
            run_name=cfg.run_name,
            config=OmegaConf.to_container(cfg, resolve=True),
            metrics={
                **numeric,
                **{
                    f"ingest_{k}": opened.ingest.manifest[k]
                    for k in (
                        "rows_read",
                        "rows_kept",
                        "rows_quarantined",
                        "duplicates_dropped",
                        "rows_without_customer",
                        "rows_excluded_products",
                    )
                },
            },
            classifier=final,
            evaluation_classifier=classifier if register else None,
            input_example=test[feature_cols],
            artifacts=[
                out / "config.yaml",
                out / "schedule.json",
                out / "test_predictions.csv",
                *ingest_files,
            ],
            registered_model_name=cfg.tracking.registered_model if register else None,
            tags={
                **schedule.as_dict(),
                "data.source": opened.ingest.manifest["source"],
                **gate_tags,
            },
        )
        if register and version is not None:
            tracking.record_gate(
                cfg.tracking.registered_model,
                version,
                run_id,
                verdict.alias,
                {
                    **gate_tags,
                    tracking.DATA_SOURCE_TAG: opened.ingest.manifest["source"],
                    "evaluation_labels_end": schedule.test.isoformat(),
                    "labels_end": last.isoformat(),
                },
            )
    metrics.update(
        {
            "run_id": run_id,
            "model_name": cfg.tracking.registered_model,
            "model_version": version,
            "model_alias": verdict.alias or None,
            "refit": final is not classifier,
            "timings_s": timings,
            **schedule.as_dict(),
        }
    )
    with step("evaluation report and SHAP plots", timings):
        report_files = _write_report(
            out,
            test["churned"].to_numpy(),
            scores,
            probabilities,
            metrics,
            schedule,
            opened.ingest.manifest["source"],
            _shap_images(classifier, test, out, int(cfg.train.explain_rows), int(cfg.seed)),
        )
        tracking.log_files(run_id, [*report_files, out / "shap_importance.csv"])
    metrics["warnings"] = list(warned.messages)
    write_json(out / "metrics.json", metrics)
    print(_summary(metrics, out / REPORT_FILE), flush=True)
    return metrics


if __name__ == "__main__":
    # `python -m churn.stages.train` runs the stage as `churn train` does.
    import sys

    from churn.cli import run_stage

    run_stage("train", sys.argv[1:])
