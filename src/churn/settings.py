"""Typed settings: every configuration value checked once, before a stage starts.

Each config group has a pydantic model (:class:`DataSettings`, :class:`ScoreSettings`,
...), and each stage one that gathers the groups its primary config composes
(:data:`STAGES`). :func:`validate_settings` checks a composed config against them and
reports every wrong value at once, as one :class:`~churn.errors.ConfigError` (exit code 2)
naming the key, the value and what is allowed, before any data is read. Rules between
settings (tier bounds, ``fail_psi >= warn_psi``) are each group's :meth:`Group.rules`.

The models are strict where Hydra's command line is loose: ``score.top_k=1.5`` is not
silently 1, and ``label.horizon_days=abc`` is not a traceback later on. A key a stage does
not know (a misspelled ``+score.topk=5``) is refused too: a new setting needs its line in
its group's model here (tests/test_settings.py lists a wrong value for each).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zoneinfo
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    Tag,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from churn.config import register_resolvers
from churn.data.contract import CONTACTS, CUSTOMERS, TRANSACTIONS, WITHOUT_CUSTOMER, csv_encoding
from churn.errors import ConfigError
from churn.features.query import MAX_EXACT_VALUE, REQUIRED_WINDOWS
from churn.features.registry import FAMILIES
from churn.reporting.retention import PERIODS
from churn.scoring.actions import known_actions, known_causes
from churn.scoring.control import MAX_CONTROL_FRACTION
from churn.text.messages import available_locales

# The tier every probability below all of score.tiers' bounds gets (selection.risk_tier).
LOW_TIER = "low"
# reason_1 .. reason_5 columns at most in the at-risk CSV.
MAX_REASONS = 5
# DuckDB's memory_limit: a size with a unit, or a share of the machine's memory.
_DUCKDB_SIZE = re.compile(r"^\s*\d+(\.\d+)?\s*([KMGT]i?B|B)\s*$|^\s*\d+(\.\d+)?\s*%\s*$", re.I)
# MLflow's rule for alias names (mlflow.utils.validation).
_ALIAS = re.compile(r"^[\w\-]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SEED_MAX = 2**32 - 1


# --- checks: each returns the clean value or refuses it with what is allowed -------------


def _refuse(allowed: str) -> PydanticCustomError:
    """The error of a wrong value; ``allowed`` completes "<key>=<value>: ..."."""
    return PydanticCustomError("setting", "{allowed}", {"allowed": allowed})


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number_or_none(value: Any) -> float | None:
    """``value`` when it is a finite number, else None (for rules across settings)."""
    return value if _is_number(value) and math.isfinite(value) else None


def _bounds_text(what: str, ge: float | None, le: float | None, gt: float | None) -> str:
    if ge is not None and le is not None:
        return f"{what} from {ge} to {le}"
    if gt is not None and le is not None:
        return f"{what} > {gt} and <= {le}"
    if gt is not None:
        return f"{what} > {gt}"
    if ge is not None:
        return f"{what} >= {ge}"
    return what


def _or_null(allowed: str, null: bool) -> str:
    return f"must be null or {allowed}" if null else f"must be {allowed}"


def whole(ge: int | None = None, le: int | None = None, null: bool = False) -> PlainValidator:
    """A whole number (no fractions, no text, no true/false) within ``[ge, le]``."""
    allowed = _or_null(_bounds_text("a whole number", ge, le, None), null)

    def check(value: Any) -> int | None:
        if value is None and null:
            return None
        if not (_is_number(value) and isinstance(value, int)):
            raise _refuse(allowed)
        if (ge is not None and value < ge) or (le is not None and value > le):
            raise _refuse(allowed)
        return value

    return PlainValidator(check)


def number(
    ge: float | None = None,
    le: float | None = None,
    gt: float | None = None,
    null: bool = False,
) -> PlainValidator:
    """A finite number within the bounds (``gt`` is a strict lower bound)."""
    allowed = _or_null(_bounds_text("a number", ge, le, gt), null)

    def check(value: Any) -> float | None:
        if value is None and null:
            return None
        if not _is_number(value) or not math.isfinite(value):
            raise _refuse(allowed)
        if (
            (ge is not None and value < ge)
            or (gt is not None and value <= gt)
            or (le is not None and value > le)
        ):
            raise _refuse(allowed)
        return float(value)

    return PlainValidator(check)


def flag() -> PlainValidator:
    """true or false (not 1, not "yes")."""

    def check(value: Any) -> bool:
        if not isinstance(value, bool):
            raise _refuse("must be true or false")
        return value

    return PlainValidator(check)


def text(null: bool = False) -> PlainValidator:
    """Non-empty text; a number is taken as its text (Hydra reads ``run_name=2024`` as
    an int)."""
    allowed = _or_null("non-empty text", null)

    def check(value: Any) -> str | None:
        if value is None and null:
            return None
        if _is_number(value):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise _refuse(allowed)
        return value

    return PlainValidator(check)


def choice(*options: str) -> PlainValidator:
    """One of ``options``."""
    allowed = f"must be one of {', '.join(options)}"

    def check(value: Any) -> str:
        if value not in options or not isinstance(value, str):
            raise _refuse(allowed)
        return value

    return PlainValidator(check)


def _locale(value: Any) -> str:
    # The languages with message catalogs (src/churn/text/catalogs/<language>/), looked up
    # when checked: a folder added there is a language, with no code to change.
    known = available_locales()
    if value not in known or not isinstance(value, str):
        raise ValueError(f"must be one of {', '.join(known)}")
    return value


def checked(rule: Callable[[Any], Any]) -> PlainValidator:
    """A check of its own: ``rule`` returns the clean value or raises ``ValueError`` with
    what is allowed."""

    def check(value: Any) -> Any:
        try:
            return rule(value)
        except ValueError as exc:
            raise _refuse(str(exc)) from None

    return PlainValidator(check)


def _one_character(value: Any, what: str = "one character") -> str:
    if not isinstance(value, str) or len(value) != 1:
        raise ValueError(f"must be {what}")
    return value


def _csv_sep(value: Any) -> str | None:
    if value is None:
        return None
    allowed = 'null or one character, not a quote ("), a line break or the decimal mark'
    if not isinstance(value, str) or len(value) != 1 or value in '"\r\n':
        raise ValueError(f"must be {allowed}")
    return value


def _decimal_mark(value: Any) -> str:
    if value not in (".", ","):
        raise ValueError('must be "." or ","')
    return value


def _decimal_or_none(value: Any) -> str | None:
    return None if value is None else _decimal_mark(value)


def _quote(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 1 or value in "\r\n" and value:
        raise ValueError('must be one character (usually ") or "" for no quoting')
    return value


def _thousands(value: Any) -> str | None:
    if value is None:
        return None
    return _one_character(value, "null or one character")


def _encoding(value: Any) -> str:
    allowed = (
        "must be utf-8, utf-16, latin-1 (ISO-8859-1) or windows-1252 (cp1252), in any of "
        "their usual spellings; convert the file to UTF-8 first for another encoding"
    )
    if not isinstance(value, str):
        raise ValueError(allowed)
    try:
        csv_encoding(value)  # what ingest reads, and nothing else
    except ConfigError:
        raise ValueError(allowed) from None
    return value


def _product_ids(value: Any) -> list[str]:
    allowed = "must be a list of product ids (quote one that looks like a number)"
    if not isinstance(value, list) or not all(
        (isinstance(v, str) and v.strip()) or (_is_number(v) and isinstance(v, int)) for v in value
    ):
        raise ValueError(allowed)
    return [str(v) for v in value]


def _date_format(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not re.search(r"%[a-zA-Z]", value):
        raise ValueError('must be null (ISO 8601) or a strptime format such as "%d/%m/%Y %H:%M"')
    return value


def _timezone(value: Any) -> str:
    allowed = "must be an IANA time zone such as UTC, Europe/Rome or America/New_York"
    if not isinstance(value, str) or not value:
        raise ValueError(allowed)
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(allowed) from None
    return value


def _currency(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Z]{3}", value):
        raise ValueError("must be a 3-letter ISO 4217 currency code in capitals, such as EUR")
    return value


def _memory_limit(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _DUCKDB_SIZE.match(value):
        raise ValueError('must be null or a DuckDB size such as "4GB", "512MB" or "1.5GiB"')
    return value


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _DATE.match(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("must be a date YYYY-MM-DD")


def _one_date(value: Any) -> dt.date | None:
    if value is None:
        return None
    try:
        return _date(value)
    except ValueError:
        raise ValueError("must be null or a date YYYY-MM-DD") from None


def _cutoffs(value: Any) -> dt.date | list[dt.date] | None:
    if isinstance(value, list):
        try:
            dates = [_date(v) for v in value]
        except ValueError:
            dates = []
        if not dates:
            raise ValueError("must be null, a date YYYY-MM-DD or a list of them")
        return dates
    return _one_date(value)


def _windows(value: Any) -> list[int]:
    allowed = (
        "must be a list of whole numbers of days >= 1 that includes "
        f"{' and '.join(str(w) for w in REQUIRED_WINDOWS)} (trends compare 90-day periods; "
        "segments and the at-risk list use 365 days)"
    )
    if not isinstance(value, list) or not value:
        raise ValueError(allowed)
    for w in value:
        if not (_is_number(w) and isinstance(w, int) and w >= 1):
            raise ValueError(allowed)
    if any(w not in value for w in REQUIRED_WINDOWS):
        raise ValueError(allowed)
    return value


def _families(value: Any) -> list[str]:
    allowed = f"must be a list of feature families from {', '.join(FAMILIES)}"
    if not isinstance(value, list):
        raise ValueError(allowed)
    unknown = [f for f in value if f not in FAMILIES]
    if unknown:
        raise ValueError(
            f"{', '.join(map(repr, unknown))} is not a feature family (families: "
            f"{', '.join(FAMILIES)})"
        )
    return value


def _names(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError("must be a list of names")
    return value


def _catalog_key(kind: str, known: Callable[[], tuple[str, ...]]) -> Callable[[Any], str]:
    """A key of the lists catalog: ``kind`` is ``cause`` or ``action``."""

    def check(value: Any) -> str:
        keys = known()
        if not isinstance(value, str) or value not in keys:
            article = "an" if kind[0] in "aeiou" else "a"
            raise ValueError(
                f"must be {article} {kind} of the lists catalog ({kind}.<key> in "
                f"src/churn/text/catalogs/en/lists.po): {', '.join(keys)}"
            )
        return value

    return check


_cause = _catalog_key("cause", known_causes)
_action = _catalog_key("action", known_actions)


def _action_or_none(value: Any) -> str | None:
    return None if value is None else _action(value)


def _actions(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise ValueError(f"must be a list of actions from {', '.join(known_actions())}")
    return [_action(v) for v in value]


def _calibration(value: Any) -> str:
    from churn.modeling.calibration import (
        METHODS,  # scikit-learn: imported by the stages that train
    )

    if value not in METHODS:
        raise ValueError(f"must be one of {', '.join(METHODS)}")
    return value


def _max_depth(value: Any) -> int:
    if not (_is_number(value) and isinstance(value, int)) or value == 0 or value < -1:
        raise ValueError("must be -1 (no limit) or a whole number >= 1")
    return value


def _alias(value: Any) -> str | None:
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not _ALIAS.match(value)
        or value.lower() == "latest"
        or re.fullmatch(r"[vV]\d+", value)
    ):
        raise ValueError(
            "must be null (champion) or a registry alias: letters, digits, _ and -, "
            "not 'latest' or v<N>"
        )
    return value


def _spark_options(value: Any) -> dict[str, Any]:
    allowed = "must be Spark settings (name: value), e.g. spark.driver.memory: 8g"
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(allowed)
    for v in value.values():
        if not (isinstance(v, str | bool) or _is_number(v)):
            raise ValueError(allowed)
    return value


# --- one model per config group ----------------------------------------------------------


Problem = tuple[str, Any, str]  # key (within the group), value, what is allowed


class Group(BaseModel):
    """A config group: every key known, nothing else accepted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def rules(cls, raw: Mapping[str, Any]) -> list[Problem]:
        """Problems between this group's settings, found on the raw values so that they
        are reported along with every other problem; a value of the wrong type is left to
        its own check."""
        return []


