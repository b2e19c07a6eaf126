"""Training stage: snapshots -> LightGBM with early stopping -> calibration -> evaluation
against baselines on the same test rows -> promotion gate -> final refit -> MLflow.

What each step means (and why) is in the README's "Evaluation" section.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
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
from churn.modeling.gate import (
    MODEL,
    GatePolicy,
    GateVerdict,
    promotion_verdict,
    same_data_source,
)
from churn.modeling.labels import make_labels
from churn.modeling.model import ChurnClassifier, FeatureSettings, fit_lightgbm, refit
from churn.modeling.sampling import CustomerSample, keep_sampled_customers
from churn.modeling.schedule import OUT_OF_TIME, Schedule, holdout_customers, origin_schedules
from churn.scoring.drift import reference_profile
from churn.scoring.selection import SegmentRules
from churn.stages.inputs import open_transactions, require_duckdb, write_ingest_report
from churn.stages.outputs import write_json
from churn.stages.run_context import log, step
from churn.stages.train_report import (
    BASELINES,
    MODEL_LABEL,
    PROBABILITY_BASELINES,
    REPORT_FILE,
    NewestOrigin,
    shap_images,
    summary_text,
    write_report,
)
from churn.stages.typed_settings import feature_settings, gate_policy, segment_rules
from churn.tracking import store as tracking


def _prefixed(prefix: str, metrics: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}_{k}": v for k, v in metrics.items()}


def _schedules(plan: TrainPlan, first: Any, last: Any) -> tuple[Schedule, ...]:
    """The schedule of each test origin, oldest first; logged, with a warning when the
    history changed what the evaluation means."""
    split = plan.split
    wanted = split.n_test_origins
    schedules = origin_schedules(
        first,
        last,
        plan.horizon_days,
        n_origins=wanted,
        origin_spacing_days=split.origin_spacing_days,
        n_train_cutoffs=split.n_train_cutoffs,
        spacing_days=split.spacing_days,
        min_history_days=split.min_history_days,
        min_spacing_days=split.min_spacing_days,
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


@dataclass(frozen=True)
class SplitPlan:
    """Where the test origins and their training cutoffs fall (``split.*``; see
    :func:`churn.modeling.schedule.origin_schedules`)."""

    n_test_origins: int
    origin_spacing_days: int
    n_train_cutoffs: int
    spacing_days: int
    min_history_days: int
    min_spacing_days: int


@dataclass(frozen=True)
class FitSettings:
    """How LightGBM is fitted and calibrated (``model.*`` and ``seed``)."""

    params: dict[str, Any]
    num_boost_round: int
    early_stopping_rounds: int
    calibration: str
    seed: int


@dataclass(frozen=True)
class TrainPlan:
    """Everything the training stage reads from its config, typed once by :func:`run`."""

    horizon_days: int
    features: FeatureSettings
    split: SplitPlan
    fit: FitSettings
    segments: SegmentRules
    gate: GatePolicy
    register: bool
    refit: bool
    bootstrap_resamples: int
    explain_rows: int
    registered_model: str
    max_customers: int | None = None

    @classmethod
    def from_config(cls, cfg: DictConfig) -> TrainPlan:
        """The plan of a composed ``train`` config."""
        horizon = int(cfg.label.horizon_days)
        split = cfg.split
        return cls(
            horizon_days=horizon,
            features=feature_settings(cfg),
            split=SplitPlan(
                n_test_origins=int(split.n_test_origins),
                origin_spacing_days=int(split.origin_spacing_days),
                n_train_cutoffs=int(split.n_train_cutoffs),
                spacing_days=int(split.spacing_days),
                min_history_days=int(split.min_history_days),
                min_spacing_days=int(split.min_spacing_days),
            ),
            fit=FitSettings(
                params=dict(OmegaConf.to_container(cfg.model.params, resolve=True)),
                num_boost_round=int(cfg.model.num_boost_round),
                early_stopping_rounds=int(cfg.model.early_stopping_rounds),
                calibration=str(cfg.model.calibration),
                seed=int(cfg.seed),
            ),
            segments=segment_rules(cfg),
            gate=gate_policy(cfg),
            register=bool(cfg.train.register),
            refit=bool(cfg.train.refit),
            bootstrap_resamples=int(cfg.train.bootstrap_resamples),
            explain_rows=int(cfg.train.explain_rows),
            registered_model=str(cfg.tracking.registered_model),
            max_customers=_whole_or_none(cfg.train.get("max_customers")),
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
    registered_model: str,
    features: FeatureSettings,
    schedule: Schedule,
    test: pd.DataFrame,
    candidate_p: np.ndarray,
    source: str,
) -> _ChampionComparison:
    """Re-score the current champion on the test snapshot, when it is a model of the same
    data (``source``) that this data can feed."""
    champion = tracking.champion_reference(registered_model)
    candidate = ranking_metrics(test["churned"], candidate_p)["roc_auc"]
    if champion is None:
        return _ChampionComparison(None, candidate, "", [])
    label = f"champion v{champion.version}"
    if champion.data_source is not None and not same_data_source(champion.data_source, source):
        why = (
            f"it was trained on {champion.data_source}, this run on {source} (another "
            f"shop's data shares the registered model {registered_model!r})"
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
    champion_features = _champion_features(con, champion.classifier, features, schedule, test)
    missing = [c for c in champion.classifier.feature_names if c not in champion_features]
    if missing:
        why = f"it needs features this data cannot feed ({', '.join(missing)})"
        log.warning("%s is unusable on this data: %s; not compared", label, why)
        return _ChampionComparison(None, candidate, label, [], unusable=why)
    rows = test[["customer_id", "churned"]].assign(candidate=candidate_p)
    rows = rows.merge(champion_features, on="customer_id", suffixes=("", "_champion"))
    champion_p = champion.classifier.predict_proba(rows)
    y = rows["churned"]
    return _ChampionComparison(
        ranking_metrics(y, champion_p)["roc_auc"],
        ranking_metrics(y, rows["candidate"])["roc_auc"],
        label,
        _champion_notes(champion, label, len(rows), len(test), schedule),
    )


def _champion_features(
    con: Any,
    champion: ChurnClassifier,
    features: FeatureSettings,
    schedule: Schedule,
    test: pd.DataFrame,
) -> pd.DataFrame:
    """The test snapshot's features as the champion was trained to see them."""
    settings = champion.feature_settings
    if (
        set(champion.feature_names) <= set(test.columns)
        and settings is not None
        and settings.active_lookback_days == features.active_lookback_days
    ):
        return test
    # Trained with other feature settings: rebuild its features for the test cutoff.
    return build_features(con, [schedule.test], **(settings.to_dict() if settings else {}))


