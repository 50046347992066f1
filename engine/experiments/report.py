"""The experiment page's content: every number per arm, the comparisons and the verdict.

One call, `experiment_report(outcomes)`, computes what the page, the API and the promotion need
from an `ExperimentOutcomes` (the seam in engine.experiments.outcomes). The decision metric is
the amount collected per exposed case (money, not clicks); paid rate, time to pay and cost per
euro collected are shown beside it, and the guardrails can veto it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from engine.core.messages import DEFAULT_LANG, Text, msg, pmsg
from engine.experiments import power as power_
from engine.experiments import sequential
from engine.experiments import stats as st
from engine.experiments.outcomes import ArmOutcomes, ExperimentOutcomes


@dataclass(frozen=True)
class Figure:
    """A number with fixed decimals in the reader's language ('4.1' / '4,1')."""

    value: float
    places: int = 1

    def text(self, lang: str = DEFAULT_LANG) -> str:
        """The number, rounded, with the language's decimal mark."""
        shown = f"{self.value:,.{self.places}f}"
        if lang.split("_")[0].split("-")[0] == "de":
            shown = shown.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
        return shown


@dataclass
class ArmReport:
    """One arm's own numbers."""

    arm: str
    weight: float
    holdout: bool
    cases: int
    paid_rate: st.Estimate | None
    amount: st.Estimate | None
    collected: float
    cost_per_euro: st.Estimate | None
    curve: st.Curve | None
    guardrail_rates: dict[str, float]
    incremental: st.Estimate | None = None  # against the holdout


@dataclass
class Comparison:
    """A variant against the control."""

    variant: str
    amount: st.Difference
    paid: st.Difference
    guardrails: list[st.Guardrail]
    need: power_.Need  # per arm, for the effect seen so far
    more_cases: int | None  # per arm beyond those exposed; None: no effect to chase
    more_days: float | None


@dataclass(frozen=True)
class Verdict:
    """What the experiment says now: a state, the winner if any, and words in EN and DE."""

    state: str  # no_data | split_broken | winner | too_early | blocked | undecided
    winner: str | None
    words: Text

    def text(self, lang: str = DEFAULT_LANG) -> str:
        """The verdict in words."""
        return self.words.text(lang)


@dataclass
class ExperimentReport:
    """Everything the experiment page shows."""

    experiment: str
    node_id: str
    as_of: date
    alpha: float
    control: str
    arms: list[ArmReport]
    comparisons: list[Comparison]
    sample_ratio: st.SampleRatio | None
    log_rank: st.LogRank | None
    days_running: float
    min_runtime_days: float
    per_day: float  # exposures per day over all arms
    verdict: Verdict
    power_table: list[power_.PowerRow] = field(default_factory=list)


@dataclass(frozen=True)
class Percent:
    """A whole percentage with its sign ('95 %'), kept out of msgids: gettext would read
    '% i' as a printf placeholder."""

    value: float

    def text(self, lang: str = DEFAULT_LANG) -> str:
        """The percentage."""
        return f"{self.value:.0f} %"


def _arm(arm: ArmOutcomes, alpha: float) -> ArmReport:
    rates = {k: (float(np.mean(v)) if v else 0.0) for k, v in arm.guardrails.items()}
    return ArmReport(
        arm=arm.arm,
        weight=arm.weight,
        holdout=arm.holdout,
        cases=arm.cases,
        paid_rate=st.paid_rate(arm, alpha),
        amount=st.amount_per_case(arm, alpha),
        collected=sum(arm.collected_minor) / 100,
        cost_per_euro=st.cost_per_unit_collected(arm, alpha),
        curve=st.time_to_pay(arm, alpha),
        guardrail_rates=rates,
    )


def _days_running(data: ExperimentOutcomes) -> float:
    first = [min(a.exposed_on) for a in data.arms if a.exposed_on]
    start = data.started_on or (min(first) if first else data.as_of)
    return float((data.as_of - start).days)


