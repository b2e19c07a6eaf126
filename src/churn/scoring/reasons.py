"""Plain-language churn reasons, segment names and campaign actions, in English or Italian.

A reason is a feature that pushes a customer towards churn (a positive exact TreeSHAP
contribution to the booster's log-odds), rendered from the feature registry's sentence
template with the customer's own values in human units: ``"No order for 84 days, 4 times
their usual gap (21 days)"``, ``"Nessun ordine da 84 giorni, 4 volte l'intervallo abituale
(21 giorni)"``.

Numbers and money are formatted by fixed per-language conventions rather than the C
library's ``locale`` module: ``setlocale`` changes the whole process, and which locales
exist depends on the machine, so the same scoring run could write different files on two
machines.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn.errors import ConfigError
from churn.features.registry import MISSING_REASONS, Feature, registry

LOCALES = ("en", "it")
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "CHF": "CHF", "JPY": "¥"}

SEGMENT_NAMES = {
    "en": {"new": "new", "regular": "regular", "dormant": "dormant", "vip": "VIP"},
    "it": {"new": "nuovo", "regular": "abituale", "dormant": "dormiente", "vip": "VIP"},
}
ACTIONS = {
    "en": {
        "new": "welcome / onboarding",
        "regular": "loyalty offer",
        "dormant": "reactivation campaign",
        "vip": "exclusive preview or event",
    },
    "it": {
        "new": "benvenuto / onboarding",
        "regular": "offerta fedeltà",
        "dormant": "campagna di riattivazione",
        "vip": "anteprima esclusiva o evento",
    },
}

_WORDS = {
    "en": {
        "day": ("day", "days"),
        "order": ("order", "orders"),
        "return": ("return", "returns"),
        "yes": "yes",
        "no": "no",
        "under": "less than {}",
        "generic_missing": "no value on record for {name}",
    },
    "it": {
        "day": ("giorno", "giorni"),
        "order": ("ordine", "ordini"),
        "return": ("reso", "resi"),
        "yes": "sì",
        "no": "no",
        "under": "meno di {}",
        "generic_missing": "nessun valore registrato per {name}",
    },
}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_OPTIONAL = re.compile(r"\[([^\]]*)\]")


def check_locale(locale: str) -> str:
    """Return ``locale`` if supported, else raise :class:`ConfigError`."""
    if locale not in LOCALES:
        raise ConfigError(f"locale must be one of {list(LOCALES)}, got {locale!r}")
    return locale


def format_number(value: float, decimals: int, locale: str) -> str:
    """``value`` with ``decimals`` decimals and thousands separators in ``locale``'s
    convention (``1,234.5`` / ``1.234,5``)."""
    text = f"{value:,.{decimals}f}"
    if locale == "it":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def _short(value: float, locale: str) -> str:
    """A number with at most one decimal, none when whole after rounding."""
    rounded = round(value, 1)
    return format_number(rounded, 0 if float(rounded).is_integer() else 1, locale)


def _plural(value: float, word: str, locale: str) -> str:
    singular, plural = _WORDS[locale][word]
    return f"{_short(value, locale)} {singular if round(abs(value), 1) == 1 else plural}"


def format_money(value: float, locale: str, currency: str = "EUR") -> str:
    """Money with two decimals and the currency symbol where each language puts it:
    ``€1,234.50`` / ``-€12.00`` in English, ``1.234,50 €`` in Italian."""
    symbol = CURRENCY_SYMBOLS.get(currency, currency)
    amount = format_number(abs(value), 2, locale)
    sign = "-" if value < 0 and round(abs(value), 2) > 0 else ""
    if locale == "it":
        return f"{sign}{amount} {symbol}"
    return f"{sign}{symbol}{amount}" if len(symbol) == 1 else f"{sign}{symbol} {amount}"


def format_value(value: float, unit: str, locale: str, currency: str = "EUR") -> str | None:
    """A feature value in its unit, for a sentence; ``None`` when the value is missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    value = float(value)
    if unit == "days":
        return _plural(round(value), "day", locale)
    if unit == "orders":
        if 0 < abs(value) < 0.05:  # would round to "0 orders"
            return _WORDS[locale]["under"].format(_plural(0.1, "order", locale))
        return _plural(value, "order", locale)
    if unit == "returns":
        return _plural(value, "return", locale)
    if unit == "money":
        return format_money(value, locale, currency)
    if unit == "share":
        # Never round a share that is not exactly 0 or 1 to "0%" or "100%".
        pct = min(max(100 * value, 0.1 if value > 0 else 0.0), 99.9 if value < 1 else 100.0)
        return f"{_short(pct, locale)}%"
    if unit == "hour":
        minutes = round(value * 60) % (24 * 60)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"
    if unit == "flag":
        return _WORDS[locale]["yes" if value >= 0.5 else "no"]
    if unit == "nats":
        return format_number(value, 2, locale)
    return _short(value, locale)  # ratio, count, items


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def render_reason(
    feature: Feature,
    values: Mapping[str, float],
    locale: str = "en",
    currency: str = "EUR",
    units: Mapping[str, str] | None = None,
) -> str:
    """The reason sentence of ``feature`` for one customer.

    ``values`` holds the customer's feature values by name (the feature's own and any the
    template names); ``units`` the units of those other features (default: the
    registry's). Optional ``[...]`` parts whose features are missing are left out; a
    missing value of the feature itself gives its :data:`MISSING_REASONS` sentence.
    """
    units = units if units is not None else _UNITS
    own = format_value(values.get(feature.name, float("nan")), feature.unit, locale, currency)
    if own is None:
        en, it = MISSING_REASONS.get(feature.name, (None, None))
        text = (en if locale == "en" else it) or _WORDS[locale]["generic_missing"].format(
            name=feature.name
        )
        return _capitalise(text)

    def fill(name: str) -> str | None:
        if name == "value":
            return own
        return format_value(
            values.get(name, float("nan")), units.get(name, "count"), locale, currency
        )

    def optional(match: re.Match[str]) -> str:
        filled = {n: fill(n) for n in _PLACEHOLDER.findall(match.group(1))}
        if any(v is None for v in filled.values()):
            return ""
        return _PLACEHOLDER.sub(lambda m: filled[m.group(1)], match.group(1))

    template = feature.reason_en if locale == "en" else feature.reason_it
    text = _OPTIONAL.sub(optional, template)
    text = _PLACEHOLDER.sub(lambda m: fill(m.group(1)) or "–", text)
    return _capitalise(text)


