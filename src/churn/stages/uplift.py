"""Uplift stage: learn from past campaigns whom contacting changes, evaluate it on a later
campaign against random targeting and targeting by churn risk, and register it.

The training table comes from the shop's own history: the contacted and control customers
of every stored list whose horizon has passed (``<score.output_dir>/<locale>/<as_of>/``),
with their features at the list's date (point in time, as the churn model builds them) and
their realised outcome (kept: an order within the horizon; :mod:`churn.outcomes.windows`).
The newest such list is held out to evaluate; the earlier ones train. With one list only, a
random part of it is held out, and the model cannot pass the gate (it needs a later
campaign) unless ``uplift.gate.force``. ``uplift.table=PATH`` reads a ready features table
instead (``treatment``, ``outcome`` and feature columns; ``uplift.table_format=hillstrom``
reads the MineThatData e-mail experiment), split at random.

Writes ``metrics.json`` (the report's view model), ``holdout_predictions.csv`` and
``uplift_report.html`` to the run folder; logs the run to MLflow and registers
``<tracking.registered_model>-uplift`` as ``champion`` when the gate passes, else
``challenger``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf
from sklearn.model_selection import train_test_split

from churn.errors import ConfigError, DataContractError
from churn.features.query import KEY_COLUMNS
from churn.modeling.gate import CHALLENGER, CHAMPION
from churn.outcomes.arms import assign_arms
from churn.outcomes.stats import difference_of_rates
from churn.outcomes.windows import customer_outcomes
from churn.reporting.uplift_page import write_uplift_report
from churn.stages.inputs import OpenedData, open_contacts, open_transactions, require_duckdb
from churn.stages.outputs import write_json
from churn.stages.run_context import log, step
from churn.stages.stored_runs import StoredRun, of_model, read_scores, stored_runs
from churn.stages.typed_settings import feature_settings
from churn.text.messages import check_locale
from churn.tracking import store as tracking
from churn.uplift import metrics as um
from churn.uplift.hillstrom import features_table
from churn.uplift.model import UpliftModel, UpliftParams, response_scores

# The churn probability of the list, as the uplift model sees it (scoring passes the same).
RISK_FEATURE = "churn_probability"
# Columns of the training table that are not features.
TABLE_KEYS = ("customer_id", "campaign", "treatment", "outcome", "risk", "value")
# The shares of the holdout the report's uplift-at-k and budget rows are for.
SHARES = (0.05, 0.1, 0.2, 0.3, 0.5)
CURVE_POINTS = 101
# With several campaigns, the share of the newest campaign's customers held out to check on.
LATER_CAMPAIGN_SHARE = 0.5


@dataclass(frozen=True)
class UpliftPlan:
    """Everything the uplift stage reads from its config, typed once by :func:`run`."""

    scores_dir: Path
    output_dir: Path
    locale: str
    currency: str
    table: str | None
    table_format: str
    holdout_share: float
    seed: int
    params: UpliftParams
    bootstrap_resamples: int
    refit: bool
    force: bool
    contact_window_days: int
    response_days: int
    registered_model: str

    @classmethod
    def from_config(cls, cfg: DictConfig, locale: str) -> UpliftPlan:
        """The plan of a composed ``uplift`` config, in the checked ``locale``."""
        u = cfg.uplift
        return cls(
            scores_dir=Path(cfg.score.output_dir),
            output_dir=Path(cfg.output_dir),
            locale=locale,
            currency=str(cfg.data.currency),
            table=None if u.table is None else str(u.table),
            table_format=str(u.table_format),
            holdout_share=float(u.holdout_share),
            seed=int(u.seed),
            params=UpliftParams(learner=str(u.learner)),
            bootstrap_resamples=int(u.bootstrap_resamples),
            refit=bool(u.refit),
            force=bool(u.gate.force),
            contact_window_days=int(u.contact_window_days),
            response_days=int(u.response_days),
            registered_model=tracking.uplift_model_name(str(cfg.tracking.registered_model)),
        )


# --- the training table ---------------------------------------------------------------------


def list_table(
    plan: UpliftPlan, opened: OpenedData, run: StoredRun, cfg: DictConfig
) -> pd.DataFrame | None:
    """One matured list's contacted and control customers: their features at the list's
    date, ``treatment`` (1 = contacted), ``outcome`` (1 = kept: ordered within the
    horizon), ``risk`` (the list's churn probability) and ``value`` (their revenue from the
    contact to the end of the horizon); ``None`` when the list has no control group or no
    contact."""
    scores = read_scores(run)
    outcomes = customer_outcomes(
        opened.con,
        scores["customer_id"],
        run.as_of,
        run.horizon_days,
        plan.response_days,
        plan.contact_window_days,
        contacts=opened.contacts is not None,
    )
    arm = assign_arms(scores["group"], outcomes["log_group"], opened.contacts is not None)
    chosen = arm.isin(["contact", "control"])
    if not (arm == "contact").any() or not (arm == "control").any():
        return None
    settings = feature_settings(cfg)
    features = opened.features(
        [run.as_of],
        list(settings.windows),
        settings.active_lookback_days,
        list(settings.families),
        btyd_horizon_days=settings.btyd_horizon_days,
    )
    rows = pd.DataFrame(
        {
            "customer_id": scores.loc[chosen, "customer_id"].astype(str).to_numpy(),
            "campaign": run.as_of.isoformat(),
            "treatment": (arm[chosen] == "contact").astype("int8").to_numpy(),
            "outcome": (1 - outcomes.loc[chosen, "churned"]).astype("int8").to_numpy(),
            "risk": scores.loc[chosen, "churn_probability"].to_numpy(dtype="float64"),
            # What the contact could change: the revenue from the contact to the horizon's end.
            "value": outcomes.loc[chosen, "revenue"].to_numpy(dtype="float64"),
        }
    )
    features = features.drop(columns=[c for c in KEY_COLUMNS if c != "customer_id"])
    features["customer_id"] = features["customer_id"].astype(str)
    table = rows.merge(features, on="customer_id", how="inner")
    # The churn model's probability is one more feature: the shop's best summary of a
    # customer's risk, known at scoring time too (it lifted the Qini coefficient on each of
    # three splits of the simulated shop's campaigns, 0.085 to 0.114 on the first).
    table[RISK_FEATURE] = table["risk"]
    return table


def history_table(plan: UpliftPlan, opened: OpenedData, cfg: DictConfig) -> pd.DataFrame:
    """Every matured list's table (:func:`list_table`), oldest first."""
    last = opened.last_date
    runs = [
        r
        for r in of_model(
            stored_runs(plan.scores_dir, plan.locale), str(cfg.tracking.registered_model)
        )
        if r.known_on <= last
    ]
    tables = []
    for run in sorted(runs, key=lambda r: r.as_of):
        table = list_table(plan, opened, run, cfg)
        if table is None:
            log.info("list of %s: no contacted and control customers, not used", run.as_of)
            continue
        tables.append(table)
    if not tables:
        raise ConfigError(
            f"no list under {plan.scores_dir / plan.locale} has a passed horizon and a control "
            "group: score lists with score.control_fraction > 0 (the default), let their "
            "horizon pass, and run `churn uplift` again (or give a features table with "
            "uplift.table=PATH)"
        )
    return pd.concat(tables, ignore_index=True)


