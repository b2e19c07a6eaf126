"""Why a customer is at risk, by theme, with the likely cause and the next best action.

Each feature belongs to a theme (:data:`churn.features.registry.THEMES`): ``rhythm``,
``frequency``, ``spending``, ``returns``, ``price``, ``interest``, ``habits``,
``lifecycle``. A customer's exact TreeSHAP contributions (log-odds, from
:meth:`~churn.modeling.model.ChurnClassifier.contributions`) are summed per theme
(:func:`theme_contributions`); the sums plus the ``bias`` still add up to the log-odds,
so the themes share out the prediction exactly as the features did. The BG/NBD features
count as ``rhythm``: a model output is attributed to the behaviour behind it, and never
quoted.

A customer's reasons are their strongest themes with a positive sum, at most
``n_reasons``, one sentence per theme (:mod:`churn.scoring.reasons`), written from their
own facts. A theme whose facts give nothing true to say (``returns`` for a customer who
never returned anything, ``lifecycle`` after the first year, ...) is skipped, and its
share is not given to another theme; a sentence another theme already said is not said
again. A customer with no citable theme raising their risk gets the single reason
``none``, so every listed customer has one.

The theme of the top reason gives the likely cause and, with the segment, the action
(:class:`~churn.scoring.actions.ActionTable`, from ``conf/actions/``).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from churn.features.registry import THEMES, registry
from churn.scoring.actions import NO_THEME, ActionTable, discount_advised
from churn.scoring.reasons import FACT_COLUMNS, ReasonWriter, reason_variant
from churn.text.messages import check_locale, messages

_WINDOWED = re.compile(r"^(?:orders|spend)_(\d+)d$")


def feature_themes(names: list[str]) -> dict[str, str]:
    """The theme of each feature in ``names`` (a ``bias`` column is left out).

    Raises :class:`KeyError` for a name the registry does not define.
    """
    windows = sorted({int(m.group(1)) for n in names if (m := _WINDOWED.match(n))})
    known = {f.name: f.theme for f in registry(windows or (30,))}
    unknown = [n for n in names if n != "bias" and n not in known]
    if unknown:
        raise KeyError(f"features without a theme in the registry: {unknown}")
    return {n: known[n] for n in names if n != "bias"}


def theme_contributions(contributions: pd.DataFrame) -> pd.DataFrame:
    """Each customer's contributions summed per theme: one column per theme of
    :data:`THEMES` (0 where no feature of the theme is in the model), same index.

    With the ``bias`` column, each row still sums to the customer's log-odds.
    """
    themes = feature_themes(list(contributions.columns))
    values = contributions[list(themes)].to_numpy(dtype="float64")
    labels = np.array([THEMES.index(t) for t in themes.values()])
    sums = np.zeros((len(contributions), len(THEMES)))
    for k in range(len(THEMES)):
        if (labels == k).any():
            sums[:, k] = values[:, labels == k].sum(axis=1)
    return pd.DataFrame(sums, columns=list(THEMES), index=contributions.index)


def _facts(features: pd.DataFrame, index: pd.Index) -> list[dict[str, float | None]]:
    """Each customer's facts (:data:`~churn.scoring.reasons.FACT_COLUMNS` present)."""
    present = [c for c in FACT_COLUMNS if c in features.columns]
    frame = features.reindex(index)[present].astype("float64")
    frame = frame.astype(object).where(frame.notna(), None)
    return frame.to_dict("records")


def explain(
    contributions: pd.DataFrame,
    features: pd.DataFrame,
    segments: pd.Series,
    table: ActionTable,
    n_reasons: int = 3,
    locale: str = "en",
    currency: str = "EUR",
) -> pd.DataFrame:
    """Reasons, likely cause and next best action of each customer.

    Parameters
    ----------
    contributions : pandas.DataFrame
        Exact SHAP contributions to the log-odds, one column per feature (and ``bias``).
    features : pandas.DataFrame
        The customers' feature values, same index: the facts the sentences tell.
    segments : pandas.Series
        Segment key of each customer (``new``, ``regular``, ``dormant``, ``vip``), same
        index.
    table : ActionTable
        Causes and actions (``conf/actions/``).
    n_reasons : int
        At most this many reasons per customer.
    locale, currency : str
        Language of the sentences and names; ISO code of the shop's currency.

    Returns
    -------
    pandas.DataFrame
        Same index. ``reason_1..reason_<n>`` (sentences, ``""`` when fewer),
        ``reason_1_theme..reason_<n>_theme`` (theme keys, ``""`` when fewer), ``theme``
        (of the top reason; ``none`` when no behaviour stands out), ``cause`` and
        ``action`` (keys), ``discount_advised`` (bool), and in ``locale``:
        ``theme_name``, ``cause_name``, ``action_name``, ``action_offer``.
    """
    check_locale(locale)
    index = contributions.index
    sums = theme_contributions(contributions).to_numpy()
    order = np.argsort(-sums, axis=1, kind="stable")
    facts = _facts(features, index)
    writer = ReasonWriter(locale, currency)
    sentences = [[""] * len(index) for _ in range(n_reasons)]
    themes = [[""] * len(index) for _ in range(n_reasons)]
    for row, customer in enumerate(facts):
        said: list[str] = []
        for k in order[row]:
            if sums[row, k] <= 0 or len(said) == n_reasons:
                break
            variant = reason_variant(THEMES[k], customer)
            if variant is None:
                continue
            text = writer.sentence(variant)
            if text in said:
                continue
            themes[len(said)][row] = THEMES[k]
            sentences[len(said)][row] = text
            said.append(text)
        if not said:
            themes[0][row], sentences[0][row] = NO_THEME, writer.none()
    out = pd.DataFrame(index=index)
    for k in range(n_reasons):
        out[f"reason_{k + 1}"] = sentences[k]
    for k in range(n_reasons):
        out[f"reason_{k + 1}_theme"] = themes[k]
    out["theme"] = themes[0]
    out["cause"] = out["theme"].map(table.cause)
    days = (
        features["days_since_last_order"].reindex(index).astype("float64")
        if "days_since_last_order" in features.columns
        else pd.Series(np.nan, index=index)
    )
    segment = segments.reindex(index).astype(str)
    out["action"] = [
        table.action(s, t, None if np.isnan(d) else d)
        for s, t, d in zip(segment, out["theme"], days, strict=True)
    ]
    out["discount_advised"] = discount_advised(out["action"], table, features.reindex(index))
    words = messages(locale)
    out["theme_name"] = out["theme"].map(lambda t: words.text(f"theme.{t}"))
    out["cause_name"] = out["cause"].map(lambda c: words.text(f"cause.{c}"))
    out["action_name"] = out["action"].map(lambda a: words.text(f"action.{a}"))
    out["action_offer"] = out["action"].map(lambda a: words.text(f"action.{a}.offer"))
    return out


def segment_name(key: str, locale: str) -> str:
    """The name of segment ``key`` (``new``, ``regular``, ``dormant``, ``vip``) in
    ``locale``."""
    return messages(check_locale(locale)).text(f"segment.{key}")