_UNITS: dict[str, str] = {f.name: f.unit for f in registry()}
_FEATURES: dict[str, Feature] = {f.name: f for f in registry()}


class _RowValues(Mapping[str, float]):
    """One customer's feature values by name, read from a row of the feature matrix."""

    def __init__(self, row: np.ndarray, columns: dict[str, int]) -> None:
        self._row, self._columns = row, columns

    def __getitem__(self, name: str) -> float:
        return float(self._row[self._columns[name]])

    def __iter__(self):  # noqa: ANN204 - Mapping protocol
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)


@dataclass(frozen=True)
class ReasonCodes:
    """Top reasons per customer: sentences, and the feature names behind them."""

    sentences: pd.DataFrame
    features: pd.DataFrame


def top_reasons(
    contributions: pd.DataFrame,
    features: pd.DataFrame,
    n_reasons: int = 3,
    locale: str = "en",
    currency: str = "EUR",
) -> ReasonCodes:
    """The features pushing each customer hardest towards churn, as sentences.

    Only positive contributions count: a feature that lowers the risk is never a reason,
    so a row may have fewer than ``n_reasons`` (the rest are empty strings).

    Parameters
    ----------
    contributions : pandas.DataFrame
        SHAP contributions to the log-odds, one column per feature (a ``bias`` column
        is ignored).
    features : pandas.DataFrame
        The customers' feature values, same index; also the values other features'
        templates name (``mean_gap_days`` in the recency sentence, for example).
    n_reasons : int
        Reasons per customer (columns ``reason_1..n``).
    locale : str
        ``en`` or ``it``.
    currency : str
        ISO code of the shop's currency, for money values.
    """
    check_locale(locale)
    contrib = contributions.drop(columns=["bias"], errors="ignore")
    names = list(contrib.columns)
    values = contrib.to_numpy(dtype="float64")
    order = np.argsort(-values, axis=1, kind="stable")[:, :n_reasons]
    numeric = features.select_dtypes("number")
    matrix = numeric.to_numpy(dtype="float64")
    columns = {name: i for i, name in enumerate(numeric.columns)}
    sentences: dict[str, list[str]] = {f"reason_{k + 1}": [] for k in range(n_reasons)}
    chosen: dict[str, list[str]] = {f"reason_{k + 1}_feature": [] for k in range(n_reasons)}
    for row in range(len(matrix)):
        record = _RowValues(matrix[row], columns)
        for k in range(n_reasons):
            j = order[row, k]
            if values[row, j] > 0:
                name = names[j]
                sentences[f"reason_{k + 1}"].append(
                    render_reason(_FEATURES[name], record, locale, currency)
                )
                chosen[f"reason_{k + 1}_feature"].append(name)
            else:
                sentences[f"reason_{k + 1}"].append("")
                chosen[f"reason_{k + 1}_feature"].append("")
    index = contributions.index
    return ReasonCodes(pd.DataFrame(sentences, index=index), pd.DataFrame(chosen, index=index))


def localise_segments(segments: Sequence[str], locale: str) -> tuple[list[str], list[str]]:
    """Segment names and recommended actions in ``locale`` for segment keys."""
    check_locale(locale)
    return (
        [SEGMENT_NAMES[locale][s] for s in segments],
        [ACTIONS[locale][s] for s in segments],
    )