def read_table(plan: UpliftPlan) -> pd.DataFrame:
    """A ready features table (``uplift.table``): Hillstrom's experiment, or a CSV or
    Parquet file with ``treatment`` and ``outcome`` (0/1) and numeric feature columns."""
    assert plan.table is not None
    if plan.table_format == "hillstrom":
        table = features_table(Path(plan.table))
    else:
        path = Path(plan.table)
        if not path.exists():
            raise DataContractError(f"{path}: no such file (uplift.table)")
        table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    missing = [c for c in ("treatment", "outcome") if c not in table.columns]
    if missing:
        raise DataContractError(
            f"{plan.table}: columns {', '.join(missing)} missing (rule: an uplift table has "
            "treatment and outcome, 0 or 1, and feature columns); columns found: "
            f"{', '.join(map(str, table.columns))}"
        )
    table = table.copy()
    table["customer_id"] = table.get("customer_id", pd.Series(range(len(table)))).astype(str)
    table["campaign"] = None
    if "risk" not in table.columns:
        table["risk"] = np.nan  # filled by the response model below
    if "value" not in table.columns:
        table["value"] = table["spend"] if "spend" in table.columns else 1.0
    return table


def feature_columns(table: pd.DataFrame) -> list[str]:
    """The table's feature columns: every numeric column but the keys and the outcomes
    (a text column, such as Hillstrom's e-mail version, is no feature)."""
    drop = {*TABLE_KEYS, "spend", "conversion", "visit"}
    return [
        c
        for c in table.columns
        if c not in drop
        and (pd.api.types.is_numeric_dtype(table[c]) or pd.api.types.is_bool_dtype(table[c]))
    ]