def _champion_notes(
    champion: Any, label: str, compared: int, tested: int, schedule: Schedule
) -> list[str]:
    """Caveats of the comparison with the champion, for the gate's reasons."""
    notes = []
    if compared < tested:
        notes.append(
            f"{label} was compared on the {compared} of {tested} test customers in "
            "both models' populations"
        )
    if champion.labels_end and champion.labels_end > schedule.test.isoformat():
        notes.append(
            f"{label} was trained on outcomes up to {champion.labels_end}, after this test "
            f"cutoff ({schedule.test}): its score here is optimistic"
        )
    if not champion.evaluated_model:
        notes.append(f"{label} has no evaluation model: its final refit was re-scored")
    return notes


@dataclass(frozen=True)
class OriginEvaluation:
    """One test origin: its schedule and snapshots, the model evaluated there, its
    metrics (``test_*``, ``test_uncalibrated_*``, ``validation_*``, ``baseline_*`` and
    ``test_churn_rate``), the rows it counted, its segment metrics, the scores of the
    model and the baselines on its test rows (by label) and the model's probabilities
    before and after calibration."""

    schedule: Schedule
    parts: dict[str, pd.DataFrame]
    classifier: ChurnClassifier
    metrics: dict[str, float]
    counts: dict[str, int]
    segments: list[dict[str, Any]]
    scores: dict[str, np.ndarray]
    probabilities: dict[str, np.ndarray]

    @property
    def best_iteration(self) -> int:
        """Trees the evaluated model uses."""
        return self.classifier.best_iteration or self.classifier.booster.num_trees()

    def report_inputs(self) -> NewestOrigin:
        """What the report's figures show of this origin."""
        y = self.parts["test"]["churned"].to_numpy()
        return NewestOrigin(self.schedule, y, self.scores, self.probabilities)

    def record(self) -> dict[str, Any]:
        """The flat entries of ``metrics.json`` that describe this origin."""
        return {
            **self.metrics,
            **self.counts,
            "best_iteration": self.best_iteration,
            "calibration": self.classifier.calibrator.method,
            "segments": self.segments,
        }


