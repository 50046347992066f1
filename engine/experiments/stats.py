"""The numbers of an experiment page, each from a well-kept library where one exists.

Inputs are `ArmOutcomes` columns; amounts come in as integer minor units and leave as floats of
major units only for the statistics (estimates are not money that is booked). Every function
is pure and documented with its method; docs/experiments.md explains each for managers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps
from statsmodels.duration.survfunc import SurvfuncRight, survdiff
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.weightstats import DescrStatsW

from engine.experiments import sequential
from engine.experiments.outcomes import GUARDRAILS, ArmOutcomes

SRM_P = 0.001  # the usual threshold: a broken split, not bad luck (Fabijan et al. 2019, KDD)


@dataclass(frozen=True)
class Estimate:
    """A figure with its interval (low, high)."""

    value: float
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        """The interval lies wholly above or wholly below zero."""
        return self.low > 0 or self.high < 0


def _major(arm: ArmOutcomes) -> np.ndarray:
    return np.asarray(arm.collected_minor, dtype=float) / 100


def paid_rate(arm: ArmOutcomes, alpha: float = 0.05) -> Estimate | None:
    """Share of exposed cases that paid, with a Wilson score interval (statsmodels)."""
    n, k = arm.cases, int(sum(arm.paid))
    if n == 0:
        return None
    low, high = proportion_confint(k, n, alpha=alpha, method="wilson")
    return Estimate(k / n, float(low), float(high))


def amount_per_case(arm: ArmOutcomes, alpha: float = 0.05) -> Estimate | None:
    """Mean amount collected per exposed case (major units) with a t interval (statsmodels)."""
    if arm.cases < 2:
        return None
    described = DescrStatsW(_major(arm))
    low, high = described.tconfint_mean(alpha=alpha)
    return Estimate(float(described.mean), float(low), float(high))


def cost_per_unit_collected(arm: ArmOutcomes, alpha: float = 0.05) -> Estimate | None:
    """Cost per unit of money collected: a ratio of two means, its variance by the delta method.

    R = mean(cost) / mean(collected); Var(R) ~ (s_c^2 - 2 R s_cy + R^2 s_y^2) / (n mean(y)^2)
    (Deng, Knoblich & Lu 2018, "Applying the delta method in metric analytics", KDD).
    """
    n = arm.cases
    cost = np.asarray(arm.cost_minor, dtype=float) / 100
    collected = _major(arm)
    if n < 2 or collected.sum() <= 0:
        return None
    ratio = cost.mean() / collected.mean()
    cov = np.cov(cost, collected, ddof=1)
    var = (cov[0, 0] - 2 * ratio * cov[0, 1] + ratio**2 * cov[1, 1]) / (n * collected.mean() ** 2)
    half = sps.norm.ppf(1 - alpha / 2) * np.sqrt(max(var, 0.0))
    return Estimate(float(ratio), float(max(ratio - half, 0.0)), float(ratio + half))


# -- comparing two arms, safe to look at any time -------------------------------------------


@dataclass(frozen=True)
class Difference:
    """Variant minus control: absolute and relative (lift), each with an always-valid interval."""

    absolute: Estimate
    relative: Estimate | None  # variant / control - 1; None when the control's mean is 0
    cases: int  # both arms together: how far the experiment is on its planned sample


def mean_difference(
    control: np.ndarray,
    variant: np.ndarray,
    alpha: float = 0.05,
    planned: float = sequential.DEFAULT_PLANNED_CASES,
) -> Difference:
    """The difference of two means with always-valid intervals (engine.experiments.sequential).

    The relative difference's standard error comes from the delta method for a ratio of two
    independent means: Var(mB/mA) ~ vB/(nB mA^2) + mB^2 vA/(nA mA^4).
    """
    n_a, n_b = len(control), len(variant)
    cases = n_a + n_b
    if n_a < 2 or n_b < 2:
        inf = float("inf")
        return Difference(Estimate(0.0, -inf, inf), None, cases)
    m_a, m_b = float(np.mean(control)), float(np.mean(variant))
    v_a, v_b = float(np.var(control, ddof=1)), float(np.var(variant, ddof=1))
    se = np.sqrt(v_a / n_a + v_b / n_b)
    low, high = sequential.interval(m_b - m_a, se, cases, planned, alpha)
    absolute = Estimate(m_b - m_a, low, high)
    if m_a == 0:
        return Difference(absolute, None, cases)
    se_rel = np.sqrt(v_b / (n_b * m_a**2) + m_b**2 * v_a / (n_a * m_a**4))
    low, high = sequential.interval(m_b / m_a - 1, se_rel, cases, planned, alpha)
    return Difference(absolute, Estimate(m_b / m_a - 1, low, high), cases)


def amount_difference(
    control: ArmOutcomes, variant: ArmOutcomes, alpha: float = 0.05, planned: float = 4000
) -> Difference:
    """Amount collected per case: variant against control, always valid."""
    return mean_difference(_major(control), _major(variant), alpha, planned)


def paid_rate_difference(
    control: ArmOutcomes, variant: ArmOutcomes, alpha: float = 0.05, planned: float = 4000
) -> Difference:
    """Paid rate: variant against control (percentage points and relative), always valid."""
    as_float = np.asarray
    return mean_difference(
        as_float(control.paid, dtype=float), as_float(variant.paid, dtype=float), alpha, planned
    )


@dataclass(frozen=True)
class Guardrail:
    """One guardrail of a variant against the control: rates and whether it is worse."""

    name: str
    control_rate: float
    variant_rate: float
    difference: Estimate  # always-valid interval of variant - control
    worse: bool  # the whole interval lies above zero: the variant causes more of it


def guardrails(
    control: ArmOutcomes, variant: ArmOutcomes, alpha: float = 0.05, planned: float = 4000
) -> list[Guardrail]:
    """Disputes, opt-outs, complaints and bounces: a variant is blocked when one is worse."""
    found = []
    for name in GUARDRAILS:
        a = np.asarray(control.guardrails[name], dtype=float)
        b = np.asarray(variant.guardrails[name], dtype=float)
        diff = mean_difference(a, b, alpha, planned).absolute
        rate_a = float(a.mean()) if len(a) else 0.0
        rate_b = float(b.mean()) if len(b) else 0.0
        found.append(Guardrail(name, rate_a, rate_b, diff, diff.low > 0))
    return found


# -- time to pay ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Curve:
    """A Kaplan-Meier curve: at each day, the share of cases still unpaid, with its band."""

    days: list[float]
    unpaid: list[float]
    low: list[float]
    high: list[float]
    median_days: float | None  # half of the arm has paid by then; None: not yet


def time_to_pay(arm: ArmOutcomes, alpha: float = 0.05) -> Curve | None:
    """Kaplan-Meier estimate of time to pay (statsmodels SurvfuncRight); unpaid = censored."""
    if arm.cases == 0:
        return None
    if not any(arm.paid):
        return Curve([0.0], [1.0], [1.0], [1.0], None)
    fit = SurvfuncRight(np.asarray(arm.days, dtype=float), np.asarray(arm.paid, dtype=int))
    unpaid = [float(p) for p in fit.surv_prob]
    low, high = unpaid, unpaid
    if len(fit.surv_times) > 1:
        with np.errstate(all="ignore"):  # the band is undefined where everyone has paid
            band = fit.simultaneous_cb(alpha=alpha)
        low = [p if not np.isfinite(b) else float(b) for p, b in zip(unpaid, band[0], strict=True)]
        high = [p if not np.isfinite(b) else float(b) for p, b in zip(unpaid, band[1], strict=True)]
    below = [float(d) for d, p in zip(fit.surv_times, fit.surv_prob, strict=True) if p <= 0.5]
    return Curve(
        days=[float(d) for d in fit.surv_times],
        unpaid=unpaid,
        low=low,
        high=high,
        median_days=below[0] if below else None,
    )


@dataclass(frozen=True)
class LogRank:
    """The log-rank test of equal time-to-pay curves over the arms."""

    chi2: float
    p_value: float


def log_rank(arms: list[ArmOutcomes]) -> LogRank | None:
    """statsmodels survdiff over every arm with cases (a fixed-sample test, shown for reading)."""
    used = [a for a in arms if a.cases]
    if len(used) < 2 or not any(any(a.paid) for a in used):
        return None
    time = np.concatenate([np.asarray(a.days, dtype=float) for a in used])
    status = np.concatenate([np.asarray(a.paid, dtype=int) for a in used])
    group = np.concatenate([np.full(a.cases, i) for i, a in enumerate(used)])
    try:
        chi2, p = survdiff(time, status, group)
    except np.linalg.LinAlgError:
        # No variance: every payment fell where only one arm still had cases at risk, so the
        # statistic is undefined; nothing to test yet.
        return None
    return LogRank(float(chi2), float(p))


# -- the split itself ----------------------------------------------------------------------


@dataclass(frozen=True)
class SampleRatio:
    """Sample-ratio mismatch: do the arms' case counts fit the configured weights?"""

    observed: dict[str, int]
    expected: dict[str, float]
    chi2: float
    p_value: float
    broken: bool  # p below SRM_P: the assignment does not follow the weights