Whole0 = Annotated[int, whole(ge=0)]
Whole1 = Annotated[int, whole(ge=1)]
Flag = Annotated[bool, flag()]
Text = Annotated[str, text()]
OptionalText = Annotated[str | None, text(null=True)]
Fraction = Annotated[float, number(ge=0, le=1)]


class CsvDialect(Group):
    """``data.csv``: how a CSV export is read."""

    delimiter: Annotated[str, checked(_one_character)]
    decimal: Annotated[str, checked(_decimal_mark)]
    thousands: Annotated[str | None, checked(_thousands)]
    header: Flag
    quote: Annotated[str, checked(_quote)]
    encoding: Annotated[str, checked(_encoding)]

    @classmethod
    def rules(cls, raw: Mapping[str, Any]) -> list[Problem]:
        problems = []
        delimiter, decimal, thousands = (
            raw.get("delimiter"),
            raw.get("decimal"),
            raw.get("thousands"),
        )
        if thousands is not None and thousands == decimal:
            problems.append(
                ("thousands", thousands, f"must differ from data.csv.decimal {decimal!r}")
            )
        if delimiter is not None and delimiter in (decimal, raw.get("quote")):
            problems.append(
                ("delimiter", delimiter, "must differ from data.csv.decimal and data.csv.quote")
            )
        return problems


