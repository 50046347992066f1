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
`now` while it is None). docs/analytics.md has the table.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.analytics.numbers import _journey
from engine.storage.models import CaseFactRow, ExposureRow

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