def _compare(
    control: ArmOutcomes,
    variant: ArmOutcomes,
    alpha: float,
    planned: float,
    per_arm_day: float,
) -> Comparison:
    amount = st.amount_difference(control, variant, alpha, planned)
    a = np.asarray(control.collected_minor, dtype=float)
    b = np.asarray(variant.collected_minor, dtype=float)
    need = power_.cases_for_effect(power_.standardised(a, b), alpha, 0.8, planned)
    more = None
    if need.sequential_per_arm is not None:
        more = max(need.sequential_per_arm - min(control.cases, variant.cases), 0)
    days = more / per_arm_day if more is not None and per_arm_day > 0 else None
    return Comparison(
        variant=variant.arm,
        amount=amount,
        paid=st.paid_rate_difference(control, variant, alpha, planned),
        guardrails=st.guardrails(control, variant, alpha, planned),
        need=need,
        more_cases=more,
        more_days=days,
    )


def experiment_report(
    data: ExperimentOutcomes,
    alpha: float = 0.05,
    planned: float = sequential.DEFAULT_PLANNED_CASES,
) -> ExperimentReport:
    """Compute the page: per arm, each variant against the control, the split's health, the
    verdict. With several variants each comparison uses alpha / (variants) (Bonferroni)."""
    if not 0 < alpha < 1:
        raise ValueError("alpha must lie between 0 and 1")
    control = data.control
    variants = data.variants
    each = alpha / max(len(variants), 1)
    days = _days_running(data)
    exposed = sum(a.cases for a in data.arms)
    per_day = exposed / days if days > 0 else float(exposed)
    arms = [_arm(a, alpha) for a in data.arms]
    if data.holdout is not None:
        for report, arm in zip(arms, data.arms, strict=True):
            if not arm.holdout:
                report.incremental = st.incremental_money(arm, data.holdout, alpha, planned)
    share = {a.arm: a.weight / 100 for a in data.arms}
    comparisons = [
        _compare(control, v, each, planned, per_day * min(share[control.arm], share[v.arm]))
        for v in variants
    ]
    srm = st.sample_ratio(data.arms)
    report = ExperimentReport(
        experiment=data.experiment,
        node_id=data.node_id,
        as_of=data.as_of,
        alpha=alpha,
        control=control.arm,
        arms=arms,
        comparisons=comparisons,
        sample_ratio=srm,
        log_rank=st.log_rank([a for a in data.arms if not a.holdout]),
        days_running=days,
        min_runtime_days=data.min_runtime_days,
        per_day=per_day,
        verdict=Verdict("no_data", None, msg("No cases have reached the split yet.")),
    )
    report.verdict = decide(report)
    base = _base_rate(data)
    if base is not None:
        per_arm = per_day * min(share.values()) if share else 0.0
        report.power_table = power_.power_table(base, per_arm, alpha=each, planned=planned)
    return report


def _base_rate(data: ExperimentOutcomes) -> float | None:
    """The paid rate the power table starts from: the control's, or, when the control never
    (or always) pays, the rate over every treated arm; None without cases."""
    control = data.control
    if control.cases and 0 < sum(control.paid) < control.cases:
        return sum(control.paid) / control.cases
    treated = [a for a in data.arms if not a.holdout]
    cases = sum(a.cases for a in treated)
    return sum(sum(a.paid) for a in treated) / cases if cases else None


def _pct(value: float) -> Figure:
    return Figure(abs(value) * 100, 1)


