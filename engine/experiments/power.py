"""How many cases (and days) a decision needs: statsmodels' power analysis, made sequential.

`NormalIndPower` answers for a fixed-sample test looked at once. The page looks at any time,
through a confidence sequence whose boundary is wider than 1.96 standard errors, so the
sequential figure solves  |effect| / se(n) = multiplier(n) + z(power)  for n instead (scipy
brentq); both are shown, the sequential one decides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize
from scipy import stats as sps
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from engine.experiments import sequential

MAX_CASES = 10_000_000  # per arm; beyond that the effect is too small to chase


@dataclass(frozen=True)
class Need:
    """Cases per arm to detect an effect at the given power, fixed-sample and sequential."""

    fixed_per_arm: int | None
    sequential_per_arm: int | None


def _fixed(effect_size: float, alpha: float, power: float) -> int | None:
    if effect_size == 0 or not math.isfinite(effect_size):
        return None
    n = NormalIndPower().solve_power(
        effect_size=abs(effect_size), alpha=alpha, power=power, ratio=1.0
    )
    n = float(np.asarray(n).item())
    return math.ceil(n) if math.isfinite(n) and n <= MAX_CASES else None


def _sequential(effect_size: float, alpha: float, power: float, planned: float) -> int | None:
    """Per arm n where a standardised effect clears the boundary with the given power."""
    if effect_size == 0 or not math.isfinite(effect_size):
        return None
    z_power = sps.norm.ppf(power)

    def gap(n: float) -> float:  # se of a standardised difference with n per arm: sqrt(2/n)
        return (
            abs(effect_size) / math.sqrt(2 / n)
            - float(sequential.multiplier(2 * n, planned, alpha))
            - z_power
        )

    if gap(MAX_CASES) < 0:
        return None
    if gap(2) >= 0:
        return 2
    return math.ceil(optimize.brentq(gap, 2, MAX_CASES))


def cases_for_effect(
    effect_size: float,
    alpha: float = 0.05,
    power: float = 0.8,
    planned: float = sequential.DEFAULT_PLANNED_CASES,
) -> Need:
    """Cases per arm for a standardised effect (Cohen's d or h)."""
    return Need(_fixed(effect_size, alpha, power), _sequential(effect_size, alpha, power, planned))


def rate_effect(base: float, lifted: float) -> float:
    """Cohen's h between two paid rates (statsmodels proportion_effectsize)."""
    return float(proportion_effectsize(lifted, base))


@dataclass(frozen=True)
class PowerRow:
    """One line of the power table: an effect, the cases per arm it needs, and the days."""

    lift: float  # relative, e.g. 0.10 = the variant's paid rate 10 % higher
    base_rate: float
    lifted_rate: float
    need: Need
    days: float | None  # at the observed exposures per day and arm; None when unknown


def power_table(
    base_rate: float,
    per_arm_per_day: float,
    lifts: tuple[float, ...] = (0.05, 0.10, 0.20, 0.30),
    alpha: float = 0.05,
    power: float = 0.8,
    planned: float = sequential.DEFAULT_PLANNED_CASES,
) -> list[PowerRow]:
    """For each relative lift of the paid rate: cases per arm and days at this volume."""
    rows = []
    for lift in lifts:
        lifted = min(base_rate * (1 + lift), 0.999)
        if not 0 < base_rate < 1:
            need = Need(None, None)
        else:
            need = cases_for_effect(rate_effect(base_rate, lifted), alpha, power, planned)
        cases = need.sequential_per_arm
        days = cases / per_arm_per_day if cases and per_arm_per_day > 0 else None
        rows.append(PowerRow(lift, base_rate, lifted, need, days))
    return rows


def standardised(control: np.ndarray, variant: np.ndarray) -> float:
    """Cohen's d of two samples (pooled standard deviation); 0 when there is no spread."""
    if len(control) < 2 or len(variant) < 2:
        return 0.0
    pooled = math.sqrt((np.var(control, ddof=1) + np.var(variant, ddof=1)) / 2)
    return float((np.mean(variant) - np.mean(control)) / pooled) if pooled > 0 else 0.0
