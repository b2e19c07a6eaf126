"""Training stage: snapshots, LightGBM with early stopping, test metrics against the
recency baseline, MLflow run and registered model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from churn import tracking
from churn.errors import ConfigError
from churn.evaluate import probability_metrics, ranking_metrics
from churn.features import KEY_COLUMNS, build_features
from churn.labels import make_labels
from churn.model import fit_lightgbm
from churn.split import snapshot_schedule
from churn.stages.common import log, open_transactions, step, write_ingest_report, write_json


def _prefixed(prefix: str, metrics: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}_{k}": v for k, v in metrics.items()}


def run(cfg: DictConfig) -> dict[str, Any]:
    """Train, evaluate and register a churn model; return the metrics written to
    ``<output_dir>/metrics.json``."""
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    horizon = int(cfg.label.horizon_days)
    windows = list(cfg.features.windows)
    families = list(cfg.features.families)
    btyd_horizon = horizon if cfg.features.btyd.enabled else None
    lookback = int(cfg.label.active_lookback_days)

    opened = open_transactions(cfg)
    con, first, last = opened.con, opened.first_date, opened.last_date
    ingest_files = write_ingest_report(opened, out)
    schedule = snapshot_schedule(
        first,
        last,
        horizon,
        n_train_cutoffs=int(cfg.split.n_train_cutoffs),
        spacing_days=int(cfg.split.spacing_days),
        min_history_days=int(cfg.split.min_history_days),
    )
    log.info(
        "snapshots: train %s, validation %s, test %s",
        [d.isoformat() for d in schedule.train],
        schedule.validation,
        schedule.test,
    )

    with step("features and labels", timings):
        table = build_features(
            con,
            [*schedule.train, schedule.validation, schedule.test],
            windows,
            lookback,
            families,
            btyd_horizon_days=btyd_horizon,
        )
        table["churned"] = make_labels(con, table, horizon, last)
    feature_cols = [c for c in table.columns if c not in (*KEY_COLUMNS, "churned")]
    as_of = table["as_of"].dt.date
    parts = {
        "train": table[as_of.isin(schedule.train)],
        "validation": table[as_of == schedule.validation],
        "test": table[as_of == schedule.test],
    }
    for name, part in parts.items():
        log.info("%s: %d rows, churn rate %.3f", name, len(part), part["churned"].mean())
        if part["churned"].nunique() < 2:
            raise ConfigError(
                f"the {name} snapshot has {len(part)} rows, all labelled "
                f"{'churned' if len(part) and part['churned'].iloc[0] else 'active'}: a model "
                "cannot be trained or judged on it; check label.horizon_days and split.*"
            )
    log.info("%d features: %s", len(feature_cols), ", ".join(feature_cols))

    with step("fit LightGBM", timings):
        classifier = fit_lightgbm(
            parts["train"][feature_cols],
            parts["train"]["churned"],
            parts["validation"][feature_cols],
            parts["validation"]["churned"],
            params=OmegaConf.to_container(cfg.model.params, resolve=True),
            num_boost_round=int(cfg.model.num_boost_round),
            early_stopping_rounds=int(cfg.model.early_stopping_rounds),
            seed=int(cfg.seed),
            feature_settings={
                "windows": windows,
                "active_lookback_days": lookback,
                "families": families,
                "btyd_horizon_days": btyd_horizon,
            },
        )

    with step("evaluate", timings):
        test = parts["test"]
        p_test = classifier.predict_proba(test[feature_cols])
        p_valid = classifier.predict_proba(parts["validation"][feature_cols])
        metrics: dict[str, Any] = {
            **_prefixed("test", probability_metrics(test["churned"], p_test)),
            **_prefixed("validation", probability_metrics(parts["validation"]["churned"], p_valid)),
            # Recency alone: the longer since the last order, the likelier churn.
            **_prefixed(
                "baseline_recency", ranking_metrics(test["churned"], test["days_since_last_order"])
            ),
            # BG/NBD probability of no order in the horizon, when that family is on.
            **(
                _prefixed(
                    "baseline_bgnbd",
                    probability_metrics(test["churned"], test["bgnbd_p_no_order"]),
                )
                if "bgnbd_p_no_order" in test
                else {}
            ),
            "test_churn_rate": float(test["churned"].mean()),
            "n_train": len(parts["train"]),
            "n_validation": len(parts["validation"]),
            "n_test": len(test),
            "best_iteration": classifier.best_iteration or classifier.booster.num_trees(),
        }
        predictions = pd.DataFrame(
            {
                "customer_id": test["customer_id"].to_numpy(),
                "as_of": test["as_of"].dt.strftime("%Y-%m-%d").to_numpy(),
                "y_true": test["churned"].to_numpy(),
                "p_churn": p_test,
            }
        )
        predictions.to_csv(out / "test_predictions.csv", index=False)
    log.info(
        "test ROC AUC %.4f (recency baseline %.4f, BG/NBD %s), PR AUC %.4f, Brier %.4f, "
        "log loss %.4f",
        metrics["test_roc_auc"],
        metrics["baseline_recency_roc_auc"],
        f"{metrics['baseline_bgnbd_roc_auc']:.4f}"
        if "baseline_bgnbd_roc_auc" in metrics
        else "off",
        metrics["test_pr_auc"],
        metrics["test_brier"],
        metrics["test_log_loss"],
    )

    with step("log to MLflow and register", timings):
        tracking.start(cfg.tracking.uri, cfg.tracking.experiment, cfg.tracking.artifact_root)
        config = OmegaConf.to_container(cfg, resolve=True)
        OmegaConf.save(cfg, out / "config.yaml", resolve=True)
        write_json(out / "schedule.json", schedule.as_dict())
        run_id, version = tracking.log_training_run(
            run_name=cfg.run_name,
            config=config,
            metrics={
                **{k: v for k, v in metrics.items() if isinstance(v, int | float)},
                **{
                    f"ingest_{k}": opened.ingest.manifest[k]
                    for k in ("rows_read", "rows_kept", "rows_quarantined", "duplicates_dropped")
                },
            },
            classifier=classifier,
            input_example=test[feature_cols],
            artifacts=[
                out / "config.yaml",
                out / "schedule.json",
                out / "test_predictions.csv",
                *ingest_files,
            ],
            registered_model_name=cfg.tracking.registered_model,
            tags={**schedule.as_dict(), "data.source": opened.ingest.manifest["source"]},
        )
        alias = tracking.assign_alias(cfg.tracking.registered_model, version)
    metrics.update(
        {
            "run_id": run_id,
            "model_name": cfg.tracking.registered_model,
            "model_version": version,
            "model_alias": alias,
            "timings_s": timings,
            **schedule.as_dict(),
        }
    )
    write_json(out / "metrics.json", metrics)
    log.info(
        "registered %s version %s as @%s (run %s); outputs in %s",
        cfg.tracking.registered_model,
        version,
        alias,
        run_id,
        out,
    )
    return metrics