def split(
    table: pd.DataFrame, share: float, seed: int
) -> tuple[pd.Series, pd.Series, str, str | None]:
    """Which rows are held out and which train, how, and the campaign held out.

    With several campaigns (``later_campaign``): the newest campaign's rows of a random
    :data:`LATER_CAMPAIGN_SHARE` of its customers are held out, and no row of those
    customers, from any campaign, trains. A customer keeps their group from list to list
    (:mod:`churn.scoring.control`) and their habits, so a customer seen in training would
    let the model recall their own contacted-or-not outcome: on Online Retail's lists with
    no campaign at all, a holdout that shared customers with training gave a Qini
    coefficient of 0.05, significantly above random. With one campaign or a table
    (``random``): a random ``share`` of the rows, stratified by treatment x outcome.
    """
    campaigns = sorted(c for c in table["campaign"].dropna().unique())
    strata = 2 * table["treatment"].to_numpy() + table["outcome"].to_numpy()
    if len(campaigns) >= 2:
        newest = (table["campaign"] == campaigns[-1]).to_numpy()
        _, picked = train_test_split(
            np.flatnonzero(newest),
            test_size=LATER_CAMPAIGN_SHARE,
            random_state=seed,
            stratify=strata[newest],
        )
        held = pd.Series(False, index=table.index)
        held.iloc[picked] = True
        unseen = ~table["customer_id"].isin(set(table.loc[held, "customer_id"]))
        return held, unseen & ~held & ~newest, "later_campaign", campaigns[-1]
    _, test = train_test_split(
        np.arange(len(table)), test_size=share, random_state=seed, stratify=strata
    )
    held = pd.Series(False, index=table.index)
    held.iloc[test] = True
    return held, ~held, "random", None


# --- evaluation -----------------------------------------------------------------------------


def _thin(x: np.ndarray, y: np.ndarray) -> list[list[float]]:
    """At most :data:`CURVE_POINTS` points of a curve, its ends included."""
    index = np.unique(np.linspace(0, len(x) - 1, min(CURVE_POINTS, len(x))).round().astype(int))
    return [[float(x[i]), float(y[i])] for i in index]