def _fit(
    plan: TrainPlan, parts: dict[str, pd.DataFrame], feature_cols: list[str]
) -> tuple[ChurnClassifier, np.ndarray]:
    """LightGBM with early stopping on the validation snapshot, calibrated there; with the
    booster's raw probabilities on the validation rows (the calibration's input, reused
    for the validation metrics rather than predicted again)."""
    train, valid, fit = parts["train"], parts["validation"], plan.fit
    classifier = fit_lightgbm(
        train[feature_cols],
        train["churned"],
        valid[feature_cols],
        valid["churned"],
        params=fit.params,
        num_boost_round=fit.num_boost_round,
        early_stopping_rounds=fit.early_stopping_rounds,
        seed=fit.seed,
        feature_settings=plan.features,
    )
    classifier = replace(classifier, horizon_days=plan.horizon_days)
    raw_valid = classifier.predict_raw(valid)
    return (
        classifier.calibrated(fit_calibrator(raw_valid, valid["churned"], fit.calibration)),
        raw_valid,
    )


def _bgnbd_scores(con: Any, schedule: Schedule, test: pd.DataFrame, horizon: int) -> pd.Series:
    """BG/NBD's P(no order in the horizon) for the test rows, computed when the model's
    features leave that family out (the baseline still needs it)."""
    if "bgnbd_p_no_order" in test:
        return test["bgnbd_p_no_order"]
    preds = bgnbd_predictions(con, [schedule.test], horizon)
    keys = list(KEY_COLUMNS)
    return test[keys].merge(preds, on=keys, how="left")["bgnbd_p_no_order"]


def _evaluate(
    plan: TrainPlan,
    con: Any,
    schedule: Schedule,
    parts: dict[str, pd.DataFrame],
    classifier: ChurnClassifier,
    raw_valid: np.ndarray,
) -> OriginEvaluation:
    """Metrics of the model and the baselines on one origin's test rows (``raw_valid``:
    the booster's raw probabilities on the validation rows)."""
    test, valid, train = parts["test"], parts["validation"], parts["train"]
    bgnbd = _bgnbd_scores(con, schedule, test, plan.horizon_days).to_numpy(dtype="float64")
    y = test["churned"].to_numpy()
    # predict_proba is the calibrator applied to predict_raw: the trees run once per row.
    raw = classifier.predict_raw(test)
    p = classifier.calibrator.apply(raw)
    logistic = fit_logistic_rfm(train, train["churned"], seed=plan.fit.seed)
    p_logistic = predict_logistic_rfm(logistic, test)
    metrics = {
        **_prefixed("test", probability_metrics(y, p)),
        **_prefixed("test_uncalibrated", probability_metrics(y, raw)),
        **_prefixed(
            "validation",
            probability_metrics(valid["churned"], classifier.calibrator.apply(raw_valid)),
        ),
        # Recency alone: the longer since the last order, the likelier churn.
        **_prefixed("baseline_recency", ranking_metrics(y, test["days_since_last_order"])),
        **_prefixed("baseline_logistic", probability_metrics(y, p_logistic)),
        **_prefixed("baseline_bgnbd", probability_metrics(y, bgnbd)),
        "test_churn_rate": float(y.mean()),
    }
    counts = {"n_train": len(train), "n_validation": len(valid), "n_test": len(test)}
    segments = segment_metrics(y, p, plan.segments.assign(test).tolist())
    scores = {
        MODEL_LABEL: p,
        BASELINES["logistic"]: p_logistic,
        BASELINES["bgnbd"]: bgnbd,
        BASELINES["recency"]: test["days_since_last_order"].to_numpy(dtype="float64"),
    }
    probabilities = {"before calibration": raw, "after calibration": p}
    return OriginEvaluation(
        schedule, parts, classifier, metrics, counts, segments, scores, probabilities
    )