def _effect_words(arm: str, diff: st.Difference, alpha: float) -> Text:
    """'B collects 4.1 % more per case, 95 % interval 1.2 to 7.0' (relative when it can be)."""
    rel = diff.relative
    if rel is not None and math.isfinite(rel.low) and math.isfinite(rel.high):
        more = rel.value >= 0
        return msg(
            "{arm} collects {value} % {direction} per case, {level} interval {low} to {high}",
            arm=arm,
            value=_pct(rel.value),
            direction=pmsg("experiment", "more") if more else pmsg("experiment", "less"),
            level=Percent(100 * (1 - alpha)),
            low=Figure(rel.low * 100, 1),
            high=Figure(rel.high * 100, 1),
        )
    absolute = diff.absolute
    return msg(
        "{arm} collects {value} per case {direction}, {level} interval {low} to {high}",
        arm=arm,
        value=Figure(abs(absolute.value), 2),
        direction=pmsg("experiment", "more") if absolute.value >= 0 else pmsg("experiment", "less"),
        level=Percent(100 * (1 - alpha)),
        low=Figure(absolute.low, 2),
        high=Figure(absolute.high, 2),
    )


def decide(report: ExperimentReport) -> Verdict:
    """The verdict: a winner only when the always-valid interval excludes no difference, the
    split is sound, the guardrails hold and one full journey cycle has passed."""
    if sum(a.cases for a in report.arms) == 0 or not report.comparisons:
        return Verdict("no_data", None, msg("No cases have reached the split yet."))
    if report.sample_ratio is not None and report.sample_ratio.broken:
        return Verdict(
            "split_broken",
            None,
            msg(
                "The split is broken: the arms' case counts do not match their weights "
                "(chi-square p = {p}). Do not trust these results; find the cause first.",
                p=Figure(report.sample_ratio.p_value, 4),
            ),
        )
    decided = [c for c in report.comparisons if c.amount.absolute.excludes_zero]
    better = [c for c in decided if c.amount.absolute.value > 0]
    if better:
        best = max(better, key=lambda c: c.amount.absolute.value)
        winner, effect = best.variant, best
    elif decided and len(decided) == len(report.comparisons):
        winner, effect = report.control, min(decided, key=lambda c: c.amount.absolute.value)
    else:
        lead = max(report.comparisons, key=lambda c: c.amount.absolute.value)
        return _undecided(lead, report.alpha)
    words = _effect_words(effect.variant, effect.amount, report.alpha)
    worse = [g for g in effect.guardrails if g.worse and winner == effect.variant]
    if worse:
        return Verdict(
            "blocked",
            None,
            msg(
                "{effect}, but it causes more {guardrail}: no winner while a guardrail is worse.",
                effect=words,
                guardrail=GUARDRAIL_WORDS[worse[0].name],
            ),
        )
    left = report.min_runtime_days - report.days_running
    if left > 0:
        return Verdict(
            "too_early",
            None,
            msg(
                "{effect}; outcomes are not mature yet: wait {days} more days (one full "
                "journey cycle) before promoting.",
                effect=words,
                days=math.ceil(left),
            ),
        )
    return Verdict(
        "winner",
        winner,
        msg(
            "{effect}; this will not change with more data. {winner} is the winner.",
            effect=words,
            winner=winner,
        ),
    )


def _undecided(lead: Comparison, alpha: float) -> Verdict:
    if not math.isfinite(lead.amount.absolute.low):  # an arm has fewer than two cases
        return Verdict("undecided", None, msg("Not enough cases in every arm yet to compare."))
    words = _effect_words(lead.variant, lead.amount, alpha)
    if lead.more_cases is None:
        return Verdict(
            "undecided",
            None,
            msg("No difference yet: {effect}. The arms look alike so far.", effect=words),
        )
    if lead.more_days is None:
        return Verdict(
            "undecided",
            None,
            msg(
                "No difference yet: {effect}. About {cases} more cases per arm are needed "
                "if the effect stays this size.",
                effect=words,
                cases=lead.more_cases,
            ),
        )
    return Verdict(
        "undecided",
        None,
        msg(
            "No difference yet: {effect}. About {cases} more cases per arm (about {days} days) "
            "are needed if the effect stays this size.",
            effect=words,
            cases=lead.more_cases,
            days=math.ceil(lead.more_days),
        ),
    )


GUARDRAIL_WORDS: dict[str, Text] = {
    "disputes": msg("disputes"),
    "opt_outs": msg("opt-outs"),
    "complaints": msg("complaints"),
    "bounces": msg("bounces"),
}
