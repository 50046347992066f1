"""Outcomes per experiment arm: the facts of each exposed case, for the experiment page.

The query joins a split's exposures to the cases' facts (one row per exposed case):

    SELECT e.arm, e.exposed_at, f.collected_minor, f.original_minor, f.paid_full_at,
           f.days_to_pay, f.messages_email + f.messages_sms + f.messages_letter,
           f.cost_email + f.cost_sms + f.cost_letter, f.disputes, f.opt_outs, f.complaints,
           f.bounces
      FROM experiment_exposures e JOIN case_facts f ON f.case_id = e.case_id
     WHERE e.journey_id = :journey AND e.experiment = :experiment
     ORDER BY e.arm, e.case_id

Time to pay for a Kaplan-Meier curve runs from `exposed_at` to `paid_full_at` (censored at
`now` while it is None). For a page that must answer at once on a million cases,
`arm_summary` reads the per-arm counters (arm_counts) instead: totals, sums of squares and
the paid-in-full days per arm. docs/analytics.md has the tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.analytics.facts import GUARDRAIL_COLUMNS
from engine.analytics.numbers import _journey
from engine.storage.models import ArmCountRow, CaseFactRow, ExposureRow

E, F = ExposureRow, CaseFactRow


@dataclass(frozen=True, slots=True)
class ArmCase:
    """One exposed case's outcome (amounts in minor units, cost in ten-thousandths)."""

    arm: str
    case_id: int
    exposed_at: datetime
    currency: str
    original_minor: int
    collected_minor: int
    paid_full_at: datetime | None
    days_to_pay: int | None
    messages: int
    cost: int
    disputes: int
    opt_outs: int
    complaints: int
    bounces: int


def arm_cases(session: Session, key: str, experiment: str) -> Iterator[ArmCase]:
    """Every case exposed to the journey's experiment, with its facts, by arm and case id."""
    journey = _journey(session, key)
    rows = session.execute(
        select(
            E.arm,
            E.case_id,
            E.exposed_at,
            F.currency,
            F.original_minor,
            F.collected_minor,
            F.paid_full_at,
            F.days_to_pay,
            F.messages_email + F.messages_sms + F.messages_letter,
            F.cost_email + F.cost_sms + F.cost_letter,
            F.disputes,
            F.opt_outs,
            F.complaints,
            F.bounces,
        )
        .join(F, F.case_id == E.case_id)
        .where(E.journey_id == journey.id, E.experiment == experiment)
        .order_by(E.arm, E.case_id)
        .execution_options(yield_per=10_000)
    )
    for row in rows:
        yield ArmCase(*row)


@dataclass
class ArmSummary:
    """One arm's totals from the per-arm counters (amounts in minor units of `currency`).

    `paid_full_by_day`: cases paid in full by whole days from exposure; `exposed_by_day`: cases
    exposed per day, so a survival curve can censor each exposure cohort at `now`.
    """

    arm: str
    currency: str
    cases: int = 0
    original: int = 0
    collected: int = 0
    collected_sq: int = 0
    paid_any: int = 0
    paid_full: int = 0
    messages: int = 0
    cost: int = 0
    guardrails: dict[str, int] = field(default_factory=dict)
    paid_full_by_day: dict[int, int] = field(default_factory=dict)
    exposed_by_day: dict[date, int] = field(default_factory=dict)


def arm_summary(session: Session, key: str, experiment: str) -> list[ArmSummary]:
    """Per arm (and currency) of the journey's experiment, its totals: two aggregate queries."""
    journey = _journey(session, key)
    c = ArmCountRow
    mine = (c.journey_id == journey.id, c.experiment == experiment)
    arms: dict[tuple[str, str], ArmSummary] = {}
    for arm, currency, metric, bucket, value in session.execute(
        select(c.arm, c.currency, c.metric, c.bucket, func.sum(c.value))
        .where(*mine)
        .group_by(c.arm, c.currency, c.metric, c.bucket)
    ):
        s = arms.setdefault((arm, currency), ArmSummary(arm, currency))
        value = int(value or 0)
        if metric == "cases":
            s.cases += value
        elif metric == "paid_full":
            s.paid_full += value
            s.paid_full_by_day[bucket] = value
        elif metric in GUARDRAIL_COLUMNS:
            s.guardrails[metric] = value
        elif metric in _TOTALS:
            setattr(s, metric, value)
    for arm, currency, day, value in session.execute(
        select(c.arm, c.currency, c.day, func.sum(c.value))
        .where(*mine, c.metric == "cases")
        .group_by(c.arm, c.currency, c.day)
    ):
        arms[arm, currency].exposed_by_day[day] = int(value or 0)
    return [arms[k] for k in sorted(arms)]


_TOTALS = ("original", "collected", "collected_sq", "paid_any", "messages", "cost")