def _origin_models(metrics: dict[str, float]) -> dict[str, dict[str, float]]:
    """One origin's metrics by model name (``model``, ``model_uncalibrated`` and each
    baseline)."""
    prefixes = {
        MODEL: "test",
        f"{MODEL}_uncalibrated": "test_uncalibrated",
        **{name: f"baseline_{name}" for name in BASELINES},
    }
    return {
        name: {
            key.removeprefix(f"{prefix}_"): value
            for key, value in metrics.items()
            if key.startswith(f"{prefix}_")
        }
        for name, prefix in prefixes.items()
    }


@dataclass(frozen=True)
class Evaluation:
    """The evaluation of a training run: the newest origin (the model gated, refitted and
    registered) and every origin's ROC AUC and Brier score, their means and the
    model-minus-baseline differences (see :func:`_across_origins`)."""

    newest: OriginEvaluation
    origins: list[dict[str, Any]]
    mean: dict[str, dict[str, float | None]]
    differences: dict[str, dict[str, dict[str, float]]]

    def flat_means(self) -> dict[str, float]:
        """``mean_<model>_<metric>`` of every mean that exists."""
        return {
            f"mean_{name}_{metric}": value
            for name, values in self.mean.items()
            for metric, value in values.items()
            if value is not None
        }

    def record(self) -> dict[str, Any]:
        """The entries of ``metrics.json`` that the evaluation gives."""
        return {
            **self.newest.record(),
            "n_origins": len(self.origins),
            "origins": self.origins,
            "mean": self.mean,
            "differences": self.differences,
            **self.flat_means(),
        }

    def numeric(self) -> dict[str, float]:
        """The figures logged to MLflow as metrics, segment rows flattened."""
        newest = self.newest
        figures: dict[str, float] = {
            **newest.metrics,
            **newest.counts,
            "best_iteration": newest.best_iteration,
            "n_origins": len(self.origins),
            **self.flat_means(),
        }
        for row in newest.segments:
            figures[f"segment_{row['segment']}_churn_rate"] = row["churn_rate"]
            if row["roc_auc"] is not None:
                figures[f"segment_{row['segment']}_roc_auc"] = row["roc_auc"]
        return figures


def _across_origins(origins: list[OriginEvaluation], n_resamples: int, seed: int) -> Evaluation:
    """Per origin and averaged over origins: every model's ROC AUC and Brier score, and
    the model-minus-baseline differences with 95% intervals from a paired bootstrap over
    customers (resampled within each origin; the mean's draws average the origins'
    draws of the same resample)."""
    rows, draws = [], []
    for i, origin in enumerate(origins):
        y = origin.parts["test"]["churned"].to_numpy()
        scores = origin.scores
        boot = paired_bootstrap(
            y,
            scores[MODEL_LABEL],
            {name: scores[label] for name, label in BASELINES.items()},
            PROBABILITY_BASELINES,
            n_resamples=n_resamples,
            seed=seed + i,
        )
        models = _origin_models(origin.metrics)
        draws.append(boot)
        rows.append(
            {
                "test_cutoff": origin.schedule.test.isoformat(),
                "schedule": origin.schedule.describe(),
                **origin.counts,
                "test_churn_rate": origin.metrics["test_churn_rate"],
                "best_iteration": origin.best_iteration,
                "models": models,
                "differences": {
                    name: {
                        metric: interval(models[MODEL][metric] - models[name][metric], values)
                        for metric, values in boot[name].items()
                    }
                    for name in BASELINES
                },
            }
        )
    return Evaluation(origins[-1], rows, _means(rows), _mean_differences(rows, draws))