def evaluate(
    holdout: pd.DataFrame, uplift: np.ndarray, risk: np.ndarray, resamples: int, seed: int
) -> dict[str, Any]:
    """The holdout's figures: Qini coefficients (model, risk, random) with bootstrap
    intervals of the differences, uplift at k, curves and the budget table."""
    y = holdout["outcome"].to_numpy()
    t = holdout["treatment"].to_numpy()
    value = holdout["value"].to_numpy(dtype="float64")
    rng = np.random.default_rng(seed)
    random_score = rng.random(len(y))
    qini_model = um.qini_coefficient(y, t, uplift)
    qini_risk = um.qini_coefficient(y, t, risk)
    curves: dict[str, dict[str, list[list[float]]]] = {"qini": {}, "uplift": {}}
    for name, score in (("model", uplift), ("risk", risk)):
        curves["qini"][name] = _thin(*um.qini_curve(y, t, score))
        curves["uplift"][name] = _thin(*um.uplift_curve(y, t, score))
    n = len(y)
    for kind in ("qini", "uplift"):
        end = curves[kind]["model"][-1][1]
        curves[kind]["random"] = [[0.0, 0.0], [float(n), end]]
    effect = difference_of_rates(
        int(y[t == 1].sum()), int((t == 1).sum()), int(y[t == 0].sum()), int((t == 0).sum())
    )
    return {
        "customers": n,
        "treated": int((t == 1).sum()),
        "control": int((t == 0).sum()),
        "average_effect": {
            "value": effect["difference"],
            "low": effect["low"],
            "high": effect["high"],
        },
        "qini": {
            "model": qini_model,
            "risk": qini_risk,
            "random": 0.0,
            "model_minus_risk": um.bootstrap_difference(y, t, uplift, risk, n=resamples, seed=seed),
            "model_minus_random": um.bootstrap_difference(
                y, t, uplift, random_score, n=resamples, seed=seed
            ),
        },
        "uplift_at": [
            {
                "share": k,
                "model": um.uplift_at_k(y, t, uplift, k),
                "risk": um.uplift_at_k(y, t, risk, k),
            }
            for k in (0.1, 0.2, 0.3)
        ],
        "curves": curves,
        "budget": budget_rows(um.budget_table(y, t, uplift, risk, value, shares=SHARES)),
        "negative_share": float(np.mean(uplift < 0)) if n else None,
    }


def budget_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """:func:`churn.uplift.metrics.budget_table`'s rows (one per share and way of
    choosing) as one row per share: customers kept and revenue gained by uplift, by risk
    and at random."""
    out: dict[float, dict[str, Any]] = {}
    for row in rows:
        entry = out.setdefault(row["share"], {"share": row["share"], "customers": row["customers"]})
        name = {"uplift": "model", "risk": "risk", "random": "random"}[row["targeting"]]
        entry[f"kept_{name}"] = row["kept"]
        entry[f"revenue_{name}"] = row["revenue"]
    return list(out.values())


def gate(figures: dict[str, Any], split_kind: str, force: bool) -> dict[str, Any]:
    """The uplift gate, on a later campaign: the model's Qini coefficient must beat random
    targeting's beyond chance (the lower bound of the bootstrap interval of the model minus
    random above 0: on Online Retail's lists with no campaign at all, a point estimate
    alone passed), and beat targeting by churn risk's."""
    q = figures["qini"]
    low = q["model_minus_random"]["low"]
    checks = [
        {
            "check": "beats_random",
            "ok": bool(q["model"] > 0.0 and low is not None and low > 0.0),
            "model": q["model"],
            "other": 0.0,
            # The bootstrap 95% interval of the model's lead, which the check needs above 0.
            "low": low,
            "high": q["model_minus_random"]["high"],
        },
        {
            # On the point estimates: the model must at least match churn risk.
            "check": "beats_risk",
            "ok": bool(q["risk"] is None or q["model"] > q["risk"]),
            "model": q["model"],
            "other": q["risk"],
            "low": q["model_minus_risk"]["low"],
            "high": q["model_minus_risk"]["high"],
        },
        {"check": "later_campaign", "ok": split_kind == "later_campaign"},
    ]
    passed = all(c["ok"] for c in checks)
    verdict = "passed" if passed else ("forced" if force else "failed")
    return {
        "verdict": verdict,
        "alias": CHAMPION if passed or force else CHALLENGER,
        "checks": checks,
    }


# --- the stage ------------------------------------------------------------------------------


