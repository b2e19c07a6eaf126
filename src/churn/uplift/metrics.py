"""How well a score ranks customers by the effect of contacting them, measured on a
randomised campaign: Qini and uplift curves, the Qini coefficient, uplift at k, a
bootstrap comparison of two scores, and what a budget buys under each way of choosing.

The definitions are scikit-uplift's (0.5.1), so the numbers are comparable with published
work: customers are sorted by score, highest first; ties keep scikit-uplift's order (the
reverse of a stable ascending sort, so of two equal scores the later row comes first), and
a curve has one point per distinct score. Checked against scikit-uplift to 1e-16 on the
Hillstrom experiment; the package itself is not a dependency.

Every function takes ``y`` (1 = the outcome happened: kept, visited), ``treatment``
(1 = contacted, 0 = control) and a score, one value per customer.

References
----------
Radcliffe, N. J. (2007). Using control groups to target on predicted lift: building and
assessing uplift models. *Direct Marketing Analytics Journal* 1, 14-21.
Devriendt, F., Guns, T. and Verbeke, W. (2020). Learning to rank for uplift modeling.
arXiv:2002.05897.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

STRATEGIES = ("overall", "by_group")
TARGETINGS = ("uplift", "risk", "random")


def _binary(values: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if not np.isin(array, (0, 1)).all():
        raise ValueError(f"{name} must hold only 0 and 1")
    return array.astype("float64")


def _checked(y: ArrayLike, treatment: ArrayLike, *scores: ArrayLike) -> tuple[np.ndarray, ...]:
    """``y`` and ``treatment`` as 0/1 floats and the scores as arrays, all the same length,
    with both arms present."""
    y_, w = _binary(y, "y"), _binary(treatment, "treatment")
    arrays = [np.asarray(s, dtype="float64") for s in scores]
    if any(len(a) != len(y_) for a in (w, *arrays)):
        raise ValueError(
            f"y, treatment and scores must have the same length, got "
            f"{[len(a) for a in (y_, w, *arrays)]}"
        )
    if w.sum() == 0 or w.sum() == len(w):
        raise ValueError("treatment must have both contacted (1) and control (0) customers")
    return (y_, w, *arrays)


def _descending(score: np.ndarray) -> np.ndarray:
    # The reverse of a stable ascending sort, as scikit-uplift orders ties.
    return np.argsort(score, kind="mergesort")[::-1]


def _cumulative_counts(
    y: np.ndarray, treatment: np.ndarray, score: np.ndarray
) -> tuple[np.ndarray, ...]:
    """At the last customer of each run of equal scores, sorted by score descending: the
    customers targeted so far, and among them the contacted, the control, the contacted
    with the outcome and the control with the outcome."""
    order = _descending(score)
    y, w, s = y[order], treatment[order], score[order]
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]
    n = last + 1
    n_treated = np.cumsum(w)[last]
    y_treated = np.cumsum(y * w)[last]
    y_control = np.cumsum(y * (1 - w))[last]
    return n, n_treated, n - n_treated, y_treated, y_control


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num, dtype="float64"), where=den > 0)


def qini_curve(
    y: ArrayLike, treatment: ArrayLike, uplift: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """The Qini curve of a ranking: incremental outcomes against customers targeted.

    At each distinct score, after targeting the ``x`` customers with the highest scores,
    the curve is ``Y_t - Y_c * N_t / N_c``: the outcomes among the contacted minus those
    among the control, scaled to the contacted's number (``N``: customers, ``Y``:
    customers with the outcome, among the ``x``; the ratio is taken as 0 while there is no
    control customer yet).

    Parameters
    ----------
    y : array-like of 0/1, shape (n,)
        1 = the outcome happened.
    treatment : array-like of 0/1, shape (n,)
        1 = contacted, 0 = control.
    uplift : array-like of float, shape (n,)
        The score customers are ranked by, highest first.

    Returns
    -------
    x : numpy.ndarray of int, shape (m + 1,)
        Customers targeted, from 0 to ``n``, one point per distinct score (``m`` of them).
    qini : numpy.ndarray of float, shape (m + 1,)
        Incremental outcomes at each point, starting at 0.
    """
    y_, w, s = _checked(y, treatment, uplift)
    n, n_t, n_c, y_t, y_c = _cumulative_counts(y_, w, s)
    return np.r_[0, n], np.r_[0.0, y_t - y_c * _ratio(n_t, n_c)]


def uplift_curve(
    y: ArrayLike, treatment: ArrayLike, uplift: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """The uplift curve of a ranking: ``(Y_t / N_t - Y_c / N_c) * x``, the difference of
    the outcome rates among the ``x`` customers with the highest scores, times ``x``.

    A rate is taken as 0 while its arm has no customer yet. Parameters and returns as
    :func:`qini_curve`; it differs from the Qini curve only when the arms are not in the
    same proportion among the top customers as overall.
    """
    y_, w, s = _checked(y, treatment, uplift)
    n, n_t, n_c, y_t, y_c = _cumulative_counts(y_, w, s)
    return np.r_[0, n], np.r_[0.0, (_ratio(y_t, n_t) - _ratio(y_c, n_c)) * n]


def qini_coefficient(y: ArrayLike, treatment: ArrayLike, uplift: ArrayLike) -> float:
    """The area between the ranking's Qini curve and the random line, divided by that of
    the perfect ranking (scikit-uplift's ``qini_auc_score``, ``negative_effect=True``).

    The random line joins (0, 0) to the curve's end; the perfect ranking puts the
    contacted with the outcome first and the control with the outcome last. 0 = no
    better than random, 1 = perfect, negative = worse than random.

    Parameters
    ----------
    y, treatment, uplift : array-like, shape (n,)
        As in :func:`qini_curve`.

    Returns
    -------
    float
        The coefficient; NaN when the perfect ranking is no better than random (no
        customer with the outcome).
    """
    y_, w, s = _checked(y, treatment, uplift)
    n, n_t = len(y_), w.sum()
    y_t, y_c = (y_ * w).sum(), (y_ * (1 - w)).sum()
    end = y_t - y_c * n_t / (n - n_t)
    x, q = qini_curve(y_, w, s)
    random_area = n * end / 2
    perfect_area = np.trapezoid([0.0, y_t, y_t, end], [0.0, y_t, n - y_c, n])
    if perfect_area == random_area:
        return float("nan")
    return float((np.trapezoid(q, x) - random_area) / (perfect_area - random_area))


def _difference_of_means(values: np.ndarray, treatment: np.ndarray) -> float | None:
    contacted, control = treatment == 1, treatment == 0
    if not contacted.any() or not control.any():
        return None
    return float(values[contacted].mean() - values[control].mean())


def uplift_at_k(
    y: ArrayLike,
    treatment: ArrayLike,
    uplift: ArrayLike,
    k: float,
    strategy: Literal["overall", "by_group"] = "overall",
) -> float:
    """Outcome rate of the contacted minus that of the control, among the share ``k`` of
    customers with the highest scores (scikit-uplift's ``uplift_at_k``).

    Parameters
    ----------
    y, treatment, uplift : array-like, shape (n,)
        As in :func:`qini_curve`.
    k : float
        Share of customers, in (0, 1]; the top ``int(k * n)`` count.
    strategy : {"overall", "by_group"}
        ``"overall"``: the top ``int(k * n)`` of all customers, both arms together, then
        the rate of each arm among them. ``"by_group"``: the top ``int(k * n_arm)`` of
        each arm, ranked within the arm.

    Returns
    -------
    float
        The difference of rates, a share (0.05 = 5 points); NaN when the top customers
        hold no customer of one of the arms.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if not 0 < k <= 1:
        raise ValueError(f"k must be a share in (0, 1], got {k}")
    y_, w, s = _checked(y, treatment, uplift)
    order = _descending(s)
    y_, w = y_[order], w[order]
    if strategy == "overall":
        top = int(len(y_) * k)
        difference = _difference_of_means(y_[:top], w[:top])
    else:
        treated, control = y_[w == 1], y_[w == 0]
        top_t, top_c = int(len(treated) * k), int(len(control) * k)
        difference = (
            None
            if top_t == 0 or top_c == 0
            else float(treated[:top_t].mean() - control[:top_c].mean())
        )
    return float("nan") if difference is None else difference


def bootstrap_difference(
    y: ArrayLike,
    treatment: ArrayLike,
    score_a: ArrayLike,
    score_b: ArrayLike,
    n: int = 200,
    seed: int = 0,
) -> dict[str, float]:
    """Bootstrap of the Qini coefficient of ``score_a`` minus that of ``score_b``, both
    measured on the same resamples of the customers.

    Each resample draws, with replacement, as many contacted customers as there are
    among the contacted, and as many control customers among the control: the arms keep
    their sizes, as in the experiment.

    Parameters
    ----------
    y, treatment : array-like of 0/1, shape (n_customers,)
        As in :func:`qini_curve`.
    score_a, score_b : array-like of float, shape (n_customers,)
        The two rankings compared (a constant ``score_b`` is the random line: its Qini
        coefficient is 0).
    n : int
        Number of resamples.
    seed : int
        Seed of the resampling.

    Returns
    -------
    dict
        ``mean``: mean difference over the resamples; ``low``, ``high``: its 2.5% and
        97.5% quantiles (a 95% interval).
    """
    y_, w, a, b = _checked(y, treatment, score_a, score_b)
    rng = np.random.default_rng(seed)
    treated, control = np.flatnonzero(w == 1), np.flatnonzero(w == 0)
    differences = np.empty(n)
    for i in range(n):
        rows = np.r_[
            rng.choice(treated, len(treated), replace=True),
            rng.choice(control, len(control), replace=True),
        ]
        differences[i] = qini_coefficient(y_[rows], w[rows], a[rows]) - qini_coefficient(
            y_[rows], w[rows], b[rows]
        )
    low, high = np.quantile(differences, [0.025, 0.975])
    return {"mean": float(differences.mean()), "low": float(low), "high": float(high)}


def budget_table(
    y: ArrayLike,
    treatment: ArrayLike,
    uplift: ArrayLike,
    risk: ArrayLike,
    value: ArrayLike,
    shares: Sequence[float] = (0.05, 0.1, 0.2, 0.3, 0.5),
) -> list[dict[str, float | int | str | None]]:
    """What contacting a share of the customers buys, chosen three ways, estimated from a
    randomised campaign.

    For each share, ``k = int(share * n)`` customers are chosen by the model's uplift
    (highest first), by churn risk (highest first) or at random. Among the chosen, the
    customers kept thanks to the contact are ``(rate of y among the contacted - rate
    among the control) * k``, and the revenue gained is ``(mean value of the contacted -
    mean value of the control) * k``. At random, both differences are those of all the
    customers (the average effect) times ``k``.

    Parameters
    ----------
    y, treatment : array-like of 0/1, shape (n,)
        As in :func:`qini_curve`; for churn, ``y`` = kept.
    uplift : array-like of float, shape (n,)
        The model's predicted uplift.
    risk : array-like of float, shape (n,)
        Churn probability (or any score a risk-ranked list is sorted by).
    value : array-like of float, shape (n,)
        Each customer's realised revenue over the outcome window, in money.
    shares : sequence of float
        Shares of the customers, each in (0, 1].

    Returns
    -------
    list of dict
        One row per share and way of choosing, the shares in the order given and, within
        a share, ``uplift``, ``risk``, ``random``. Keys: ``share``, ``customers`` (k),
        ``targeting``, ``contacted`` and ``control`` (the customers of each arm the
        estimate rests on: among the chosen, or all of them at random), ``kept``,
        ``revenue``. ``kept`` and ``revenue`` are ``None`` when the chosen customers hold
        no customer of one of the arms.
    """
    y_, w, up, rk, v = _checked(y, treatment, uplift, risk, value)
    n = len(y_)
    rows: list[dict[str, float | int | str | None]] = []
    for share in shares:
        if not 0 < share <= 1:
            raise ValueError(f"shares must be in (0, 1], got {share}")
        k = int(n * share)
        for targeting in TARGETINGS:
            if targeting == "random":
                chosen = np.arange(n)
            else:
                chosen = _descending(up if targeting == "uplift" else rk)[:k]
            kept = _difference_of_means(y_[chosen], w[chosen])
            revenue = _difference_of_means(v[chosen], w[chosen])
            rows.append(
                {
                    "share": float(share),
                    "customers": k,
                    "targeting": targeting,
                    "contacted": int(w[chosen].sum()),
                    "control": int(len(chosen) - w[chosen].sum()),
                    "kept": None if kept is None else kept * k,
                    "revenue": None if revenue is None else revenue * k,
                }
            )
    return rows
