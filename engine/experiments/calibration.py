"""The A/A and A/B checks of the decision rule, vectorised: many experiments, a look every day.

Each simulated experiment exposes `per_day` cases per arm per day; a case pays with probability
`paid_rate` (arm B: times `1 + lift`) and then pays a log-normal amount (median about 100).
Every day the decision rule of engine.experiments.report looks at the amount collected per case
(the same standard error and the same confidence-sequence boundary as
`stats.mean_difference`) and declares a winner when the interval excludes zero. The share of
experiments that ever declared one is the false-positive rate (A/A) or the power (A/B). The
fixed-sample z-test looked at daily is computed beside it for contrast. The test suite and
bench/experiments_aa.py call this one function, so they report the same figures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from engine.experiments import sequential


@dataclass(frozen=True)
class PeekingResult:
    """How many of the simulated experiments ever declared a winner, by rule."""

    experiments: int
    days: int
    per_day: int
    sequential_share: float  # the always-valid rule: what the page uses
    fixed_share: float  # a fixed-sample z-test looked at every day: what not to do
    final_sequential_share: float  # the always-valid rule at the last day only


def _daily_sums(
    rng: np.random.Generator, shape: tuple[int, int], per_day: int, paid_rate: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per experiment and day: the sum and the sum of squares of amounts collected per case."""
    amounts = rng.lognormal(4.6, 0.8, size=(*shape, per_day))
    paid = rng.random(size=(*shape, per_day)) < paid_rate
    values = np.where(paid, amounts, 0.0)
    return values.sum(axis=2), (values**2).sum(axis=2)


def peeking(
    experiments: int = 1000,
    days: int = 30,
    per_day: int = 50,
    paid_rate: float = 0.3,
    lift: float = 0.0,
    alpha: float = 0.05,
    planned: float = sequential.DEFAULT_PLANNED_CASES,
    seed: int = 2026,
) -> PeekingResult:
    """Simulate `experiments` A/B tests (A/A with lift 0) looked at once a day for `days`."""
    rng = np.random.default_rng(seed)
    shape = (experiments, days)
    sum_a, sq_a = _daily_sums(rng, shape, per_day, paid_rate)
    sum_b, sq_b = _daily_sums(rng, shape, per_day, paid_rate * (1 + lift))
    n = per_day * np.arange(1, days + 1)  # cases per arm after each day
    mean_a, mean_b = sum_a.cumsum(axis=1) / n, sum_b.cumsum(axis=1) / n
    var_a = (sq_a.cumsum(axis=1) - n * mean_a**2) / (n - 1)
    var_b = (sq_b.cumsum(axis=1) - n * mean_b**2) / (n - 1)
    se = np.sqrt(var_a / n + var_b / n)
    diff = np.abs(mean_b - mean_a)
    width = sequential.half_width(se, 2 * n, planned, alpha)
    fixed = sps.norm.ppf(1 - alpha / 2) * se
    return PeekingResult(
        experiments=experiments,
        days=days,
        per_day=per_day,
        sequential_share=float((diff > width).any(axis=1).mean()),
        fixed_share=float((diff > fixed).any(axis=1).mean()),
        final_sequential_share=float((diff[:, -1] > width[:, -1]).mean()),
    )