class TransactionColumns(Group):
    """``data.columns``: canonical column -> the export's column (null = not in it)."""

    customer_id: OptionalText
    order_id: OptionalText
    ts: OptionalText
    amount: OptionalText
    quantity: OptionalText
    product_id: OptionalText
    category: OptionalText
    discount: OptionalText
    channel: OptionalText
    unit_price: OptionalText

    @classmethod
    def rules(cls, raw: Mapping[str, Any]) -> list[Problem]:
        derives_amount = raw.get("quantity") is not None and raw.get("unit_price") is not None
        problems = []
        for column in TRANSACTIONS.required:
            if (
                column in raw
                and raw[column] is None
                and not (column == "amount" and derives_amount)
            ):
                why = " (or map quantity and unit_price to derive it)" if column == "amount" else ""
                problems.append(
                    (column, None, f"must name the export's column: it is required{why}")
                )
        return problems


class CustomerColumns(Group):
    """``data.customer_columns``: canonical column -> the customers table's column."""

    customer_id: OptionalText
    signup_ts: OptionalText
    marketing_opt_out: OptionalText
    first_name: OptionalText
    email: OptionalText

    @classmethod
    def rules(cls, raw: Mapping[str, Any]) -> list[Problem]:
        return [
            (column, None, "must name the customers table's column: it is required")
            for column in CUSTOMERS.required
            if column in raw and raw[column] is None
        ]


