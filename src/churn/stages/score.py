"""Scoring stage (nightly): ``<output_dir>/<as_of>/`` gets the at-risk CSV, every score,
a manifest and a one-page summary for marketers, all or nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from churn.data.consent import quarantined_objections, suppression_reasons
from churn.errors import ChurnError, ConfigError, DataContractError, NoModelError
from churn.features.profile import customer_profile
from churn.modeling.model import ChurnClassifier
from churn.reporting.summary_page import write_summary
from churn.scoring.actions import NO_THEME, ActionTable
from churn.scoring.control import GROUPS, ControlPolicy, groups, strata_counts
from churn.scoring.drift import DriftPolicy
from churn.scoring.selection import (
    SegmentRules,
    SelectionPolicy,
    expected_incremental_value,
    expected_value_at_risk,
    list_size_tradeoff,
    neutralise_formulas,
    rank_by_value,
)
from churn.scoring.themes import explain, segment_name
from churn.stages.inputs import (
    OpenedData,
    combined_manifest,
    input_fingerprint,
    open_transactions,
)
from churn.stages.output_folder import atomic_dir, check_output_folder
from churn.stages.outputs import write_json
from churn.stages.run_context import code_version, log, resolve_as_of, step
from churn.stages.typed_settings import (
    action_table,
    control_policy,
    drift_policy,
    segment_rules,
    selection_policy,
)
from churn.text.formatting import Formatter
from churn.text.messages import check_locale, messages
from churn.tracking import store as tracking

CSV_FILE = "at_risk_customers.csv"
# One CSV per action, the same columns, for importing each campaign on its own.
ACTIONS_FOLDER = "by_action"
# The at-risk CSV holds these columns only, in this order (an allow-list: nothing else
# about a customer leaves the pipeline through it). first_name and email come after
# customer_id when the customers table has them; reason_1..reason_<n_reasons> go between
# CSV_LEADING and CSV_PERSONAL. Documented column by column in docs/at_risk_list.md.
CSV_CONTACT = ["first_name", "email"]
CSV_LEADING = [
    "churn_probability",
    "risk_tier",
    "segment",
    "theme",
    "cause",
    "recommended_action",
    "offer",
    "discount_advised",
    "expected_value_at_risk",
    "days_since_last_order",
    "orders_365d",
    "spend_365d",
]
CSV_PERSONAL = [
    "favourite_category",
    "last_category",
    "last_product",
    "days_since_last_purchase",
    "usual_gap_days",
    "expected_next_order",
    "preferred_weekday",
    "preferred_hour",
    "preferred_channel",
]
CSV_TRAILING = ["action_id", "as_of", "model_version"]
# Every file the stage writes into <output_dir>/<locale>/<as_of>/: the folder is ours alone.
OWN_FILES = (
    CSV_FILE,
    ACTIONS_FOLDER,
    "scores.parquet",
    "manifest.json",
    "summary.html",
    "quarantine.csv",
    "customers_quarantine.csv",
)


def csv_columns(n_reasons: int, contact: bool = False) -> list[str]:
    """The at-risk CSV's columns with ``n_reasons`` reason columns, and the customers
    table's first name and e-mail when ``contact``."""
    return [
        "customer_id",
        *(CSV_CONTACT if contact else []),
        *CSV_LEADING,
        *(f"reason_{k + 1}" for k in range(n_reasons)),
        *CSV_PERSONAL,
        *CSV_TRAILING,
    ]


CSV_COLUMNS = csv_columns(3)


def csv_dialect(sep: str | None, decimal: str | None, locale: str) -> tuple[str, str]:
    """The CSV's separator and decimal mark: as set, else as the language's spreadsheets
    expect (``,`` and ``.`` where decimals take a point; ``;`` and ``,`` where they take a
    comma). A decimal mark left unset never equals the separator set."""
    if decimal is None:
        comma = Formatter(locale).decimal_comma() and sep != ","
        decimal = "," if comma else "."
    if sep is None:
        sep = ";" if decimal == "," else ","
    return str(sep), str(decimal)


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
    """Churn probabilities: in process, or on a cluster engine's workers by MLflow's Spark
    UDF of the loaded model."""
    remote = partial(tracking.spark_udf, name=model.name, version=model.version, uri=model.uri)
    return opened.engine.predict(model.classifier, features, remote)