def _means(rows: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Every model's ROC AUC and Brier score averaged over the origins (``None``: a
    ranking, no Brier)."""
    return {
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


def _mean_differences(
    rows: list[dict[str, Any]], draws: list[dict[str, Any]]
) -> dict[str, dict[str, dict[str, float]]]:
    """Model minus each baseline averaged over the origins, with the interval of the
    averaged bootstrap draws."""
    return {
        name: {
            metric: interval(
                float(np.mean([r["differences"][name][metric]["estimate"] for r in rows])),
                np.mean([d[name][metric] for d in draws], axis=0),
            )
            for metric in draws[0][name]
        }
        for name in BASELINES
    }


def _write_predictions(origins: list[OriginEvaluation], path: Path) -> None:
    """``customer_id, as_of, y_true, p_churn`` of every origin, oldest first."""
    pd.concat(
        [
            pd.DataFrame(
                {
                    "customer_id": o.parts["test"]["customer_id"].to_numpy(),
                    "as_of": o.parts["test"]["as_of"].dt.strftime("%Y-%m-%d").to_numpy(),
                    "y_true": o.parts["test"]["churned"].to_numpy(),
                    "p_churn": o.scores[MODEL_LABEL],
                }
            )
            for o in origins
        ]
    ).to_csv(path, index=False)


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


@dataclass(frozen=True)
class _Gated:
    """The promotion gate's verdict, with the champion's ROC AUC when it was compared."""

    verdict: GateVerdict
    champion_roc_auc: float | None = None
    skipped: bool = False

    def record(self) -> dict[str, Any]:
        """The entries of ``metrics.json`` that the gate gives."""
        gate = {**self.verdict.as_dict(), **({"verdict": "skipped"} if self.skipped else {})}
        champion = (
            {} if self.champion_roc_auc is None else {"champion_roc_auc": self.champion_roc_auc}
        )
        return {"gate": gate, **champion}

    def tags(self) -> dict[str, str]:
        """The gate's MLflow tags, on the run and on the registered version."""
        verdict = self.verdict
        tags = {
            "gate.verdict": self.record()["gate"]["verdict"],
            "gate.forced": str(verdict.forced).lower(),
            "gate.reasons": " | ".join(verdict.reasons)[:5000],
            **({"gate.outcome": verdict.outcome[:5000]} if verdict.outcome else {}),
        }
        if verdict.champion_unusable is not None:
            tags["gate.champion_unusable"] = verdict.champion_unusable[:5000]
        return tags


_SKIPPED = _Gated(
    GateVerdict(
        passed=False,
        alias="",
        forced=False,
        reasons=("skipped: train.register=false (a sweep trial or a dry run)",),
    ),
    skipped=True,
)


@dataclass(frozen=True)
class _Registration:
    """Where the run was logged and, when registered, the version and its alias."""

    run_id: str
    model_name: str
    version: str | None
    alias: str | None


def _feature_table(
    plan: TrainPlan, con: Any, last: Any, schedules: tuple[Schedule, ...], timings: dict[str, float]
) -> tuple[pd.DataFrame, list[str]]:
    """Every origin's cutoffs in one labelled feature table, and its feature columns."""
    # A cutoff shared by origins (they step back on the same grid) is computed once, and
    # its label does not depend on the origin.
    cutoffs = sorted({d for s in schedules for d in (*s.train, s.validation, s.test)})
    with step(f"features ({len(cutoffs)} cutoffs)", timings):
        table = build_features(con, cutoffs, **plan.features.to_dict())
    with step("labels", timings):
        table["churned"] = make_labels(con, table, plan.horizon_days, last)
    feature_cols = [c for c in table.columns if c not in (*KEY_COLUMNS, "churned")]
    log.info("%d features: %s", len(feature_cols), ", ".join(feature_cols))
    return table, feature_cols


def _whole_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _sample(plan: TrainPlan, con: Any, timings: dict[str, float]) -> CustomerSample:
    """Keep a sample of ``train.max_customers`` customers for training when the shop has
    more (see :mod:`churn.modeling.sampling`); logged either way."""
    with step("customer sample", timings):
        sample = keep_sampled_customers(con, plan.max_customers)
    if sample.sampled:
        log.info(
            "training on a sample of %d of the shop's %d customers, every line of theirs "
            "(train.max_customers=%d; null trains on all): snapshots, models and test "
            "figures are of the sample; scoring scores everyone",
            sample.kept,
            sample.customers,
            plan.max_customers,
        )
    return sample