class ContactColumns(Group):
    """``data.contact_columns``: canonical column -> the contact log's column."""

    customer_id: OptionalText
    contacted_at: OptionalText
    campaign: OptionalText
    contact_group: OptionalText

    @classmethod
    def rules(cls, raw: Mapping[str, Any]) -> list[Problem]:
        return [
            (column, None, "must name the contact log's column: it is required")
            for column in CONTACTS.required
            if column in raw and raw[column] is None
        ]


class ContactCsv(Group):
    """``data.contact_csv``: how the contact log's CSV is written."""

    delimiter: Annotated[str, checked(_one_character)]
    encoding: Annotated[str, checked(_encoding)]


class DataSettings(Group):
    """``data``: where the transactions come from and how to read them."""

    transactions: OptionalText
    query: OptionalText
    database: OptionalText
    customers: OptionalText
    contacts: OptionalText
    columns: TransactionColumns
    customer_columns: CustomerColumns
    contact_columns: ContactColumns
    contact_csv: ContactCsv
    contact_date_format: Annotated[str | None, checked(_date_format)]
    contact_timezone: Annotated[str, checked(_timezone)]
    csv: CsvDialect
    date_format: Annotated[str | None, checked(_date_format)]
    timezone: Annotated[str, checked(_timezone)]
    currency: Annotated[str, checked(_currency)]
    # Product ids that are not customer purchases: dropped and counted (churn.data.ingest.LeftOut).
    exclude_products: Annotated[list[str], checked(_product_ids)] = []

    @classmethod
    def rules(cls, raw: Mapping[str, Any]) -> list[Problem]:
        if raw.get("database") is not None and raw.get("query") is None:
            return [("database", raw["database"], "is read only by data.query: set data.query too")]
        return []


class IngestSettings(Group):
    """``ingest``: how much bad input a run tolerates, and the validation batch size."""

    max_bad_fraction: Fraction
    # Plausibility bounds (churn.data.ingest.Plausibility), with its defaults when not set.
    # At most MAX_EXACT_VALUE: the feature query sums values as exact 18-digit decimals.
    max_abs_value: Annotated[float, number(gt=0, le=MAX_EXACT_VALUE)] = 1e12
    valid_from: Annotated[dt.date, checked(_date)] = dt.date(1990, 1, 1)
    valid_until: Annotated[dt.date | None, checked(_one_date)] = None
    # Rows without a customer id: dropped and counted, or quarantined (churn.data.ingest.LeftOut).
    without_customer: Annotated[str, choice(*WITHOUT_CUSTOMER)] = "drop"

    @classmethod
    def rules(cls, raw: Mapping[str, Any]) -> list[Problem]:
        try:
            start = _date(raw.get("valid_from", dt.date(1990, 1, 1)))
            end = _one_date(raw.get("valid_until"))
        except ValueError:
            return []
        if end is not None and end < start:
            return [("valid_until", raw["valid_until"], f"must be null or on or after {start}")]
        return []


class DuckDBEngine(Group):
    """``engine=duckdb``."""

    name: Literal["duckdb"]
    threads: Annotated[int | None, whole(ge=1, null=True)]
    memory_limit: Annotated[str | None, checked(_memory_limit)]
    temp_directory: OptionalText
    # A folder for the last night's features (churn.features.incremental).
    feature_state: OptionalText = None


class SparkEngine(Group):
    """``engine=spark``."""

    name: Literal["spark"]
    master: OptionalText
    options: Annotated[dict[str, Any], checked(_spark_options)]


class FeatureFamilyBtyd(Group):
    """``features.btyd``."""

    enabled: Flag


class FeaturesSettings(Group):
    """``features``: window lengths and families."""

    windows: Annotated[list[int], checked(_windows)]
    families: Annotated[list[str], checked(_families)]
    btyd: FeatureFamilyBtyd


class LabelSettings(Group):
    """``label``: churn horizon and the population's look-back."""

    horizon_days: Whole1
    active_lookback_days: Whole1


