"""Turning probabilities into a marketer's list: risk tiers and segments (reasons, causes
and actions are in :mod:`churn.scoring.themes`; the names in each language are in the
lists catalogs of :mod:`churn.text`)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn.errors import ConfigError


def risk_tier(p_churn: np.ndarray, thresholds: Mapping[str, float]) -> np.ndarray:
    """Name the risk tier of each probability.

    Parameters
    ----------
    p_churn : array of float
        Churn probabilities.
    thresholds : mapping of tier name to lower bound
        A probability gets the tier with the highest bound it reaches; below every bound
        it is ``"low"``. Example: ``{"high": 0.7, "medium": 0.4}``.
    """
    p = np.asarray(p_churn, dtype="float64")
    tiers = np.full(p.shape, "low", dtype=object)
    for name, bound in sorted(thresholds.items(), key=lambda kv: kv[1]):
        tiers[p >= bound] = name
    return tiers


# The marketing segments, in the order pages show them (their names in each language are
# segment.<key> in the lists catalogs; their actions per theme in conf/actions/).
SEGMENTS = ("new", "regular", "dormant", "vip")


@dataclass(frozen=True)
class SegmentRules:
    """How customers are put into :data:`SEGMENTS` (``score.segments``), the same in
    training (segment metrics) and scoring (the list).

    Attributes
    ----------
    new_max_tenure_days : int
        A customer whose first order is younger than this is ``new``.
    dormant_min_days : int
        A customer without an order for this many days or more is ``dormant``.
    vip_spend_quantile : float
        A customer whose ``spend_365d`` reaches this quantile of the scored population's
        is ``vip``.
    """

    new_max_tenure_days: int
    dormant_min_days: int
    vip_spend_quantile: float

    def vip_min_spend(self, features: pd.DataFrame) -> float:
        """The ``spend_365d`` from which a customer of ``features`` is a VIP."""
        return float(features["spend_365d"].quantile(self.vip_spend_quantile))

    def assign(self, features: pd.DataFrame) -> pd.Series:
        """The segment of each customer of ``features`` (see :func:`assign_segments`)."""
        return assign_segments(
            features,
            new_max_tenure_days=self.new_max_tenure_days,
            dormant_min_days=self.dormant_min_days,
            vip_min_spend_365d=self.vip_min_spend(features),
        )


def assign_segments(
    features: pd.DataFrame,
    new_max_tenure_days: int,
    dormant_min_days: int,
    vip_min_spend_365d: float,
) -> pd.Series:
    """Marketing segment of each customer, first rule that matches wins.

    1. ``new``: first order less than ``new_max_tenure_days`` ago;
    2. ``vip``: ``spend_365d`` at least ``vip_min_spend_365d``;
    3. ``dormant``: no order for ``dormant_min_days`` or more;
    4. ``regular``: everyone else.
    """
    segment = np.select(
        [
            features["tenure_days"] < new_max_tenure_days,
            features["spend_365d"] >= vip_min_spend_365d,
            features["days_since_last_order"] >= dormant_min_days,
        ],
        ["new", "vip", "dormant"],
        default="regular",
    )
    return pd.Series(segment, index=features.index, name="segment")


FORMULA_PREFIXES = ("=", "+", "-", "@")
# C0 and C1 control characters: a CR or LF inside a cell splits the row in spreadsheets
# that do not honour quoting, and a NUL or tab can hide what follows.
CONTROL_CHARACTERS = r"[\x00-\x1f\x7f-\x9f]"
REPLACEMENT = "\ufffd"


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells made safe to open in a spreadsheet; numeric columns stay numbers.

    Every control character inside a text cell (tab, carriage return, line feed, NUL, ...)
    becomes U+FFFD, so no cell can split a row; then a cell whose first non-blank character
    is ``=``, ``+``, ``-`` or ``@`` gets a leading apostrophe, as OWASP's CSV-injection
    guidance advises.
    """
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_numeric_dtype(out[column]):
            continue
        text = out[column].astype("string")
        controlled = text.str.contains(CONTROL_CHARACTERS, regex=True).fillna(False).astype(bool)
        if controlled.any():
            text = text.str.replace(CONTROL_CHARACTERS, REPLACEMENT, regex=True)
        risky = text.str.lstrip().str.startswith(FORMULA_PREFIXES).fillna(False).astype(bool)
        if controlled.any() or risky.any():
            out[column] = text.where(~risky, "'" + text).astype(object)
    return out


