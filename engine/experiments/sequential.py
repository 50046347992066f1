"""Always-valid intervals: an asymptotic confidence sequence with the normal-mixture boundary.

For an estimate whose error is (asymptotically) Gaussian with variance V = se², Robbins' normal
mixture martingale gives a boundary that holds at every look at once (Howard, Ramdas, McAuliffe
& Sekhon 2021, "Time-uniform, nonparametric, nonasymptotic confidence sequences", Ann. Statist.
49(2)); with variances estimated from the data it is an *asymptotic* confidence sequence
(Waudby-Smith, Arnold, Wu, Zhang & Ramdas 2024, "Time-uniform central limit theory and
asymptotic confidence sequences", Ann. Statist. 52(6), Theorem 2.2 and eq. (2.6)). In
information units I = 1/V, with the mixture's tuning rho2 = r / I* (r below), the boundary

    |estimate - truth| <= (1/I) * sqrt( (1 + rho2*I) / rho2 * 2*log( sqrt(1 + rho2*I) / alpha ) )

holds for all looks at once with probability >= 1 - alpha. The tuning r = -2 log(alpha) +
log(1 - 2 log(alpha)) makes the boundary tightest at the planned information I* (Waudby-Smith
et al., eq. (2.6)). Because V shrinks like 1/n, I/I* = n/n* (the cases seen over the cases
planned) and the boundary becomes se * multiplier(n/n*): a critical value like 1.96 that
depends only on how far the experiment is, never on the data. At n = n* and alpha 5 % it is
3.04; at n = n*/10 it is 3.86; at 10 n* it is 3.24.

Looking at the page every day therefore does not inflate false positives, unlike a fixed-sample
z-test (29 % false positives for 30 daily looks at alpha 5 %, ARCHITECTURE.md).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

DEFAULT_PLANNED_CASES = 4000  # both arms of one comparison together (n*), see docs/experiments.md


def tuning(alpha: float) -> float:
    """r in rho2 = r / I*: the mixture is tightest at the planned sample."""
    if not 0 < alpha < 1:
        raise ValueError("alpha must lie between 0 and 1")
    two_log = -2 * math.log(alpha)
    return two_log + math.log(1 + two_log)


def multiplier(cases: ArrayLike, planned: float, alpha: float) -> np.ndarray:
    """The boundary in standard errors after `cases` of `planned` cases (vectorised)."""
    if planned <= 0:
        raise ValueError("the planned number of cases must be positive")
    u = np.asarray(cases, dtype=float) / planned
    grow = 1 + tuning(alpha) * u
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.sqrt(grow / (grow - 1) * 2 * np.log(np.sqrt(grow) / alpha))
    return np.where(u > 0, value, np.inf)


def half_width(se: ArrayLike, cases: ArrayLike, planned: float, alpha: float) -> np.ndarray:
    """The confidence sequence's half width for an estimate with standard error `se`."""
    se = np.asarray(se, dtype=float)
    width = se * multiplier(cases, planned, alpha)
    # No spread yet (no data, or every outcome equal so far): nothing can be said.
    return np.where(se > 0, width, np.inf)


def interval(
    estimate: float, se: float, cases: float, planned: float, alpha: float
) -> tuple[float, float]:
    """The always-valid interval (low, high) around `estimate`."""
    width = float(half_width(se, cases, planned, alpha))
    return estimate - width, estimate + width