def _write_scores(opened: OpenedData, scores: pd.DataFrame, target: Path) -> None:
    """``scores.parquet``: one file, or on a cluster engine a folder partitioned by
    ``risk_tier`` (``risk_tier=high/part-*.parquet``), as a data lake table expects."""
    opened.engine.write_frame(scores, target, partition_by="risk_tier")


@dataclass(frozen=True)
class ScorePlan:
    """Everything the scoring stage reads from its config, typed once by :func:`run`."""

    output_dir: Path
    locale: str
    currency: str
    segments: SegmentRules
    drift: DriftPolicy
    selection: SelectionPolicy
    control: ControlPolicy
    actions: ActionTable
    n_reasons: int
    csv_sep: str
    csv_decimal: str
    # The input CSV's delimiter: a quarantined customers row is split with it.
    input_delimiter: str
    # score.selection=uplift: the uplift champion, or why the list falls back to value at
    # risk (see _choose_uplift).
    uplift: Any = None
    uplift_fallback: str | None = None

    @classmethod
    def from_config(cls, cfg: DictConfig, locale: str) -> ScorePlan:
        """The plan of a composed ``score`` config, in the checked ``locale``."""
        csv_sep, csv_decimal = csv_dialect(cfg.score.csv.sep, cfg.score.csv.decimal, locale)
        return cls(
            output_dir=Path(cfg.score.output_dir),
            locale=locale,
            currency=str(cfg.data.currency),
            segments=segment_rules(cfg),
            drift=drift_policy(cfg),
            selection=selection_policy(cfg),
            control=control_policy(cfg),
            actions=action_table(cfg),
            n_reasons=int(cfg.score.n_reasons),
            csv_sep=csv_sep,
            csv_decimal=csv_decimal,
            input_delimiter=str(cfg.data.csv.delimiter),
        )


def _log_drift(report: list[dict[str, Any]], policy: DriftPolicy) -> None:
    for row in report:
        if "aligned_days" in row and row["psi_as_measured"] >= policy.warn_psi:
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
                policy.fail_psi,
                row["ignored"],
            )
        else:
            log.warning(
                "drift: %s PSI %.3f >= score.drift.warn_psi %s",
                row["feature"],
                row["psi"],
                policy.warn_psi,
            )


@dataclass(frozen=True)
class _AtRisk:
    """The at-risk list and how it came about: ``frame`` is the CSV's rows (every
    column, keys included), ``control`` the rows of the customers selected but held out
    as the control group (the same columns; never in the CSV), ``wanted`` the list's size
    with everyone contactable, ``left_out`` its customers left out by reason, ``sizes``
    the list-size trade-off and ``empty_reason`` why it is empty."""

    frame: pd.DataFrame
    control: pd.DataFrame
    wanted: int
    left_out: pd.Series
    sizes: list[dict[str, Any]]
    empty_reason: dict[str, Any] | None

    @property
    def suppressed(self) -> int:
        """Customers the list would hold but who must not be contacted."""
        return int(self.left_out.sum())


def _features(opened: OpenedData, classifier: ChurnClassifier, as_of: Any) -> pd.DataFrame:
    """The population's features at ``as_of``, built as the model was trained."""
    settings = classifier.feature_settings
    features = opened.features(
        [as_of],
        list(settings.windows),
        settings.active_lookback_days,
        list(settings.families),
        btyd_horizon_days=settings.btyd_horizon_days,
    )
    if features.empty:
        raise ConfigError(
            f"no customer ordered in the {settings.active_lookback_days} days up to "
            f"as_of={as_of}: nothing to score"
        )
    missing = [c for c in classifier.feature_names if c not in features.columns]
    if missing:
        raise DataContractError(
            f"{opened.ingest.manifest['source']}: the model needs features this data cannot "
            f"feed ({', '.join(missing)}); their input columns are missing, or the model "
            "belongs to another shop (set tracking.registered_model to this shop's model)"
        )
    return features