@dataclass(frozen=True)
class SelectionPolicy:
    """Who makes the at-risk list (``score.*``; see :func:`select_at_risk`).

    Attributes
    ----------
    mode : str
        ``share``, ``tiers``, ``top_k``, ``budget`` or ``uplift``.
    tiers : mapping of str to float
        Risk tier name to its lower bound (see :func:`risk_tier`).
    at_risk_tiers : tuple of str
        The tiers listed in ``tiers`` mode.
    top_k : int or None
        How many customers ``top_k`` mode lists.
    budget, cost_per_contact : float
        ``budget`` mode lists ``floor(budget / cost_per_contact)`` customers.
    share : float or None
        ``share`` mode lists this share of the scored customers (rounded up).
    """

    mode: str
    tiers: Mapping[str, float]
    at_risk_tiers: tuple[str, ...]
    top_k: int | None
    budget: float | None
    cost_per_contact: float
    share: float | None = None

    def tier(self, p_churn: np.ndarray) -> np.ndarray:
        """The risk tier of each probability."""
        return risk_tier(p_churn, dict(self.tiers))

    def select(self, scores: pd.DataFrame, population: int | None = None) -> pd.DataFrame:
        """The listed rows of ``scores`` (see :func:`select_at_risk`); ``population`` is
        the number of customers scored, of which ``share`` mode lists its share (default:
        the rows of ``scores``)."""
        return select_at_risk(
            scores,
            self.mode,
            list(self.at_risk_tiers),
            top_k=self.top_k,
            budget=self.budget,
            cost_per_contact=self.cost_per_contact,
            known_tiers=[*self.tiers, "low"],
            share=self.share,
            population=population,
        )

    def empty_reason(self, wanted: int, highest_probability: float | None) -> dict[str, object]:
        """Why the list is empty (see :func:`empty_list_reason`), ``wanted`` being the
        customers it would hold with everyone contactable."""
        listed = [self.tiers[t] for t in self.at_risk_tiers if t in self.tiers]
        return empty_list_reason(
            self.mode,
            wanted=wanted,
            top_k=self.top_k,
            budget=self.budget,
            cost_per_contact=self.cost_per_contact,
            share=self.share,
            highest_probability=highest_probability,
            lowest_listed_bound=min(listed) if listed else None,
        )


def expected_value_at_risk(p_churn: np.ndarray, spend_365d: np.ndarray) -> np.ndarray:
    """Churn probability times the expected spend of the next year, estimated as the
    customer's net spend of the last 365 days (floored at 0)."""
    return np.asarray(p_churn, dtype="float64") * np.clip(
        np.asarray(spend_365d, dtype="float64"), 0, None
    )


def expected_incremental_value(uplift: np.ndarray, spend_365d: np.ndarray) -> np.ndarray:
    """What contacting a customer is expected to keep: their uplift (how much a contact
    raises their chance of staying) times the expected spend of the next year, estimated as
    their net spend of the last 365 days (floored at 0)."""
    return np.asarray(uplift, dtype="float64") * np.clip(
        np.asarray(spend_365d, dtype="float64"), 0, None
    )


def rank_by_uplift(scores: pd.DataFrame) -> pd.DataFrame:
    """The customers a contact is expected to win, most expected incremental value first
    (ties by ``customer_id``); a customer whose uplift is not above 0 is never on it."""
    winnable = scores[scores["uplift"] > 0]
    return winnable.sort_values(
        ["expected_incremental_value", "customer_id"], ascending=[False, True], kind="stable"
    )


def rank_by_value(scores: pd.DataFrame) -> pd.DataFrame:
    """``scores`` in list order: most expected value at risk first, ties by
    ``customer_id``."""
    return scores.sort_values(
        ["expected_value_at_risk", "customer_id"], ascending=[False, True], kind="stable"
    )