class SplitSettings(Group):
    """``split``: the rolling-origin snapshot schedule."""

    n_train_cutoffs: Whole1
    spacing_days: Whole1
    min_spacing_days: Whole1
    min_history_days: Whole0
    n_test_origins: Whole1
    origin_spacing_days: Whole1


class LightGBMParams(BaseModel):
    """``model.params``: the ones we set are checked; any other LightGBM parameter passes
    through to ``lightgbm.train`` (LightGBM checks it)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    learning_rate: Annotated[float, number(gt=0)] | None = None
    max_depth: Annotated[int, checked(_max_depth)] | None = None
    num_leaves: Annotated[int, whole(ge=2, le=131072)] | None = None
    min_child_samples: Whole0 | None = None
    feature_fraction: Annotated[float, number(gt=0, le=1)] | None = None
    bagging_fraction: Annotated[float, number(gt=0, le=1)] | None = None
    bagging_freq: Whole0 | None = None
    lambda_l2: Annotated[float, number(ge=0)] | None = None
    extra_trees: Annotated[bool, flag()] | None = None
    num_threads: Whole0 | None = None


class LightGBMModel(Group):
    """``model=lightgbm`` (train)."""

    params: LightGBMParams
    num_boost_round: Whole1
    early_stopping_rounds: Whole1
    calibration: Annotated[str, checked(_calibration)]


class RegisteredModelChoice(Group):
    """``model`` in score: which registered version scores."""

    alias: Annotated[str | None, checked(_alias)]
    version: Annotated[int | None, whole(ge=1, null=True)]
    # An exported model folder (`churn export`): scores without the registry.
    path: OptionalText = None


class PathSettings(Group):
    """``paths``: the outputs root and the folders derived from it."""

    root: Text
    scores: Text


class TrackingSettings(Group):
    """``tracking``: the MLflow store and names."""

    uri: Text
    experiment: Text
    artifact_root: OptionalText
    registered_model: Text


class GateSettings(Group):
    """``gate``: the promotion gate."""

    min_roc_auc: Fraction
    tolerance: Annotated[float, number(ge=0)]
    beat_baselines: Flag
    baseline_margin_roc_auc: Fraction
    baseline_margin_brier: Fraction
    force: Flag


class Segments(Group):
    """``score.segments``."""

    new_max_tenure_days: Whole0
    vip_spend_quantile: Fraction
    dormant_min_days: Whole0


class DriftGate(Group):
    """``score.drift``."""

    warn_psi: Annotated[float, number(ge=0)]
    fail_psi: Annotated[float | None, number(gt=0, null=True)]
    ignore: Annotated[list[str], checked(_names)] = []
    # Why the listed features' drift is expected, for the log (the data config says).
    ignore_reason: OptionalText = None

    @classmethod
    def rules(cls, raw: Mapping[str, Any]) -> list[Problem]:
        warn, fail = _number_or_none(raw.get("warn_psi")), _number_or_none(raw.get("fail_psi"))
        if warn is not None and fail is not None and 0 < fail < warn:
            return [("fail_psi", fail, f"must be null or >= score.drift.warn_psi ({warn})")]
        return []


class ScoreCsv(Group):
    """``score.csv``: the at-risk CSV's dialect."""

    # null: from the language (";" and "," where it writes decimals with a comma).
    sep: Annotated[str | None, checked(_csv_sep)] = None
    decimal: Annotated[str | None, checked(_decimal_or_none)] = None

    @classmethod
    def rules(cls, raw: Mapping[str, Any]) -> list[Problem]:
        sep, decimal = raw.get("sep"), raw.get("decimal")
        if sep is not None and sep == decimal:
            return [("sep", sep, f"must differ from score.csv.decimal {decimal!r}")]
        return []


TierBound = Annotated[float, number(gt=0, le=1)]


