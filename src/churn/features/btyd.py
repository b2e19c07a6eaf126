"""Buy-till-you-die: the BG/NBD model of Fader, Hardie and Lee (2005), fitted by maximum
likelihood.

Each customer buys at a Poisson rate ``lambda ~ Gamma(r, alpha)`` while alive and, after
each purchase, drops out with probability ``p ~ Beta(a, b)``. The model sees only each
customer's repeat purchases ``x``, the time of the last one ``t_x`` and the age ``T``
(time since the first purchase), all in days here.

From the fitted parameters it gives, per customer, the probability of *no* purchase in
the next ``t`` days (a churn score: it counts both customers who left and customers who
are merely slow) and the expected number of purchases in that window. It does not use
"probability alive", which is 1 for every one-time buyer and ranks churn poorly.

This module is plain NumPy/SciPy; the likelihood, the conditional expectation and the
probability are the closed forms of the 2005 paper (equations 6 and 10), with the
zero-purchase probability derived in the docstring of :func:`p_no_purchase`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, digamma, gammaln, hyp2f1

log = logging.getLogger(__name__)

# Bounds of the optimiser on the log parameters (r, alpha, a, b): e^-10 to e^10 (alpha
# e^15, for time scales in days). A fit that ends on one is no interior optimum.
_LOG_BOUNDS = ((-10.0, 10.0), (-10.0, 15.0), (-10.0, 10.0), (-10.0, 10.0))
_AT_BOUND = 1e-3


@dataclass(frozen=True)
class BetaGeoParams:
    """Fitted BG/NBD parameters (time unit: days unless you fitted in another unit)."""

    r: float
    alpha: float
    a: float
    b: float


def _log_likelihood(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> float:
    r, alpha, a, b = np.exp(params)
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    alive = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        dropped = np.where(
            x > 0,
            betaln(a + 1, b + x - 1) - betaln(a, b) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return float(np.sum(common + np.logaddexp(alive, dropped)))


def _log_likelihood_and_gradient(
    params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> tuple[float, np.ndarray]:
    """Total log-likelihood and its gradient with respect to the log parameters."""
    r, alpha, a, b = np.exp(params)
    repeat = x > 0
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    log_a_t = np.log(alpha + T)
    log_a_tx = np.log(alpha + t_x)
    alive = betaln(a, b + x) - betaln(a, b) - (r + x) * log_a_t
    with np.errstate(divide="ignore", invalid="ignore"):
        dropped = np.where(
            repeat, betaln(a + 1, b + x - 1) - betaln(a, b) - (r + x) * log_a_tx, -np.inf
        )
    both = np.logaddexp(alive, dropped)
    w_alive, w_dropped = np.exp(alive - both), np.exp(dropped - both)

    psi_ab, psi_abx = digamma(a + b), digamma(a + b + x)
    with np.errstate(divide="ignore", invalid="ignore"):
        psi_bx1 = np.where(repeat, digamma(b + x - 1), 0.0)
    d_r = digamma(r + x) - digamma(r) + np.log(alpha) - w_alive * log_a_t - w_dropped * log_a_tx
    d_alpha = r / alpha - (r + x) * (w_alive / (alpha + T) + w_dropped / (alpha + t_x))
    d_a = w_alive * (psi_ab - psi_abx) + w_dropped * (
        digamma(a + 1) - psi_abx - digamma(a) + psi_ab
    )
    d_b = w_alive * (digamma(b + x) - psi_abx - digamma(b) + psi_ab) + np.where(
        repeat, w_dropped * (psi_bx1 - psi_abx - digamma(b) + psi_ab), 0.0
    )
    gradient = np.array([d_r.sum() * r, d_alpha.sum() * alpha, d_a.sum() * a, d_b.sum() * b])
    return float(np.sum(common + both)), gradient


def fit_bgnbd(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> BetaGeoParams:
    """Maximum-likelihood BG/NBD parameters.

    Parameters
    ----------
    x : array
        Repeat purchases per customer (purchases minus one).
    t_x : array
        Time from the first to the last purchase (0 when ``x == 0``).
    T : array
        Time from the first purchase to the end of the observation period.
    """
    x, t_x, T = (np.asarray(v, dtype="float64") for v in (x, t_x, T))
    scale = max(float(np.mean(T)), 1.0)  # start near the data's time scale
    start = np.log([1.0, scale, 1.0, 1.0])

    def objective(p: np.ndarray) -> tuple[float, np.ndarray]:
        value, gradient = _log_likelihood_and_gradient(p, x, t_x, T)
        return -value / len(x), -gradient / len(x)

    # Imported here: scipy.optimize costs about 0.4 s to import, and every command loads
    # this module through the settings, most without fitting anything.
    from scipy.optimize import minimize

    result = minimize(
        objective,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=list(_LOG_BOUNDS),
        # Tight tolerances: the optimum, not the optimiser's path, should set the features.
        options={"ftol": 1e-14, "gtol": 1e-10, "maxiter": 2000},
    )
    r, alpha, a, b = np.exp(result.x)
    params = BetaGeoParams(float(r), float(alpha), float(a), float(b))
    at_bounds = parameters_at_bounds(params)
    if at_bounds:
        log.warning(
            "BG/NBD fit on %d customers is degenerate: %s at the optimiser's bounds%s; "
            "read bgnbd_p_no_order, bgnbd_expected_orders and the BG/NBD baseline with care "
            "(features.btyd.enabled=false drops the features)",
            len(x),
            ", ".join(at_bounds),
            ": the dropout probability is pushed to 0 (no sign of customers leaving after "
            "a purchase), so the model reduces to a purchase rate"
            if any(p.startswith(("a=", "b=")) for p in at_bounds)
            else "",
        )
    return params


def parameters_at_bounds(params: BetaGeoParams) -> list[str]:
    """The fitted parameters that ended on a bound of the optimiser, as ``name=value``
    (empty for an interior optimum)."""
    values = {"r": params.r, "alpha": params.alpha, "a": params.a, "b": params.b}
    found = []
    for (name, value), (low, high) in zip(values.items(), _LOG_BOUNDS, strict=True):
        logged = np.log(value)
        if logged - low < _AT_BOUND or high - logged < _AT_BOUND:
            found.append(f"{name}={value:.3g}")
    return found


def log_likelihood(params: BetaGeoParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> float:
    """Total log-likelihood of the data under ``params``."""
    p = np.log([params.r, params.alpha, params.a, params.b])
    return _log_likelihood(p, *(np.asarray(v, dtype="float64") for v in (x, t_x, T)))


def _p_alive(params: BetaGeoParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        odds_dead = np.where(
            x > 0,
            a / (b + x - 1) * np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + t_x))),
            0.0,
        )
    return 1.0 / (1.0 + odds_dead)


def p_no_purchase(
    params: BetaGeoParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, t: float
) -> np.ndarray:
    """Probability of no purchase in ``(T, T + t]``.

    A dead customer never buys; an alive one has a posterior rate
    ``Gamma(r + x, alpha + T)`` and, since dropout happens only right after a purchase,
    stays alive until their next purchase. So
    ``P = 1 - P(alive) + P(alive) * ((alpha + T) / (alpha + T + t)) ** (r + x)``.
    """
    x, t_x, T = (np.asarray(v, dtype="float64") for v in (x, t_x, T))
    alive = _p_alive(params, x, t_x, T)
    stay_quiet = np.exp((params.r + x) * (np.log(params.alpha + T) - np.log(params.alpha + T + t)))
    return 1.0 - alive + alive * stay_quiet


def expected_purchases(
    params: BetaGeoParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, t: float
) -> np.ndarray:
    """Expected purchases in ``(T, T + t]`` (Fader, Hardie and Lee 2005, equation 10)."""
    x, t_x, T = (np.asarray(v, dtype="float64") for v in (x, t_x, T))
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    z = t / (alpha + T + t)
    ratio = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t)))
    numerator = (a + b + x - 1) / (a - 1) * (1 - ratio * hyp2f1(r + x, b + x, a + b + x - 1, z))
    return numerator * _p_alive(params, x, t_x, T)