def select_at_risk(
    scores: pd.DataFrame,
    mode: str,
    at_risk_tiers: list[str],
    top_k: int | None = None,
    budget: float | None = None,
    cost_per_contact: float = 1.0,
    known_tiers: Iterable[str] = ("high", "medium", "low"),
    share: float | None = None,
    population: int | None = None,
) -> pd.DataFrame:
    """The at-risk list, most expected value at risk first (ties by ``customer_id``).

    ``mode`` is ``share`` (the ``ceil(share * population)`` rows with most value at risk,
    ``population`` defaulting to the rows of ``scores``), ``tiers`` (rows whose
    ``risk_tier`` is in ``at_risk_tiers``), ``top_k`` (the ``top_k`` rows with most value
    at risk), ``budget`` (``floor(budget / cost_per_contact)`` of them) or ``uplift`` (as
    many as ``budget`` buys when set, else the share, by expected incremental value among
    the customers with a positive ``uplift``; see :func:`rank_by_uplift`). ``scores``
    needs ``customer_id``, ``risk_tier`` and
    ``expected_value_at_risk``; ``known_tiers`` are the tier names ``at_risk_tiers`` may
    use (a misspelled one is a :class:`ConfigError`, not an empty list).
    """
    unknown = sorted(set(at_risk_tiers) - set(known_tiers))
    if mode == "tiers" and unknown:
        raise ConfigError(
            f"score.at_risk_tiers names unknown tiers {unknown}: the tiers are "
            f"{sorted(known_tiers)}"
        )
    if mode == "uplift":
        ranked = rank_by_uplift(scores)
        if budget is not None and budget >= 0 and cost_per_contact > 0:
            return ranked.head(int(budget // cost_per_contact))
        if share is not None and 0 <= share <= 1:
            return ranked.head(list_size(share, len(scores) if population is None else population))
    ranked = rank_by_value(scores)
    if mode == "tiers":
        return ranked[ranked["risk_tier"].isin(at_risk_tiers)]
    if mode == "share" and share is not None and 0 <= share <= 1:
        return ranked.head(list_size(share, len(scores) if population is None else population))
    if mode == "top_k" and top_k is not None and top_k >= 0:
        return ranked.head(int(top_k))
    if mode == "budget" and budget is not None and budget >= 0 and cost_per_contact > 0:
        return ranked.head(int(budget // cost_per_contact))
    raise ConfigError(
        "score.selection must be share (with 0 <= score.share <= 1), tiers, top_k (with "
        "score.top_k >= 0), budget (with score.budget >= 0 and score.cost_per_contact > 0) "
        "or uplift (with score.budget or score.share); "
        f"got {mode!r}"
    )


def empty_list_reason(
    mode: str,
    wanted: int,
    top_k: int | None,
    budget: float | None,
    cost_per_contact: float,
    highest_probability: float | None,
    lowest_listed_bound: float | None,
    share: float | None = None,
) -> dict[str, object]:
    """Why the at-risk list is empty: a ``code`` and the figures that explain it.

    Codes: ``share_zero`` (``score.share=0``), ``top_k_zero`` (``score.top_k=0``),
    ``budget_too_small`` (the budget buys no contact), ``no_one_in_tiers`` (no churn
    probability reaches the listed tiers; with ``highest_probability`` and
    ``lowest_listed_bound``), ``all_left_out`` (the ``wanted`` customers chosen were all
    left out for consent), ``no_one_scored``.
    """
    if wanted > 0:
        return {"code": "all_left_out", "customers": wanted}
    if mode in ("share", "uplift") and not share and budget is None:
        return {"code": "share_zero"}
    if mode == "top_k" and top_k == 0:
        return {"code": "top_k_zero"}
    if mode == "budget":
        return {"code": "budget_too_small", "budget": budget, "cost_per_contact": cost_per_contact}
    if highest_probability is None:
        return {"code": "no_one_scored"}
    return {
        "code": "no_one_in_tiers",
        "highest_probability": round(float(highest_probability), 4),
        "lowest_listed_bound": lowest_listed_bound,
    }


def list_size(share: float, population: int) -> int:
    """How many of ``population`` customers a list of ``share`` holds: rounded up, so that
    any share above 0 lists at least one customer. A tolerance keeps ``0.1 * 50`` at 5."""
    return min(population, math.ceil(share * population - 1e-9)) if share > 0 else 0


# The list sizes the summary compares, as shares of the customers scored.
TRADE_OFF_SHARES = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)


def list_size_tradeoff(
    p_churn_ranked: np.ndarray,
    value_ranked: np.ndarray,
    population: int,
    chosen: int,
    shares: Iterable[float] = TRADE_OFF_SHARES,
) -> list[dict[str, object]]:
    """What lists of growing size reach, from calibrated churn probabilities.

    ``p_churn_ranked`` and ``value_ranked`` hold the churn probabilities and expected values
    at risk of the customers who may be contacted, in list order (most value at risk
    first); a list of ``k`` customers is their first ``k``. For each size (each share of
    ``population`` and the ``chosen`` size): the customers on the list, the leavers it is
    expected to reach (the sum of their probabilities), the contacts expected to go to
    customers who would have stayed anyway (``k`` minus that), and the shares of all
    expected leavers and of all value at risk it reaches. Calibrated probabilities make
    these expected counts, not counts of known leavers.
    """
    p = np.asarray(p_churn_ranked, dtype="float64")
    reached = np.concatenate([[0.0], np.cumsum(p)])
    value = np.concatenate([[0.0], np.cumsum(np.asarray(value_ranked, dtype="float64"))])
    total, total_value = float(reached[-1]), float(value[-1])
    sizes = {min(list_size(s, population), len(p)): s for s in shares}
    sizes.setdefault(min(chosen, len(p)), None)
    rows = []
    for k in sorted(sizes):
        leavers = float(reached[k])
        rows.append(
            {
                "share": sizes[k],
                "customers": int(k),
                "expected_leavers": round(leavers, 1),
                "would_stay": round(k - leavers, 1),
                "leavers_reached_share": round(leavers / total, 4) if total > 0 else 0.0,
                "value_at_risk": round(float(value[k]), 2),
                "value_reached_share": (
                    round(float(value[k]) / total_value, 4) if total_value > 0 else 0.0
                ),
                "chosen": k == min(chosen, len(p)),
            }
        )
    return rows