def sample_ratio(arms: list[ArmOutcomes]) -> SampleRatio | None:
    """Pearson's chi-square of the counts against the weights (scipy.stats.chisquare)."""
    used = [a for a in arms if a.weight > 0]
    total = sum(a.cases for a in used)
    if len(used) < 2 or total == 0:
        return None
    weight = sum(a.weight for a in used)
    expected = np.array([total * a.weight / weight for a in used])
    observed = np.array([a.cases for a in used])
    chi2, p = sps.chisquare(observed, expected)
    return SampleRatio(
        {a.arm: a.cases for a in used},
        {a.arm: float(e) for a, e in zip(used, expected, strict=True)},
        float(chi2),
        float(p),
        bool(p < SRM_P),
    )


def incremental_money(
    arm: ArmOutcomes, holdout: ArmOutcomes, alpha: float = 0.05, planned: float = 4000
) -> Estimate | None:
    """Money the arm collected beyond what its cases would have paid untreated (the holdout):
    (mean arm - mean holdout) x cases in the arm, with the always-valid interval scaled alike."""
    if arm.cases < 2 or holdout.cases < 2:
        return None
    diff = mean_difference(_major(holdout), _major(arm), alpha, planned).absolute
    n = arm.cases
    return Estimate(diff.value * n, diff.low * n, diff.high * n)