def run(cfg: DictConfig) -> dict[str, Any]:
    """Train, evaluate, gate and register the uplift model; return its view model (also
    ``metrics.json``).

    Raises
    ------
    ConfigError, DataContractError, StorageError
        Exit codes 2, 3 and 6: no matured list with a control group, a bad table, a store
        that cannot be written.
    """
    require_duckdb(cfg, "uplift", "its training table is the contacted and control customers")
    plan = UpliftPlan.from_config(cfg, check_locale(str(cfg.locale)))
    timings: dict[str, float] = {}
    with step("training table", timings):
        if plan.table is not None:
            table = read_table(plan)
            source, horizon, outcome_name = "table", None, "visit"
        else:
            opened = open_transactions(cfg)
            open_contacts(cfg, opened)
            table = history_table(plan, opened, cfg)
            source, horizon, outcome_name = "lists", int(cfg.label.horizon_days), "kept"
    features = feature_columns(table)
    held, trains, split_kind, held_campaign = split(table, plan.holdout_share, plan.seed)
    train, holdout = table[trains], table[held]
    if train["treatment"].nunique() < 2 or holdout["treatment"].nunique() < 2:
        raise ConfigError(
            "the uplift model needs contacted and control customers both to train and to "
            "evaluate: raise score.control_fraction, or wait for more lists"
        )
    with step("fit and evaluate", timings):
        model = UpliftModel.fit(
            train[features],
            train["treatment"],
            train["outcome"],
            plan.params,
            seed=plan.seed,
            outcome=outcome_name,
        )
        uplift = model.predict_uplift(holdout[features])
        risk = holdout["risk"].to_numpy(dtype="float64")
        risk_name = "churn_risk"
        if np.isnan(risk).any():
            # No churn model for a table: the baseline is a response model (the chance of
            # the outcome, the treatment not seen), as a list ranked by propensity would be.
            risk = response_scores(
                train[features], train["outcome"], holdout[features], plan.params, plan.seed
            )
            risk_name = "response_model"
        figures = evaluate(holdout, uplift, risk, plan.bootstrap_resamples, plan.seed)
    verdict = gate(figures, split_kind, plan.force)
    final = model
    if plan.refit:
        with step("refit on every campaign", timings):
            final = UpliftModel.fit(
                table[features],
                table["treatment"],
                table["outcome"],
                plan.params,
                seed=plan.seed,
                outcome=outcome_name,
            )
    view: dict[str, Any] = {
        "locale": plan.locale,
        "currency": plan.currency,
        "source": source,
        "table": plan.table,
        "outcome": outcome_name,
        "horizon_days": horizon,
        "risk_name": risk_name,
        "train": {
            "campaigns": sorted(c for c in train["campaign"].dropna().unique()),
            "customers": len(train),
            "treated": int(train["treatment"].sum()),
            "control": int((train["treatment"] == 0).sum()),
        },
        "holdout": {
            "split": split_kind,
            "campaign": held_campaign,
            **{k: figures[k] for k in ("customers", "treated", "control", "average_effect")},
        },
        **{k: figures[k] for k in ("qini", "uplift_at", "curves", "budget", "negative_share")},
        "gate": verdict,
        "model": {"name": plan.registered_model, "version": None, "learner": plan.params.learner},
    }
    plan.output_dir.mkdir(parents=True, exist_ok=True)
    predictions = holdout[["customer_id", "campaign", "treatment", "outcome"]].assign(
        uplift=uplift, risk=risk
    )
    predictions.to_csv(plan.output_dir / "holdout_predictions.csv", index=False)
    with step("log to mlflow and register", timings):
        tracking.start(
            str(cfg.tracking.uri),
            plan.registered_model,
            cfg.tracking.get("artifact_root"),
            create=True,
        )
        run_id, version = tracking.log_uplift_run(
            run_name=None,
            config=OmegaConf.to_container(cfg, resolve=True),
            metrics=_metrics(figures),
            model=final,
            input_example=holdout[features],
            artifacts=[plan.output_dir / "holdout_predictions.csv"],
            registered_model_name=plan.registered_model,
            tags={"churn.uplift.gate": verdict["verdict"], "churn.uplift.split": split_kind},
        )
        tracking.record_gate(
            plan.registered_model,
            version,
            run_id,
            verdict["alias"],
            {"gate.verdict": verdict["verdict"]},
        )
    view["model"]["version"] = version
    write_json(plan.output_dir / "metrics.json", {**view, "timings_s": timings})
    write_uplift_report(view, plan.output_dir / "uplift_report.html")
    print(summary_line(view, plan.holdout_share) + f"; wrote {plan.output_dir}", flush=True)
    return view


