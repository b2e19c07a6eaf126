"""Every setting is checked before a stage starts: a wrong value exits with code 2 and one
``error:`` line naming the key, the value and what is allowed, every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from churn.errors import ConfigError
from churn.settings import STAGES, parse_settings, stage_of, validate_settings
from churn.stages import features, ingest, outcomes, report, score, train, uplift
from churn.stages.cli import run_cli
from tests.cli import run_churn
from tests.conftest import compose_config

ROOT = Path(__file__).resolve().parents[1]
RUNS = {
    "ingest": ingest.run,
    "features": features.run,
    "train": train.run,
    "score": score.run,
    "report": report.run,
    "outcomes": outcomes.run,
    "uplift": uplift.run,
}

# Setting -> (a value of the wrong type, a value out of range), as command-line values.
# Every setting of every shipped config is here (test_every_setting_has_wrong_values).
WRONG = {
    "data.transactions": ("[a.csv]", "''"),
    "data.query": ("[1]", "''"),
    "data.database": ("[1]", "shop.duckdb"),  # without data.query: never read
    "data.customers": ("[1]", "''"),
    "data.contacts": ("[1]", "''"),
    "data.contact_csv.delimiter": ("1", "';;'"),
    "data.contact_csv.encoding": ("1", "utf-99"),
    "data.contact_date_format": ("1", "dd/mm/yyyy"),
    "data.contact_timezone": ("1", "Mars/Olympus"),
    **{
        f"data.columns.{c}": ("[a]", "''")
        for c in [
            *("customer_id", "order_id", "ts", "amount", "quantity", "product_id"),
            *("category", "discount", "channel", "unit_price"),
        ]
    },
    **{
        f"data.customer_columns.{c}": ("[a]", "''")
        for c in ("customer_id", "signup_ts", "marketing_opt_out", "first_name", "email")
    },
    **{
        f"data.contact_columns.{c}": ("[a]", "''")
        for c in ("customer_id", "contacted_at", "campaign", "contact_group")
    },
    "data.csv.delimiter": ("1", "';;'"),
    "data.csv.decimal": ("1", "';'"),
    "data.csv.thousands": ("1", "'..'"),
    "data.csv.header": ("abc", "1"),
    "data.csv.quote": ("1", "ab"),
    "data.csv.encoding": ("1", "utf-99"),
    "data.date_format": ("1", "dd/mm/yyyy"),
    "data.timezone": ("1", "Mars/Olympus"),
    "data.currency": ("1", "EURO"),
    "data.exclude_products": ("abc", "[' ']"),
    "ingest.max_bad_fraction": ("abc", "-1"),
    "ingest.max_abs_value": ("abc", "0"),
    "ingest.valid_from": ("1", "2024-02-30"),
    "ingest.valid_until": ("1", "1980-01-01"),  # before valid_from
    "ingest.without_customer": ("1", "keep"),
    "engine.name": ("1", "postgres"),
    "engine.threads": ("abc", "0"),
    "engine.memory_limit": ("1", "abc"),
    "engine.temp_directory": ("[a]", "''"),
    "engine.feature_state": ("[a]", "''"),
    "engine.master": ("[a]", "''"),
    "features.windows": ("[a]", "[30,90]"),
    "features.families": ("abc", "[recncy]"),
    "features.btyd.enabled": ("abc", "1"),
    "label.horizon_days": ("abc", "0"),
    "label.active_lookback_days": ("1.5", "0"),
    "split.n_train_cutoffs": ("abc", "0"),
    "split.spacing_days": ("1.5", "0"),
    "split.min_history_days": ("abc", "-1"),
    "split.min_spacing_days": ("1.5", "0"),
    "split.n_test_origins": ("abc", "0"),
    "split.origin_spacing_days": ("1.5", "0"),
    "model.params.learning_rate": ("abc", "0"),
    "model.params.max_depth": ("abc", "0"),
    "model.params.num_leaves": ("1.5", "1"),
    "model.params.min_child_samples": ("abc", "-1"),
    "model.params.feature_fraction": ("abc", "1.5"),
    "model.params.bagging_fraction": ("abc", "0"),
    "model.params.bagging_freq": ("abc", "-1"),
    "model.params.lambda_l2": ("abc", "-1"),
    "model.params.extra_trees": ("abc", "1"),
    "model.params.num_threads": ("abc", "-1"),
    "model.num_boost_round": ("abc", "0"),
    "model.early_stopping_rounds": ("1.5", "0"),
    "model.calibration": ("1", "platt"),
    "model.alias": ("[a]", "latest"),
    "model.version": ("abc", "0"),
    "model.path": ("[a]", "''"),
    "tracking.uri": ("[a]", "''"),
    "tracking.experiment": ("[a]", "''"),
    "tracking.artifact_root": ("[a]", "''"),
    "tracking.registered_model": ("[a]", "''"),
    "gate.min_roc_auc": ("abc", "1.5"),
    "gate.tolerance": ("abc", "-0.1"),
    "gate.beat_baselines": ("abc", "1"),
    "gate.baseline_margin_roc_auc": ("abc", "-0.1"),
    "gate.baseline_margin_brier": ("abc", "1.5"),
    "gate.force": ("abc", "1"),
    "score.output_dir": ("[a]", "''"),
    "score.tiers.high": ("abc", "1.5"),
    "score.tiers.medium": ("abc", "0"),
    "score.selection": ("1", "random"),
    "score.share": ("abc", "1.5"),
    "score.at_risk_tiers": ("high", "[high,medum]"),
    "score.top_k": ("abc", "-1"),
    "score.budget": ("abc", "-1"),
    "score.cost_per_contact": ("abc", "0"),
    "score.control_fraction": ("abc", "0.6"),
    "score.control_salt": ("[a]", "''"),
    "score.segments.new_max_tenure_days": ("1.5", "-1"),
    "score.segments.vip_spend_quantile": ("abc", "2"),
    "score.segments.dormant_min_days": ("abc", "-1"),
    "score.n_reasons": ("abc", "100"),
    "score.drift.warn_psi": ("abc", "-1"),
    "score.drift.fail_psi": ("abc", "0"),
    "score.drift.ignore": ("abc", "[1]"),
    "score.drift.ignore_reason": ("[a]", "''"),
    "score.csv.sep": ("1", "abc"),
    "score.csv.decimal": ("1", "';'"),
    **{
        f"actions.causes.{theme}": ("1", "bad_weather")
        for theme in (
            *("rhythm", "frequency", "spending", "returns", "price"),
            *("interest", "habits", "lifecycle", "none"),
        )
    },
    **{
        f"actions.table.{row}.{theme}": ("1", "free_lunch")
        for row, themes in {
            "new": ("returns", "default"),
            "regular": ("rhythm", "returns", "price", "interest", "default"),
            "dormant": ("returns", "price", "default"),
            "vip": ("returns", "interest", "default"),
            "vip_dormant": ("returns", "default"),
        }.items()
        for theme in themes
    },
    "actions.vip_dormant_min_days": ("abc", "-1"),
    "actions.discount_actions": ("abc", "[free_lunch]"),
    "report.period": ("1", "week"),
    "report.scores_dir": ("[a]", "''"),
    "outcomes.output_dir": ("[a]", "''"),
    "outcomes.response_days": ("abc", "0"),
    "outcomes.contact_window_days": ("abc", "0"),
    "outcomes.max_calibration_error": ("abc", "0"),
    "outcomes.log_to_mlflow": ("abc", "1"),
    "uplift.table": ("[1]", "''"),
    "uplift.table_format": ("1", "csv"),
    "uplift.holdout_share": ("abc", "0.95"),
    "uplift.seed": ("abc", "-1"),
    "uplift.learner": ("1", "x"),
    "uplift.bootstrap_resamples": ("abc", "5"),
    "uplift.refit": ("abc", "1"),
    "uplift.gate.force": ("abc", "1"),
    "uplift.contact_window_days": ("abc", "0"),
    "uplift.response_days": ("abc", "0"),
    "report.response_days": ("abc", "0"),
    "report.conversion_days": ("1.5", "-1"),
    "train.register": ("abc", "1"),
    "train.refit": ("abc", "1"),
    "train.explain_rows": ("1.5", "-1"),
    "train.max_customers": ("0", "many"),
    "train.bootstrap_resamples": ("abc", "5"),
    "locale": ("1", "fr"),
    "as_of": ("1", "2024-02-30"),
    "seed": ("abc", "-1"),
    "run_name": ("[a]", "''"),
    "output_dir": ("[a]", "''"),
    "paths.root": ("[a]", "''"),
    "paths.scores": ("[a]", "''"),
}
# Settings that hold settings of another tool: checked as one value.
WHOLE_VALUES = {"engine.options": ("abc", "{spark.driver.memory: [8g]}")}

# Each stage as shipped, and the group choices its users make.
SHIPPED = [
    ("ingest", []),
    ("ingest", ["engine=spark"]),
    ("features", []),
    ("features", ["engine=spark", "features=rfm"]),
    ("train", []),
    ("train", ["data=complete_journey"]),
    ("ingest", ["data=online_retail"]),
    ("train", ["data=online_retail"]),
    ("train", ["experiment=quick"]),
    ("train", ["hparams_search=optuna"]),
    ("train", ["tracking=server"]),
    ("score", []),
    ("score", ["engine=spark"]),
    ("score", ["tracking=server"]),
    ("report", []),
    ("outcomes", []),
    ("uplift", []),
]


def _leaves(node: dict, prefix: str = ""):
    """The settings of a composed config, by dotted key (a setting of another tool whole)."""
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and path not in WHOLE_VALUES:
            yield from _leaves(value, f"{path}.")
        else:
            yield path


def _settings_of(stage: str, extra: list[str]) -> list[str]:
    values = OmegaConf.to_container(compose_config(stage, extra), resolve=False)
    ours = STAGES[stage].model_fields
    return [k for k in _leaves(values) if k.split(".")[0] in ours]


def _stage_cases() -> list:
    """A wrong type and a wrong range for every setting of every stage's config. A setting
    several stages share (data, ingest, engine) goes through the same model in each: its
    cases are dealt out to those stages in turn, to keep the suite fast."""
    stages_of: dict[str, list[tuple[str, list[str]]]] = {}
    for stage, extra in SHIPPED:
        for key in _settings_of(stage, extra):
            if all(s != stage for s, _ in stages_of.setdefault(key, [])):
                stages_of[key].append((stage, extra))
    cases, turn = [], 0
    for key, stages in stages_of.items():
        for kind, value in zip(("type", "range"), {**WRONG, **WHOLE_VALUES}[key], strict=True):
            stage, extra = stages[turn % len(stages)]
            turn += 1
            cases.append(pytest.param(stage, extra, key, value, id=f"{stage}-{key}-{kind}"))
    return cases


def _exit(stage: str, overrides: list[str], capsys) -> tuple[int, str]:
    """Run the stage as the command line does; its exit code and the last stderr line."""
    cfg = compose_config(stage, overrides)
    with pytest.raises(SystemExit) as stopped:
        run_cli(RUNS[stage], cfg)
    lines = capsys.readouterr().err.strip().splitlines()
    return stopped.value.code, lines[-1] if lines else ""


@pytest.mark.parametrize(("stage", "extra"), SHIPPED, ids=[" ".join([s, *e]) for s, e in SHIPPED])
def test_shipped_configs_pass(stage, extra):
    cfg = compose_config(stage, extra)
    assert stage_of(OmegaConf.to_container(cfg, resolve=False)) == stage
    validate_settings(cfg)


def test_every_setting_has_wrong_values():
    shipped = {k for stage, extra in SHIPPED for k in _settings_of(stage, extra)}
    assert shipped - set(WRONG) - set(WHOLE_VALUES) == set()


@pytest.mark.parametrize(("stage", "extra", "key", "value"), _stage_cases())
def test_a_wrong_setting_stops_the_stage_before_it_starts(stage, extra, key, value, capsys):
    # A missing source: if the value got through, the stage would fail on it instead.
    overrides = ["data.transactions=/nonexistent/orders.parquet", *extra, f"{key}={value}"]
    code, last = _exit(stage, overrides, capsys)
    assert code == ConfigError.exit_code, last
    assert last.startswith("error: ")
    assert f"{key}=" in last
    assert f"churn {stage} --help" in last


def _problems(stage: str, overrides: list[str]) -> str:
    with pytest.raises(ConfigError) as refused:
        validate_settings(compose_config(stage, overrides))
    text = str(refused.value)
    assert "\n" not in text
    return text


# The findings of the review, each silently wrong before.


def test_tier_bounds_in_the_wrong_order_are_refused():
    text = _problems("score", ["score.tiers.medium=0.8", "score.tiers.high=0.5"])
    assert "score.tiers.high=0.5: must be above score.tiers.medium (0.8)" in text


def test_tiers_sharing_a_bound_are_refused():
    text = _problems("score", ["score.tiers.medium=0.7"])
    assert "each tier needs a bound of its own" in text


def test_a_plausible_value_bound_beyond_what_features_sum_exactly_is_refused():
    # The feature query sums money as 18-digit decimals with 4 places.
    text = _problems("features", ["ingest.max_abs_value=1e14"])
    assert (
        "ingest.max_abs_value=100000000000000.0: must be a number > 0 and <= 10000000000000.0"
        in text
    )


def test_a_fractional_horizon_is_not_rounded():
    text = _problems("train", ["label.horizon_days=1.5"])
    assert "label.horizon_days=1.5: must be a whole number >= 1" in text


def test_a_fractional_top_k_is_not_rounded():
    text = _problems("score", ["score.top_k=1.5"])
    assert "score.top_k=1.5: must be a whole number >= 0" in text


def test_a_negative_fail_psi_is_a_setting_error_not_drift(capsys):
    code, last = _exit("score", ["score.drift.fail_psi=-1"], capsys)
    assert code == 2
    assert "score.drift.fail_psi=-1: must be null or a number > 0" in last


def test_fail_psi_below_warn_psi_is_refused():
    text = _problems("score", ["score.drift.warn_psi=0.3", "score.drift.fail_psi=0.2"])
    assert "score.drift.fail_psi=0.2: must be null or >= score.drift.warn_psi (0.3)" in text


def test_a_negative_bad_fraction_is_a_setting_error_not_bad_data(capsys):
    code, last = _exit("ingest", ["ingest.max_bad_fraction=-1"], capsys)
    assert code == 2
    assert "ingest.max_bad_fraction=-1: must be a number from 0 to 1" in last


def test_a_misspelled_at_risk_tier_is_refused():
    text = _problems("score", ["score.at_risk_tiers=[high,meduim]"])
    assert "'meduim' is not a tier (tiers: high, medium, low)" in text


def test_budget_selection_needs_a_budget():
    text = _problems("score", ["score.selection=budget"])
    assert "score.budget=null: must be a number >= 0 when score.selection=budget" in text


def test_the_csv_separator_cannot_be_the_decimal_mark():
    text = _problems("score", ["score.csv.sep=';'", "score.csv.decimal=','", "score.csv.sep=','"])
    assert "score.csv.sep=',': must differ from score.csv.decimal ','" in text


def test_a_misspelled_setting_added_with_plus_is_refused():
    text = _problems("score", ["+score.topk=5"])
    assert "score.topk=5: not a setting: score has output_dir, tiers" in text


def test_other_lightgbm_parameters_pass_through():
    validate_settings(compose_config("train", ["+model.params.objective=binary"]))


def test_several_cutoffs_are_for_the_features_stage_only():
    validate_settings(compose_config("features", ["as_of=[2024-01-31,2024-02-29]"]))
    text = _problems("score", ["as_of=[2024-01-31,2024-02-29]"])
    assert "as_of=['2024-01-31', '2024-02-29']: must be null or a date YYYY-MM-DD" in text


def test_every_problem_is_reported_at_once_in_one_line():
    text = _problems(
        "score",
        [
            "score.tiers.high=abc",
            "score.top_k=abc",
            "score.n_reasons=100",
            "score.segments.vip_spend_quantile=2",
            "engine.memory_limit=abc",
            "score.csv.sep=abc",
            "score.at_risk_tiers=[high,urgent]",
        ],
    )
    problems = text.removesuffix(" (churn score --help lists the settings)")
    assert problems.split("; ") == [
        'engine.memory_limit=\'abc\': must be null or a DuckDB size such as "4GB", "512MB" '
        'or "1.5GiB"',
        "score.tiers.high='abc': must be a number > 0 and <= 1",
        "score.top_k='abc': must be a whole number >= 0",
        "score.segments.vip_spend_quantile=2: must be a number from 0 to 1",
        "score.n_reasons=100: must be a whole number from 1 to 5",
        "score.csv.sep='abc': must be null or one character, not a quote (\"), a line break or the "
        "decimal mark",
        "score.at_risk_tiers=['high', 'urgent']: 'urgent' is not a tier (tiers: high, medium, low)",
    ]
    assert "pydantic" not in text.lower() and "input should" not in text.lower()


def test_settings_come_back_typed():
    settings = parse_settings(compose_config("score", ["as_of=2024-01-31"]))
    assert settings.score.top_k == 1000
    assert settings.score.tiers == {"high": 0.7, "medium": 0.4}
    assert str(settings.as_of) == "2024-01-31"
    assert settings.engine.name == "duckdb"


def test_a_data_config_setting_other_stages_groups_is_ignored_by_stages_without_them():
    # data=demo sets score.drift.ignore and data=complete_journey sets split and tracking
    # for every stage; the features stage composes none of those groups.
    demo, journey = (
        compose_config("features"),
        compose_config("features", ["data=complete_journey"]),
    )
    assert list(demo.score.drift.ignore) == ["days_since_last_discount"]
    assert journey.split.spacing_days == 14 and "tracking" in journey
    validate_settings(demo)
    validate_settings(journey)


@pytest.mark.parametrize(
    ("script", "override", "key"),
    [
        ("score", "score.top_k=abc", "score.top_k='abc'"),
        ("train", "label.horizon_days=1.5", "label.horizon_days=1.5"),
        ("features", "features.windows=[30,90]", "features.windows=[30, 90]"),
        ("ingest", "ingest.max_bad_fraction=-1", "ingest.max_bad_fraction=-1"),
    ],
)
def test_the_command_line_exits_with_2_and_one_error_line(script, override, key, tmp_path):
    shown = run_churn([script, override, f"hydra.run.dir={tmp_path}"], cwd=ROOT, timeout=300)
    last = shown.stderr.strip().splitlines()[-1]
    assert shown.returncode == 2, shown.stderr
    assert last.startswith("error: ") and key in last