class ScoreSettings(Group):
    """``score``: tiers, selection, segments, reasons, drift gate and the CSV."""

    output_dir: Text
    tiers: dict[str, TierBound]
    selection: Annotated[str, choice("share", "tiers", "top_k", "budget", "uplift")]
    share: Fraction
    at_risk_tiers: Annotated[list[str], checked(_names)]
    top_k: Whole0
    budget: Annotated[float | None, number(ge=0, null=True)]
    cost_per_contact: Annotated[float, number(gt=0)]
    control_fraction: Annotated[float, number(ge=0, le=MAX_CONTROL_FRACTION)]
    control_salt: Text
    segments: Segments
    n_reasons: Annotated[int, whole(ge=1, le=MAX_REASONS)]
    drift: DriftGate
    csv: ScoreCsv

    @classmethod
    def rules(cls, raw: Mapping[str, Any]) -> list[Problem]:
        problems: list[Problem] = []
        tiers = raw.get("tiers") if isinstance(raw.get("tiers"), Mapping) else {}
        if LOW_TIER in tiers:
            problems.append(
                (
                    f"tiers.{LOW_TIER}",
                    tiers[LOW_TIER],
                    f"{LOW_TIER!r} is the tier below every bound: give this tier another name",
                )
            )
        bounds = [b for b in tiers.values() if _number_or_none(b) is not None]
        if len(set(bounds)) < len(bounds):
            problems.append(("tiers", dict(tiers), "each tier needs a bound of its own"))
        high, medium = _number_or_none(tiers.get("high")), _number_or_none(tiers.get("medium"))
        if high is not None and medium is not None and high < medium:
            problems.append(("tiers.high", high, f"must be above score.tiers.medium ({medium})"))
        at_risk = raw.get("at_risk_tiers")
        known = [*tiers, *([] if LOW_TIER in tiers else [LOW_TIER])]
        unknown = [t for t in at_risk if t not in known] if isinstance(at_risk, list) else []
        if unknown:
            problems.append(
                (
                    "at_risk_tiers",
                    at_risk,
                    f"{', '.join(map(repr, unknown))} is not a tier (tiers: {', '.join(known)})",
                )
            )
        if raw.get("selection") == "budget" and "budget" in raw and raw["budget"] is None:
            problems.append(("budget", None, "must be a number >= 0 when score.selection=budget"))
        return problems


CauseKey = Annotated[str, checked(_cause)]
ActionKey = Annotated[str, checked(_action)]
OptionalActionKey = Annotated[str | None, checked(_action_or_none)]


class ThemeCauses(Group):
    """``actions.causes``: the likely cause behind each theme."""

    rhythm: CauseKey
    frequency: CauseKey
    spending: CauseKey
    returns: CauseKey
    price: CauseKey
    interest: CauseKey
    habits: CauseKey
    lifecycle: CauseKey
    none: CauseKey


class SegmentActions(Group):
    """``actions.table.<segment>``: the action per theme; ``default`` for the rest."""

    default: ActionKey
    rhythm: OptionalActionKey = None
    frequency: OptionalActionKey = None
    spending: OptionalActionKey = None
    returns: OptionalActionKey = None
    price: OptionalActionKey = None
    interest: OptionalActionKey = None
    habits: OptionalActionKey = None
    lifecycle: OptionalActionKey = None
    none: OptionalActionKey = None


class ActionTableRows(Group):
    """``actions.table``: one row per segment, and VIPs gone quiet."""

    new: SegmentActions
    regular: SegmentActions
    dormant: SegmentActions
    vip: SegmentActions
    vip_dormant: SegmentActions


class ActionsSettings(Group):
    """``actions``: cause and next best action per theme and segment."""

    causes: ThemeCauses
    table: ActionTableRows
    vip_dormant_min_days: Whole0
    discount_actions: Annotated[list[str], checked(_actions)]


class ReportSettings(Group):
    """``report``: the retention report, and the windows of its campaign rates."""

    period: Annotated[str, choice(*PERIODS)]
    scores_dir: OptionalText
    response_days: Whole1
    conversion_days: Whole1


class OutcomesSettings(Group):
    """``outcomes``: where the outcomes go, the response and contact windows, and the
    calibration threshold of the retrain signal."""

    output_dir: Text
    response_days: Whole1
    contact_window_days: Whole1
    max_calibration_error: Annotated[float, number(gt=0, le=1)]
    log_to_mlflow: Flag


class UpliftGate(Group):
    """``uplift.gate``."""

    force: Flag


class UpliftSettings(Group):
    """``uplift``: the training table, the holdout, the learner and the gate."""

    table: OptionalText
    table_format: Annotated[str, choice("features", "hillstrom")]
    holdout_share: Annotated[float, number(gt=0, le=0.9)]
    seed: Annotated[int, whole(ge=0, le=_SEED_MAX)]
    learner: Annotated[str, choice("s", "t")]
    bootstrap_resamples: Annotated[int, whole(ge=10)]
    refit: Flag
    gate: UpliftGate
    contact_window_days: Whole1
    response_days: Whole1


class TrainSettings(Group):
    """``train``: registration, refit, the SHAP sample, the customer sample of a large shop
    and the bootstrap's resamples."""

    # "register" is a method name of pydantic's models: the key is its alias.
    register_model: Flag = Field(alias="register")
    refit: Flag
    explain_rows: Whole0
    max_customers: Annotated[int | None, whole(ge=1, null=True)]
    bootstrap_resamples: Annotated[int, whole(ge=10)]


def _engine_tag(value: Any) -> str | None:
    name = value.get("name") if isinstance(value, Mapping) else getattr(value, "name", None)
    return name if name in ("duckdb", "spark") else None