def _evaluate_origins(
    plan: TrainPlan,
    con: Any,
    table: pd.DataFrame,
    feature_cols: list[str],
    schedules: tuple[Schedule, ...],
    timings: dict[str, float],
) -> list[OriginEvaluation]:
    """A model fitted and evaluated at each test origin, oldest first."""
    origins = []
    for schedule in schedules:
        parts = _split(table, schedule)
        with step(f"fit LightGBM (origin {schedule.test})", timings):
            classifier, raw_valid = _fit(plan, parts, feature_cols)
        with step(f"evaluate against baselines (origin {schedule.test})", timings):
            origins.append(_evaluate(plan, con, schedule, parts, classifier, raw_valid))
    return origins


def _warn_constant(train: pd.DataFrame, feature_cols: list[str]) -> None:
    constant = [c for c in feature_cols if train[c].nunique(dropna=False) <= 1]
    if constant:
        log.warning(
            "%d features are constant on the training snapshots, so the model cannot use them: %s",
            len(constant),
            ", ".join(constant),
        )


def _gate(plan: TrainPlan, con: Any, evaluation: Evaluation, source: str) -> _Gated:
    """The newest origin's model judged against the floor, the baselines and the
    current champion."""
    newest = evaluation.newest
    compared = _compare_with_champion(
        con,
        plan.registered_model,
        plan.features,
        newest.schedule,
        newest.parts["test"],
        newest.scores[MODEL_LABEL],
        source,
    )
    verdict = promotion_verdict(
        evaluation.mean,
        policy=plan.gate,
        champion_roc_auc=compared.champion_roc_auc,
        candidate_roc_auc_vs_champion=compared.candidate_roc_auc,
        n_origins=len(evaluation.origins),
        champion_label=compared.label or "the champion",
        champion_unusable=compared.unusable,
        champion_not_comparable=compared.not_comparable,
        notes=compared.notes,
    )
    return _Gated(verdict, compared.champion_roc_auc)


def _final_model(
    plan: TrainPlan, newest: OriginEvaluation, timings: dict[str, float]
) -> ChurnClassifier:
    """The model to register: the evaluated one, or its refit on every labelled snapshot;
    either carries the drift reference of the newest labelled population (the test
    snapshot) for scoring."""
    evaluated, parts = newest.classifier, newest.parts
    final = evaluated
    if plan.register and plan.refit:
        with step("final refit on all labelled snapshots", timings):
            labelled = pd.concat([parts["train"], parts["validation"], parts["test"]])
            final = refit(evaluated, labelled, labelled["churned"])
    return final.with_reference(reference_profile(parts["test"], evaluated.feature_names))


def _write_run_files(
    cfg: DictConfig, out: Path, origins: list[OriginEvaluation], schedule: Schedule
) -> list[Path]:
    """The run's config, schedule and test predictions, logged with it."""
    OmegaConf.save(cfg, out / "config.yaml", resolve=True)
    write_json(
        out / "schedule.json",
        {**schedule.describe(), "origins": [o.schedule.describe() for o in origins]},
    )
    _write_predictions(origins, out / "test_predictions.csv")
    return [out / "config.yaml", out / "schedule.json", out / "test_predictions.csv"]


INGEST_METRICS = (
    "rows_read",
    "rows_kept",
    "rows_quarantined",
    "duplicates_dropped",
    "rows_without_customer",
    "rows_excluded_products",
)


def _log_run(
    cfg: DictConfig,
    plan: TrainPlan,
    opened: Any,
    evaluation: Evaluation,
    gated: _Gated,
    final: ChurnClassifier,
    artifacts: list[Path],
    sample: CustomerSample,
) -> _Registration:
    """Log the run to MLflow and, with ``train.register``, register the final model and
    record the gate's alias."""
    newest = evaluation.newest
    manifest = opened.ingest.manifest
    figures = {**evaluation.numeric(), **{k: v for k, v in gated.record().items() if k != "gate"}}
    run_id, version = tracking.log_training_run(
        run_name=cfg.run_name,
        config=OmegaConf.to_container(cfg, resolve=True),
        metrics={
            **figures,
            **{f"ingest_{k}": manifest[k] for k in INGEST_METRICS},
            "customers_in_shop": sample.customers,
            "customers_trained": sample.kept,
        },
        classifier=final,
        evaluation_classifier=newest.classifier if plan.register else None,
        input_example=newest.parts["test"][newest.classifier.feature_names],
        artifacts=artifacts,
        registered_model_name=plan.registered_model if plan.register else None,
        tags={**newest.schedule.as_dict(), "data.source": manifest["source"], **gated.tags()},
    )
    if plan.register and version is not None:
        tracking.record_gate(
            plan.registered_model,
            version,
            run_id,
            gated.verdict.alias,
            {
                **gated.tags(),
                tracking.DATA_SOURCE_TAG: manifest["source"],
                "evaluation_labels_end": newest.schedule.test.isoformat(),
                "labels_end": opened.last_date.isoformat(),
            },
        )
    return _Registration(run_id, plan.registered_model, version, gated.verdict.alias or None)