def _scores(
    plan: ScorePlan, opened: OpenedData, model: Any, features: pd.DataFrame, as_of: Any
) -> pd.DataFrame:
    """Every customer's probability, tier, segment, value at risk and contact consent
    (keys, not words: ``scores.parquet`` reads the same in every language)."""
    scores = features[["customer_id"]].copy()
    scores["churn_probability"] = _predict(opened, model, features)
    scores["risk_tier"] = plan.selection.tier(scores["churn_probability"])
    scores["segment"] = plan.segments.assign(features)
    scores["expected_value_at_risk"] = expected_value_at_risk(
        scores["churn_probability"], features["spend_365d"]
    )
    for col in ("days_since_last_order", "orders_365d", "spend_365d"):
        scores[col] = features[col]
    scores["as_of"] = as_of.isoformat()
    scores["model_version"] = model.version
    scores["do_not_contact_reason"] = _do_not_contact(
        opened, scores["customer_id"], plan.input_delimiter
    )
    # True for every customer who must not be contacted: opted out, or consent in doubt.
    scores["marketing_opt_out"] = scores["do_not_contact_reason"].notna()
    return scores


def _explained(
    plan: ScorePlan, classifier: ChurnClassifier, listed: pd.DataFrame, features: pd.DataFrame
) -> pd.DataFrame:
    """Reasons, theme, cause and action of the listed customers (see
    :func:`churn.scoring.themes.explain`)."""
    explained = features.loc[listed.index]
    contributions = (
        classifier.contributions(explained)
        if len(listed)
        else pd.DataFrame(columns=[*classifier.feature_names, "bias"], index=listed.index)
    )
    return explain(
        contributions.astype("float64"),
        explained,
        listed["segment"],
        plan.actions,
        n_reasons=plan.n_reasons,
        locale=plan.locale,
        currency=plan.currency,
    )


def _personal(
    plan: ScorePlan, opened: OpenedData, listed: pd.DataFrame, as_of: Any
) -> pd.DataFrame:
    """The listed customers' personalisation fields (:mod:`churn.features.profile`), the
    weekday named in the list's language."""
    profile = customer_profile(
        opened.engine,
        as_of,
        customers_table=opened.customers is not None,
        customer_ids=listed["customer_id"].astype(str).tolist(),
    )
    profile = profile.set_index("customer_id").reindex(listed["customer_id"].astype(str))
    fmt = Formatter(plan.locale, plan.currency)
    weekday = profile["preferred_weekday"]
    profile["preferred_weekday"] = [None if pd.isna(d) else fmt.weekday(int(d)) for d in weekday]
    profile.index = listed.index
    return profile


def for_value_alone(reason: pd.Series, theme: pd.Series, tier: pd.Series, locale: str) -> pd.Series:
    """``reason`` where a customer of low risk has no behaviour to cite: they are on a
    list ranked by value at risk for the value they bring, and the reason says so."""
    alone = (theme == NO_THEME) & (tier == "low")
    return reason.where(~alone, messages(locale).text("reason.none.value"))


def _csv_rows(
    plan: ScorePlan, listed: pd.DataFrame, explained: pd.DataFrame, personal: pd.DataFrame
) -> pd.DataFrame:
    """The CSV's rows: the list in the chosen language, rounded as the CSV shows them,
    with the keys (``action_id`` in the CSV; ``segment_key``, ``theme_key``, ``cause_key``,
    ``tier_key`` and ``discount_key`` for the summary and manifest) next to the words."""
    words = messages(plan.locale)
    rows = listed[["customer_id", "churn_probability"]].copy()
    rows["churn_probability"] = rows["churn_probability"].round(4)
    # A name per distinct key, not per customer: a million-row list has four segments.
    tiers = listed["risk_tier"]
    rows["risk_tier"] = tiers.map({t: words.text(f"tier.{t}") for t in tiers.unique()})
    segments = listed["segment"]
    rows["segment"] = segments.map({s: segment_name(s, plan.locale) for s in segments.unique()})
    rows["theme"] = explained["theme_name"]
    rows["cause"] = explained["cause_name"]
    rows["recommended_action"] = explained["action_name"]
    rows["offer"] = explained["action_offer"]
    rows["discount_advised"] = explained["discount_advised"].map(
        {True: words.text("value.yes"), False: words.text("value.no")}
    )
    rows["expected_value_at_risk"] = listed["expected_value_at_risk"].round(2)
    rows["days_since_last_order"] = listed["days_since_last_order"].astype("int64")
    rows["orders_365d"] = listed["orders_365d"].astype("int64")
    rows["spend_365d"] = listed["spend_365d"].round(2)
    for k in range(plan.n_reasons):
        rows[f"reason_{k + 1}"] = explained[f"reason_{k + 1}"]
    rows["reason_1"] = for_value_alone(
        rows["reason_1"], explained["theme"], listed["risk_tier"], plan.locale
    )
    for column in [*CSV_CONTACT, *CSV_PERSONAL]:
        rows[column] = personal[column]
    rows["action_id"] = explained["action"]
    rows["as_of"] = listed["as_of"]
    rows["model_version"] = listed["model_version"]
    rows["segment_key"] = listed["segment"]
    rows["theme_key"] = explained["theme"]
    rows["cause_key"] = explained["cause"]
    rows["tier_key"] = listed["risk_tier"]
    rows["discount_key"] = explained["discount_advised"].astype(bool)
    return rows