Engine = Annotated[
    Annotated[DuckDBEngine, Tag("duckdb")] | Annotated[SparkEngine, Tag("spark")],
    Discriminator(
        _engine_tag, custom_error_type="engine_name", custom_error_message="must be duckdb or spark"
    ),
]
# The union's tags: pydantic puts them in an error's location; setting keys never have them.
_UNION_TAGS = {("engine", "duckdb"), ("engine", "spark")}
Cutoff = Annotated[dt.date | None, checked(_one_date)]


# --- one model per stage: the groups its primary config composes -------------------------


class IngestStage(Group):
    """``conf/ingest.yaml``."""

    paths: PathSettings
    data: DataSettings
    ingest: IngestSettings
    engine: Engine
    output_dir: Text


class FeaturesStage(IngestStage):
    """``conf/features.yaml``: ``as_of`` is one cutoff or a list of them."""

    features: FeaturesSettings
    label: LabelSettings
    as_of: Annotated[dt.date | list[dt.date] | None, checked(_cutoffs)]


class TrainStage(IngestStage):
    """``conf/train.yaml``."""

    features: FeaturesSettings
    label: LabelSettings
    split: SplitSettings
    model: LightGBMModel
    tracking: TrackingSettings
    gate: GateSettings
    score: ScoreSettings
    train: TrainSettings
    seed: Annotated[int, whole(ge=0, le=_SEED_MAX)]
    run_name: OptionalText


class ScoreStage(Group):
    """``conf/score.yaml``: its outputs go to ``score.output_dir``."""

    paths: PathSettings
    data: DataSettings
    ingest: IngestSettings
    engine: Engine
    tracking: TrackingSettings
    score: ScoreSettings
    actions: ActionsSettings
    model: RegisteredModelChoice
    as_of: Cutoff
    locale: Annotated[str, checked(_locale)]


class ExportStage(Group):
    """``conf/export.yaml``: the registered model to copy into a model folder."""

    paths: PathSettings
    tracking: TrackingSettings
    model: RegisteredModelChoice
    output_dir: Text


class ReportStage(IngestStage):
    """``conf/report.yaml``."""

    report: ReportSettings
    locale: Annotated[str, checked(_locale)]


class OutcomesStage(IngestStage):
    """``conf/outcomes.yaml``: the lists under ``score.output_dir`` against the data."""

    output_dir: Annotated[str | None, text(null=True)] = None
    tracking: TrackingSettings
    score: ScoreSettings
    gate: GateSettings
    outcomes: OutcomesSettings
    locale: Annotated[str, checked(_locale)]


class UpliftStage(IngestStage):
    """``conf/uplift.yaml``: past lists (or a features table) into an uplift model."""

    features: FeaturesSettings
    label: LabelSettings
    tracking: TrackingSettings
    score: ScoreSettings
    uplift: UpliftSettings
    locale: Annotated[str, checked(_locale)]


STAGES: dict[str, type[Group]] = {
    "ingest": IngestStage,
    "features": FeaturesStage,
    "train": TrainStage,
    "score": ScoreStage,
    "report": ReportStage,
    "outcomes": OutcomesStage,
    "uplift": UpliftStage,
    "export": ExportStage,
}
# Groups some stage composes: a data config (`# @package _global_`, such as data=demo)
# may set them for every stage, and a stage that does not compose one ignores it.
_ANY_STAGE = {name for model in STAGES.values() for name in model.model_fields}


# --- from the composed config to one message ---------------------------------------------

# Keys Hydra owns: its own settings, never ours to check.
_NOT_OURS = ("hydra",)


def _config_error_in(exc: BaseException) -> ConfigError | None:
    """The :class:`ConfigError` a resolver raised, which OmegaConf wraps (twice)."""
    current: BaseException | None = exc
    for _ in range(5):
        if current is None or isinstance(current, ConfigError):
            return current
        current = current.__cause__ or current.__context__
    return None


def _plain(node: Any, key: str, problems: list[str]) -> Any:
    """``node`` as plain Python values, each interpolation resolved on its own so that
    one that cannot be resolved is reported (and does not hide the others)."""
    if isinstance(node, DictConfig):
        out = {}
        for name in node:
            path = f"{key}.{name}" if key else str(name)
            try:
                value = node[name]
            except OmegaConfBaseException as exc:
                raw = OmegaConf.to_container(node, resolve=False)[name]  # type: ignore[index]
                said = _config_error_in(exc)
                if said is not None:
                    # A resolver's own message (a package to install) says it all.
                    problems.append(f"{path}: {said}")
                    out[str(name)] = raw
                elif raw == "???":
                    problems.append(f"{path}: must be set")
                elif isinstance(raw, str) and "${hydra:" in raw:
                    # Hydra resolves it in a run; composed alone (tests) there is no run.
                    out[str(name)] = raw
                else:
                    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                    problems.append(f"{path}={_show(raw)}: cannot be resolved ({reason})")
                continue
            out[str(name)] = _plain(value, path, problems)
        return out
    if isinstance(node, ListConfig):
        return [_plain(node[i], f"{key}[{i}]", problems) for i in range(len(node))]
    return node


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value)