def _signed(value: float | None) -> str:
    """A lead with its sign, three decimals; no sign on a lead that rounds to 0."""
    if value is None:
        return "unknown"
    return "0.000" if round(value, 3) == 0 else f"{value:+.3f}"


def _interval(check: dict[str, Any]) -> str:
    return f"95% interval {_signed(check.get('low'))} to {_signed(check.get('high'))}"


def _failed_check(check: dict[str, Any], source: str, risk_name: str) -> str:
    """A failed check of :func:`gate` in words, with the interval it was judged on."""
    if check["check"] == "beats_random":
        high = check.get("high")
        if high is not None and high < 0:
            return f"it ranks worse than a random list ({_interval(check)})"
        return f"its lead over a random list is within chance ({_interval(check)})"
    if check["check"] == "beats_risk":
        return (
            f"its Qini {check['model']:.4f} is not above {check['other']:.4f} by {risk_name} "
            f"(lead {_interval(check)})"
        )
    what = "one campaign" if source == "lists" else "the table"
    return f"it was checked on a random part of {what}, not on a later campaign"


def _held_out(holdout: dict[str, Any], source: str, share: float) -> str:
    if holdout["split"] == "later_campaign":
        return (
            f"held out: {LATER_CAMPAIGN_SHARE:.0%} of the customers of the newest campaign, "
            f"{holdout['campaign']}, none of them seen in training"
        )
    what = "one campaign" if source == "lists" else "the table"
    return f"held out: a random {share:.0%} of {what}"


def summary_line(view: dict[str, Any], holdout_share: float) -> str:
    """The stage's closing line: the model, whether it is used for the lists and, when it
    is not (or was forced), its failed checks in words; then the Qini coefficients and what
    was held out."""
    gate_view, q, holdout = view["gate"], view["qini"], view["holdout"]
    risk_name = view["risk_name"].replace("_", " ")
    failed = [
        _failed_check(c, view["source"], risk_name) for c in gate_view["checks"] if not c["ok"]
    ]
    model = view["model"]
    head = f"uplift model {model['name']} v{model['version']} @{gate_view['alias']}: "
    if gate_view["verdict"] == "passed":
        head += "used for the lists"
    elif gate_view["verdict"] == "forced":
        head += "used for the lists (uplift.gate.force) although " + "; ".join(failed)
    else:
        head += "not used for the lists: " + "; ".join(failed)
    risk = "unknown" if q["risk"] is None else f"{q['risk']:.4f}"
    return (
        f"{head}. Qini {q['model']:.4f} against {risk} by {risk_name} and 0 at random on "
        f"{holdout['customers']:,} held-out customers "
        f"({_held_out(holdout, view['source'], holdout_share)})"
    )


def _metrics(figures: dict[str, Any]) -> dict[str, float]:
    q = figures["qini"]
    out = {"qini_model": q["model"], "qini_risk": q["risk"]}
    for name in ("model_minus_risk", "model_minus_random"):
        for bound in ("mean", "low", "high"):
            out[f"qini_{name}_{bound}"] = q[name][bound]
    for row in figures["uplift_at"]:
        pct = round(row["share"] * 100)
        out[f"uplift_at_{pct}pct_model"] = row["model"]
        out[f"uplift_at_{pct}pct_risk"] = row["risk"]
    out["holdout_customers"] = figures["customers"]
    return {k: float(v) for k, v in out.items() if v is not None}


if __name__ == "__main__":
    import sys

    from churn.cli import run_stage

    run_stage("uplift", sys.argv[1:])