def _metrics_record(
    plan: TrainPlan,
    evaluation: Evaluation,
    gated: _Gated,
    registration: _Registration,
    timings: dict[str, float],
) -> dict[str, Any]:
    """What ``metrics.json`` holds (before the run's warnings are added)."""
    return {
        **evaluation.record(),
        **gated.record(),
        "run_id": registration.run_id,
        "model_name": registration.model_name,
        "model_version": registration.version,
        "model_alias": registration.alias,
        "refit": plan.register and plan.refit,
        "timings_s": timings,
        **evaluation.newest.schedule.as_dict(),
    }


def run(cfg: DictConfig) -> dict[str, Any]:
    """Train, evaluate, gate and register a churn model; return the metrics written to
    ``<output_dir>/metrics.json`` (with ``warnings``: what the run logged as WARNING)."""
    warned = _Warnings()
    log.addHandler(warned)
    try:
        return _train(cfg, TrainPlan.from_config(cfg), warned)
    finally:
        log.removeHandler(warned)


def _train(cfg: DictConfig, plan: TrainPlan, warned: _Warnings) -> dict[str, Any]:
    require_duckdb(cfg, "train", "training fits one machine on the snapshot table")
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    # The data first (a missing file must not leave an empty store behind), then the
    # store before minutes of work: a read-only, corrupt or unreachable one fails now.
    opened = open_transactions(cfg)
    tracking.start(
        cfg.tracking.uri, cfg.tracking.experiment, cfg.tracking.artifact_root, create=True
    )
    con, source = opened.con, opened.ingest.manifest["source"]
    ingest_files = write_ingest_report(opened, out)
    sample = _sample(plan, con, timings)
    schedules = _schedules(plan, opened.first_date, opened.last_date)
    table, feature_cols = _feature_table(plan, con, opened.last_date, schedules, timings)
    origins = _evaluate_origins(plan, con, table, feature_cols, schedules, timings)
    with step("paired bootstrap over customers", timings):
        evaluation = _across_origins(origins, plan.bootstrap_resamples, plan.fit.seed)
    newest = evaluation.newest
    _warn_constant(newest.parts["train"], feature_cols)
    gated = _SKIPPED
    if plan.register:
        with step("promotion gate", timings):
            gated = _gate(plan, con, evaluation, source)
    final = _final_model(plan, newest, timings)
    with step("log to MLflow" + (" and register" if plan.register else ""), timings):
        run_files = _write_run_files(cfg, out, origins, newest.schedule)
        registration = _log_run(
            cfg, plan, opened, evaluation, gated, final, [*run_files, *ingest_files], sample
        )
    metrics = {
        **_metrics_record(plan, evaluation, gated, registration, timings),
        "training_sample": sample.as_dict(),
    }
    with step("evaluation report and SHAP plots", timings):
        test = newest.parts["test"]
        images = shap_images(newest.classifier, test, out, plan.explain_rows, plan.fit.seed)
        report_files = write_report(out, newest.report_inputs(), metrics, source, images)
        tracking.log_files(registration.run_id, [*report_files, out / "shap_importance.csv"])
    metrics["warnings"] = list(warned.messages)
    write_json(out / "metrics.json", metrics)
    print(summary_text(metrics, out / REPORT_FILE), flush=True)
    return metrics


if __name__ == "__main__":
    # `python -m churn.stages.train` runs the stage as `churn train` does.
    import sys

    from churn.cli import run_stage

    run_stage("train", sys.argv[1:])