def _field_names(stage: type[Group], loc: tuple[Any, ...]) -> list[str] | None:
    """The settings a group at ``loc`` knows, for an unknown key's message."""
    model: Any = stage
    for part in loc:
        if model is None or not hasattr(model, "model_fields") or part not in model.model_fields:
            return None
        annotation = model.model_fields[part].annotation
        model = next(
            (
                a
                for a in getattr(annotation, "__args__", (annotation,))
                if hasattr(a, "model_fields")
            ),
            annotation if hasattr(annotation, "model_fields") else None,
        )
    return (
        list(model.model_fields) if model is not None and hasattr(model, "model_fields") else None
    )


def _message(error: Mapping[str, Any], values: Mapping[str, Any], stage: type[Group]) -> str:
    """One problem in plain words: ``<key>=<value>: <what is allowed>``."""
    loc = tuple(error["loc"])
    if len(loc) >= 2 and (loc[0], loc[1]) in _UNION_TAGS:
        loc = loc[:1] + loc[2:]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    key = ".".join(str(p) for p in loc)
    if error["type"] == "setting":
        return f"{key}={_show(value)}: {ctx.get('allowed', error['msg'])}"
    if error["type"] == "extra_forbidden":
        known = _field_names(stage, loc[:-1])
        where = ".".join(str(p) for p in loc[:-1]) or "this stage"
        names = f": {where} has {', '.join(known)}" if known else ""
        return f"{key}={_show(value)}: not a setting{names}"
    if error["type"] == "engine_name":
        return f"engine.name={_show(_dig(values, ('engine', 'name')))}: must be duckdb or spark"
    if error["type"] == "missing":
        return f"{key}: must be set"
    if error["type"] in ("model_type", "dict_type", "model_attributes_type"):
        known = _field_names(stage, loc)
        names = f" ({', '.join(known)})" if known else ""
        return f"{key}={_show(value)}: must be a group of settings{names}"
    return f"{key}={_show(value)}: not allowed here"


def _dig(values: Mapping[str, Any], loc: tuple[Any, ...]) -> Any:
    node: Any = values
    for part in loc:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def stage_of(values: Mapping[str, Any]) -> str:
    """The stage a composed config is for, from the keys its primary config sets."""
    model = values.get("model")
    if "train" in values:
        return "train"
    if "report" in values:
        return "report"
    if "outcomes" in values:
        return "outcomes"
    if "uplift" in values:
        return "uplift"
    if isinstance(model, Mapping) and {"alias", "version"} & set(model):
        return "score"
    if "features" in values:
        return "features"
    return "ingest"


def _rule_problems(model: type[Group], raw: Any, prefix: str) -> list[str]:
    """The problems :meth:`Group.rules` finds in ``raw``, in this group and those inside."""
    if not isinstance(raw, Mapping):
        return []
    found = [f"{prefix}{key}={_show(value)}: {allowed}" for key, value, allowed in model.rules(raw)]
    for name, field in model.model_fields.items():
        inner, key = field.annotation, field.alias or name
        if isinstance(inner, type) and issubclass(inner, Group) and key in raw:
            found += _rule_problems(inner, raw[key], f"{prefix}{key}.")
    return found


def parse_settings(cfg: DictConfig, stage_name: str | None = None) -> Group:
    """The typed settings of a composed stage config (:data:`STAGES`); ``stage_name``
    (``score``, ``train``, ...) says which stage, or it is told from the config's keys.

    Raises
    ------
    ConfigError
        Naming every wrong key, its value and what is allowed, in one line.
    """
    register_resolvers()
    problems: list[str] = []
    values = _plain(
        OmegaConf.masked_copy(cfg, [k for k in cfg if k not in _NOT_OURS]), "", problems
    )
    name = stage_name if stage_name in STAGES else stage_of(values)
    stage = STAGES[name]
    # Groups of other stages that a data config set for every stage.
    ours = {k: v for k, v in values.items() if k in stage.model_fields or k not in _ANY_STAGE}
    settings = None
    try:
        settings = stage.model_validate(ours)
    except ValidationError as exc:
        problems += [_message(e, ours, stage) for e in exc.errors(include_url=False)]
    problems += _rule_problems(stage, ours, "")
    if problems:
        raise ConfigError(f"{'; '.join(problems)} (churn {name} --help lists the settings)")
    assert settings is not None
    return settings


def validate_settings(cfg: DictConfig, stage_name: str | None = None) -> None:
    """Check every setting of a composed stage config against its typed schema.

    Raises :class:`~churn.errors.ConfigError` naming each wrong key, its value and what
    is allowed.
    """
    parse_settings(cfg, stage_name)