def _at_risk(
    plan: ScorePlan,
    opened: OpenedData,
    classifier: ChurnClassifier,
    scores: pd.DataFrame,
    features: pd.DataFrame,
    as_of: Any,
) -> _AtRisk:
    """The at-risk list with each customer's reasons, action and personal fields, and
    its control group, explained alike (their actions are what the control group stands
    for when outcomes compare it with the customers contacted)."""
    # Who the list would hold without consent, then the list itself, chosen among the
    # customers who may be contacted (so share, top_k and budget lists are refilled).
    population = len(scores)
    wanted = plan.selection.select(scores, population)
    left_out = wanted["do_not_contact_reason"].value_counts().sort_index()
    contactable = scores[~scores["marketing_opt_out"]]
    selected = plan.selection.select(contactable, population)
    explained = _explained(plan, classifier, selected, features)
    rows = _csv_rows(plan, selected, explained, _personal(plan, opened, selected, as_of))
    control = plan.control.held_out(selected)
    ranked = rank_by_value(contactable)
    sizes = list_size_tradeoff(
        ranked["churn_probability"].to_numpy(),
        ranked["expected_value_at_risk"].to_numpy(),
        population,
        chosen=len(selected),
    )
    empty_reason = None
    if selected.empty and "uplift" in scores and not (contactable["uplift"] > 0).any():
        empty_reason = {"code": "no_positive_uplift"}
    elif selected.empty:
        highest = scores["churn_probability"].max() if len(scores) else None
        empty_reason = plan.selection.empty_reason(len(wanted), highest)
    elif control.all():
        empty_reason = {"code": "all_in_control", "customers": len(selected)}
    if empty_reason is not None:
        log.warning("the at-risk list is empty: %s", empty_reason)
    return _AtRisk(rows[~control], rows[control], len(wanted), left_out, sizes, empty_reason)


