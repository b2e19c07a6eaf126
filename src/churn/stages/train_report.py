"""The training stage's report: the evaluation page, its figures and the console summary,
all drawn from the run's ``metrics.json`` record and the newest origin's scores."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churn.modeling.gate import MODEL
from churn.modeling.model import ChurnClassifier
from churn.modeling.schedule import Schedule
from churn.reporting import plots
from churn.reporting.evaluation_page import write_evaluation_report

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
# The model's label in the figures, the report and the summary.
MODEL_LABEL = "LightGBM (calibrated)"


@dataclass(frozen=True)
class NewestOrigin:
    """What the figures show: the newest origin's outcomes, the scores of the model and
    the baselines on its test rows (by label), and the model's probabilities before and
    after calibration."""

    schedule: Schedule
    y: np.ndarray
    scores: dict[str, np.ndarray]
    probabilities: dict[str, np.ndarray]


def _comparison(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    names = {
        "test": MODEL_LABEL,
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


def shap_images(
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
    labels = {MODEL: MODEL_LABEL, **BASELINES}
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


def write_report(
    out: Path,
    newest: NewestOrigin,
    metrics: dict[str, Any],
    source: str,
    shap: dict[str, Path],
) -> list[Path]:
    """Write the evaluation report page and its figures into ``out``; return their paths."""
    images = {**_figures(out, newest), **_differences_image(metrics, out), **shap}
    path = write_evaluation_report(
        _report_view(newest.schedule, metrics, source), images, out / REPORT_FILE
    )
    return [path, *images.values()]


def _figures(out: Path, newest: NewestOrigin) -> dict[str, Path]:
    """ROC, precision-recall, gains and reliability figures of the newest origin."""
    y, scores, probabilities = newest.y, newest.scores, newest.probabilities
    return {
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
    }


def _sample_rows(sample: dict[str, Any] | None) -> dict[str, int]:
    """The Data section's sample sizes, when training used a sample of the shop."""
    if not sample or not sample.get("sampled"):
        return {}
    return {"sample": sample["kept"], "shop_customers": sample["customers"]}


def _report_view(schedule: Schedule, metrics: dict[str, Any], source: str) -> dict[str, Any]:
    """What the evaluation page shows, from the run's ``metrics.json`` record."""
    return {
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
            **_sample_rows(metrics.get("training_sample")),
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
        "gate": metrics["gate"],
        "notes": [
            "The registered model is a refit of the evaluated one on every labelled snapshot, "
            "test included, with the same settings and number of trees; it reuses the "
            "calibration fitted on the validation snapshot. The figures above are those of "
            "the evaluated model, which never saw the test snapshot's outcomes.",
            "SHAP values are exact TreeSHAP contributions of the evaluated model on a sample "
            "of test customers; they explain the booster's log-odds, before calibration.",
        ],
    }


def summary_text(metrics: dict[str, Any], report: Path) -> str:
    rows = [
        (MODEL_LABEL, "test"),
        ("logistic RFM", "baseline_logistic"),
        ("BG/NBD", "baseline_bgnbd"),
        ("recency", "baseline_recency"),
    ]
    sample = metrics.get("training_sample") or {}
    lines = [
        *(
            [
                f"trained and tested on a sample of {sample['kept']:,} of the shop's "
                f"{sample['customers']:,} customers (train.max_customers)"
            ]
            if sample.get("sampled")
            else []
        ),
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
    labels = {MODEL: MODEL_LABEL, **BASELINES}
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
