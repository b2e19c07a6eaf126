"""The intervals the outcomes report: a rate, the difference of two rates, the difference
of two means; all at 95%, from SciPy where it has them.

References
----------
Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
inference. *JASA* 22(158), 209-212.
Newcombe, R. G. (1998). Interval estimation for the difference between independent
proportions: comparison of eleven methods. *Statistics in Medicine* 17(8), 873-890
(method 10, the hybrid score interval built from two Wilson intervals).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

LEVEL = 0.95


def rate_interval(events: int, total: int) -> tuple[float | None, float | None]:
    """Wilson's 95% interval of the rate ``events / total`` (``None`` without rows)."""
    if total <= 0:
        return None, None
    ci = stats.binomtest(int(events), int(total)).proportion_ci(LEVEL, method="wilson")
    return float(ci.low), float(ci.high)


def rate(events: int, total: int) -> dict[str, Any]:
    """A rate with its Wilson interval: ``value``, ``low``, ``high`` (``None`` without
    rows)."""
    low, high = rate_interval(events, total)
    return {"value": events / total if total else None, "low": low, "high": high}


def difference_of_rates(
    events_a: int, total_a: int, events_b: int, total_b: int
) -> dict[str, float | None]:
    """``rate_a - rate_b`` with Newcombe's hybrid score 95% interval (method 10): it keeps
    its coverage with few events, where the textbook normal interval does not."""
    if total_a <= 0 or total_b <= 0:
        return {"difference": None, "low": None, "high": None}
    p_a, p_b = events_a / total_a, events_b / total_b
    low_a, high_a = rate_interval(events_a, total_a)
    low_b, high_b = rate_interval(events_b, total_b)
    assert low_a is not None and high_a is not None and low_b is not None and high_b is not None
    d = p_a - p_b
    return {
        "difference": d,
        "low": d - math.sqrt((p_a - low_a) ** 2 + (high_b - p_b) ** 2),
        "high": d + math.sqrt((high_a - p_a) ** 2 + (p_b - low_b) ** 2),
    }


def difference_of_means(a: np.ndarray, b: np.ndarray) -> dict[str, float | None]:
    """``mean(a) - mean(b)`` with Welch's 95% interval (unequal variances); ``None``
    bounds with fewer than two values on a side, or no spread at all."""
    a, b = np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
    if len(a) == 0 or len(b) == 0:
        return {"difference": None, "low": None, "high": None}
    d = float(a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2 or (a.var() == 0 and b.var() == 0):
        return {"difference": d, "low": None, "high": None}
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(LEVEL)
    return {"difference": d, "low": float(ci.low), "high": float(ci.high)}