def _themes(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Customers per theme of their top reason, most first, each with its cause and the
    first listed customer's sentence as an example."""
    out = []
    counts = rows["theme_key"].value_counts().sort_index()
    for theme, n in counts.sort_values(ascending=False, kind="stable").items():
        first = rows[rows["theme_key"] == theme].iloc[0]
        out.append(
            {
                "theme": theme,
                "cause": first["cause_key"],
                "customers": int(n),
                "example": first["reason_1"],
            }
        )
    return out


def action_file(action: str) -> str:
    """The path, inside the date's folder, of the CSV of one action's customers."""
    return f"{ACTIONS_FOLDER}/{action}.csv"


def _actions(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Customers per action and segment, most first, with the file of each action."""
    counts = rows.groupby(["action_id", "segment_key"], sort=True).size()
    counts = counts.sort_values(ascending=False, kind="stable")
    return [
        {"action": action, "segment": segment, "customers": int(n), "file": action_file(action)}
        for (action, segment), n in counts.items()
    ]


def horizon_days(classifier: ChurnClassifier) -> int:
    """Over how many days the model's probability of leaving runs: its label horizon
    (recorded since models carry it; older ones give their BG/NBD horizon, the same
    setting, else the default label horizon of 90 days)."""
    if classifier.horizon_days is not None:
        return int(classifier.horizon_days)
    settings = classifier.feature_settings
    if settings is not None and settings.btyd_horizon_days is not None:
        return int(settings.btyd_horizon_days)
    log.warning("the model does not record its label horizon: the pages assume 90 days")
    return 90


def _summary(
    plan: ScorePlan,
    as_of: Any,
    model: Any,
    scores: pd.DataFrame,
    listed: _AtRisk,
) -> dict[str, Any]:
    """The view model of the marketers' one-page summary (keys, not words: the page
    names them in its language)."""
    rows = listed.frame
    by_cell = (
        rows.groupby(["segment_key", "tier_key"], sort=True)
        .agg(customers=("customer_id", "size"), value_at_risk=("expected_value_at_risk", "sum"))
        .reset_index()
        .rename(columns={"segment_key": "segment", "tier_key": "tier"})
    )
    counts_hist, edges = np.histogram(scores["churn_probability"], bins=10, range=(0, 1))
    suppressed_by_reason = _by_reason(listed.left_out)
    horizon = horizon_days(model.classifier)
    selection = plan.selection
    return {
        "as_of": as_of.isoformat(),
        "locale": plan.locale,
        "currency": plan.currency,
        "model": {"name": model.name, "version": model.version},
        "horizon_days": horizon,
        "horizon_end": (as_of + dt.timedelta(days=horizon)).isoformat(),
        "selection": {
            "mode": selection.mode,
            "share": selection.share,
            "top_k": selection.top_k,
            "budget": selection.budget,
            "cost_per_contact": selection.cost_per_contact,
            "listed": len(rows),
            "control_fraction": plan.control.fraction,
            "uplift": _uplift_summary(plan, scores),
        },
        "totals": {
            "scored": len(scores),
            "listed": len(rows),
            "suppressed_opt_out": sum(suppressed_by_reason.values()),
            "suppressed_by_reason": suppressed_by_reason,
            "control": len(listed.control),
            "value_at_risk": float(rows["expected_value_at_risk"].sum()),
        },
        "contacted_on": (as_of + dt.timedelta(days=1)).isoformat(),
        "by_segment_tier": by_cell.to_dict("records"),
        "themes": _themes(rows),
        "actions": _actions(rows),
        "list_sizes": listed.sizes,
        "probability_histogram": {"edges": edges.tolist(), "counts": counts_hist.tolist()},
        "tiers": dict(selection.tiers),
        "files": {"csv": CSV_FILE},
        "empty_reason": listed.empty_reason,
    }


def _counts(values: pd.Series) -> dict[str, int]:
    """How many times each value occurs, by value."""
    return {str(k): int(v) for k, v in values.value_counts().sort_index().items()}


def _by_reason(counts: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in counts.items()}


def _manifest(
    cfg: DictConfig,
    plan: ScorePlan,
    opened: OpenedData,
    model: Any,
    as_of: Any,
    scores: pd.DataFrame,
    listed: _AtRisk,
    features: pd.DataFrame,
    drift: list[dict[str, Any]],
) -> dict[str, Any]:
    """What ``manifest.json`` holds (its timings are added when the files are written)."""
    at_risk = listed.frame
    config = OmegaConf.to_container(cfg, resolve=True)
    return {
        "as_of": as_of.isoformat(),
        "data_last_date": opened.last_date.isoformat(),
        "input": input_fingerprint(opened),
        "ingest": combined_manifest(opened),
        "features_night": opened.engine.feature_night,
        "model": {"name": model.name, "version": model.version, "run_id": model.run_id},
        "rows_read": opened.ingest.manifest["rows_read"],
        "rows_scored": len(scores),
        "rows_at_risk": len(at_risk),
        "rows_suppressed_opt_out": listed.suppressed,
        "control": {
            "fraction": plan.control.fraction,
            "salt": plan.control.salt,
            **{
                g: int(n)
                for g, n in scores["group"].value_counts().reindex(GROUPS, fill_value=0).items()
            },
            "by_stratum": strata_counts(scores),
        },
        "suppressed_by_reason": _by_reason(listed.left_out),
        "do_not_contact": _by_reason(scores["do_not_contact_reason"].value_counts().sort_index()),
        "empty_list_reason": listed.empty_reason,
        "selection": plan.selection.mode,
        "list_share": plan.selection.share if plan.selection.mode == "share" else None,
        "uplift": _uplift_summary(plan, scores),
        "horizon_days": horizon_days(model.classifier),
        "at_risk_by_tier": _counts(at_risk["tier_key"]),
        "at_risk_by_segment": _counts(at_risk["segment_key"]),
        "at_risk_by_theme": _counts(at_risk["theme_key"]),
        "at_risk_by_action": _counts(at_risk["action_id"]),
        "discount_advised": int(
            (at_risk["discount_advised"] == messages(plan.locale).text("value.yes")).sum()
        ),
        "list_sizes": listed.sizes,
        "csv": {"sep": plan.csv_sep, "decimal": plan.csv_decimal, "encoding": "utf-8-sig"},
        "expected_value_at_risk": round(float(at_risk["expected_value_at_risk"].sum()), 2),
        "vip_min_spend_365d": round(plan.segments.vip_min_spend(features), 2),
        "mean_churn_probability": float(np.mean(scores["churn_probability"])),
        "drift": {
            "checked": bool(model.classifier.reference),
            "warn_psi": plan.drift.warn_psi,
            "fail_psi": plan.drift.fail_psi,
            "features": drift,
        },
        "locale": plan.locale,
        "config_sha256": hashlib.sha256(
            json.dumps(config, sort_keys=True, default=str).encode()
        ).hexdigest(),
        "code_version": code_version(),
    }


def _write_csv(table: pd.DataFrame, path: Path, plan: ScorePlan) -> None:
    """One CSV of the list in the plan's dialect."""
    table.to_csv(
        path,
        index=False,
        sep=plan.csv_sep,
        decimal=plan.csv_decimal,
        # With a byte-order mark, Excel reads the file as UTF-8 (without one it takes the
        # system's code page and shows "â‚¬" for "€"); pandas, DuckDB and Python's csv module
        # with encoding="utf-8-sig" skip it.
        encoding="utf-8-sig",
    )


def _grouped(scores: pd.DataFrame, listed: _AtRisk) -> pd.DataFrame:
    """``scores`` with each customer's ``group`` (contact, control or not_selected; see
    :mod:`churn.scoring.control`), ``listed`` (in the CSV) and, for the customers
    selected, the ``theme`` and ``action`` of their list row."""
    selected = pd.concat([listed.frame, listed.control])
    keys = selected.set_index("customer_id")[["theme_key", "action_id"]]
    ids = scores["customer_id"]
    group = groups(ids, pd.Index(selected["customer_id"]), pd.Index(listed.control["customer_id"]))
    return scores.assign(
        group=group,
        listed=group == "contact",
        theme=ids.map(keys["theme_key"]),
        action=ids.map(keys["action_id"]),
    )


def _write_outputs(
    folder: Path,
    plan: ScorePlan,
    opened: OpenedData,
    scores: pd.DataFrame,
    listed: _AtRisk,
    summary: dict[str, Any],
    manifest: dict[str, Any],
) -> None:
    """Every file of the date's folder (:data:`OWN_FILES`), into ``folder``."""
    rows = listed.frame
    contact = any(c in (opened.columns("customers") or []) for c in CSV_CONTACT)
    table = neutralise_formulas(rows[csv_columns(plan.n_reasons, contact)])
    _write_csv(table, folder / CSV_FILE, plan)
    (folder / ACTIONS_FOLDER).mkdir()
    for action in sorted(rows["action_id"].unique()):
        _write_csv(table[rows["action_id"] == action], folder / action_file(action), plan)
    _write_scores(opened, scores, folder / "scores.parquet")
    write_summary(summary, folder / "summary.html")
    if len(opened.ingest.quarantine):
        opened.ingest.quarantine.to_csv(folder / "quarantine.csv", index=False)
    if opened.customers is not None and len(opened.customers.quarantine):
        opened.customers.quarantine.to_csv(folder / "customers_quarantine.csv", index=False)
    write_json(folder / "manifest.json", manifest)


def run(cfg: DictConfig) -> dict[str, Any]:
    """Score every customer in the population at ``cfg.as_of`` with the registered model.

    Returns the manifest written next to the outputs.

    Raises
    ------
    ConfigError, DataContractError, DriftError, NoModelError
        Exit codes 2, 3, 4 and 5 of the command line; nothing is written for the date.
    """
    timings: dict[str, float] = {}
    plan = ScorePlan.from_config(cfg, check_locale(str(cfg.locale)))
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
    if plan.selection.mode == "uplift":
        plan = _choose_uplift(cfg, plan)
    try:
        return _score(cfg, plan, model, timings)
    except ChurnError as exc:
        # Which model failed matters once several shops share a store.
        raise type(exc)(f"model {model.name} v{model.version}: {exc}") from exc


def _choose_uplift(cfg: DictConfig, plan: ScorePlan) -> ScorePlan:
    """``score.selection=uplift`` with the uplift champion loaded; without one, the plan of
    a list by value at risk (``share``, or ``budget`` when a budget is set), and why."""
    name = tracking.uplift_model_name(str(cfg.tracking.registered_model))
    try:
        uplift = tracking.load_uplift_model(str(cfg.tracking.uri), name)
    except NoModelError as exc:
        mode = "budget" if plan.selection.budget is not None else "share"
        log.warning(
            "score.selection=uplift: %s; the list is chosen by value at risk instead "
            "(score.selection=%s) and the summary says so",
            exc,
            mode,
        )
        return replace(plan, selection=replace(plan.selection, mode=mode), uplift_fallback=str(exc))
    log.info("uplift model %s version %s (run %s)", uplift.name, uplift.version, uplift.run_id)
    return replace(plan, uplift=uplift)


def _with_uplift(plan: ScorePlan, features: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """``scores`` with each customer's ``uplift`` (how much a contact raises their chance
    of staying) and ``expected_incremental_value``, when an uplift model chooses the list."""
    if plan.uplift is None:
        return scores
    model = plan.uplift.model
    # The churn probability is one of the uplift model's features (churn.stages.uplift).
    features = features.assign(churn_probability=scores["churn_probability"].to_numpy())
    missing = [c for c in model.feature_names if c not in features.columns]
    if missing:
        raise DataContractError(
            f"the uplift model {plan.uplift.name} v{plan.uplift.version} needs features this "
            f"data cannot feed ({', '.join(missing)}): retrain it with `churn uplift`"
        )
    uplift = model.predict_uplift(features[list(model.feature_names)])
    return scores.assign(
        uplift=uplift,
        expected_incremental_value=expected_incremental_value(uplift, features["spend_365d"]),
    )


def _uplift_summary(plan: ScorePlan, scores: pd.DataFrame) -> dict[str, Any] | None:
    """How an uplift list was chosen: the model, the customers with a negative uplift, and
    those a list by value at risk of the same size would have held but who are left alone
    because contacting them would more likely make them leave; or why it fell back."""
    if plan.uplift_fallback is not None:
        return {"model": None, "fallback": plan.uplift_fallback}
    if plan.uplift is None:
        return None
    contactable = scores[~scores["marketing_opt_out"]]
    by_value = replace(
        plan.selection, mode="budget" if plan.selection.budget is not None else "share"
    ).select(contactable, len(scores))
    return {
        "model": {"name": plan.uplift.name, "version": plan.uplift.version},
        "fallback": None,
        "negative_uplift": int((scores["uplift"] <= 0).sum()),
        "left_alone_negative_uplift": int((by_value["uplift"] <= 0).sum()),
    }


def _score(
    cfg: DictConfig, plan: ScorePlan, model: Any, timings: dict[str, float]
) -> dict[str, Any]:
    """:func:`run` once the model is loaded."""
    classifier = model.classifier
    with step("ingest", timings):
        opened = open_transactions(cfg)
    as_of = resolve_as_of(cfg.as_of, opened.last_date)
    # Each language's outputs apart: an Italian run never replaces the English files.
    target = plan.output_dir / plan.locale / as_of.isoformat()
    check_output_folder(target, OWN_FILES)
    with step("features", timings):
        features = _features(opened, classifier, as_of)
    with step("drift check", timings):
        drift = plan.drift.report(classifier.reference, features, as_of)
        _log_drift(drift, plan.drift)
        plan.drift.check(drift)
    if not classifier.reference:
        log.warning("model version %s has no drift reference: drift not checked", model.version)
    with step("predict", timings):
        scores = _with_uplift(plan, features, _scores(plan, opened, model, features, as_of))
    with step("select and explain", timings):
        listed = _at_risk(plan, opened, classifier, scores, features, as_of)
        scores = _grouped(scores, listed)
    manifest = _manifest(cfg, plan, opened, model, as_of, scores, listed, features, drift)
    summary = _summary(plan, as_of, model, scores, listed)
    with step("write outputs", timings), atomic_dir(target, OWN_FILES) as tmp:
        manifest["timings_s"] = timings
        _write_outputs(tmp, plan, opened, scores, listed, summary, manifest)
    print(
        f"scored {len(scores):,} customers as of {as_of}: {len(listed.frame):,} on the list, "
        f"{len(listed.control):,} held out as the control group ({listed.suppressed:,} more "
        "left out: opted out or consent unclear), expected value "
        f"at risk {manifest['expected_value_at_risk']:,.2f} {plan.currency}; wrote {target}"
        + (f" (the list is empty: {listed.empty_reason['code']})" if listed.empty_reason else ""),
        flush=True,
    )
    return manifest


if __name__ == "__main__":
    # `python -m churn.stages.score` runs the stage as `churn score` does.
    import sys

    from churn.cli import run_stage

    run_stage("score", sys.argv[1:])
