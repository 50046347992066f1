"""Instalment plans in the database: agreed once, then watched against the case's payments.

`agree_plan` stores a plan and its instalments under a key made from the form's one-time value
(a double submit finds the same plan) and records `plan_agreed` through the one event intake.
`check_plans` is the scheduler's plan job (`now` injected): it allocates the payments a case
received since its plan was agreed to the instalments in order (cumulatively: an instalment is
paid when the payments cover it and every one before it), records `instalment_paid` for each
newly covered one, `instalment_missed` for each whose date plus the grace days passed without
that, and `plan_completed` when all are paid. Every event id names the plan and the instalment,
so however often the job runs (in several workers at once) each fact is stored once. The last
payment brings the case's open amount to zero, so the policy rule `paid_in_full` closes it as a
full payment does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.core.case_status import is_open
from engine.core.clock import as_utc, naive_utc
from engine.core.messages import msg
from engine.intake.events import record_event
from engine.payments.checkout import from_minor, journey_payments, to_minor
from engine.payments.mandates import takes_debits
from engine.payments.plans import Instalment, PlanLimits, PlanRefused, schedule
from engine.storage.models import (
    AuditRow,
    CaseRow,
    EventRow,
    PaymentPlanRow,
    PlanInstalmentRow,
    VersionRow,
)


@dataclass(frozen=True)
class Mandate:
    """A SEPA mandate as kept with a plan: never the whole IBAN."""

    provider: str
    account_holder: str
    iban_masked: str
    provider_mandate: str | None = None  # the provider's mandate id (GoCardless: MD...)


@dataclass(frozen=True)
class PlanView:
    """A plan as the portal and the case page show it."""

    id: int
    status: str
    total_minor: int
    currency: str
    agreed_by: str
    iban_masked: str | None
    mandate_reference: str | None
    instalments: tuple[tuple[int, date, int, str], ...]  # (seq, due date, amount, status)
    provider_mandate: str | None = None  # set where the provider collects on its own schedule


@dataclass(frozen=True)
class PlanCheck:
    """What one run of the plan job recorded."""

    paid: int = 0
    missed: int = 0
    completed: int = 0
    ended: int = 0


@dataclass(frozen=True)
class PlanOptions:
    """What the plan page offers a case: the limits, the balance, whether a mandate is asked."""

    limits: PlanLimits
    total_minor: int
    currency: str
    most: int  # the most instalments this balance allows (below 2: no plan)
    provider: str
    needs_mandate: bool  # the journey's provider collects the instalments by SEPA debit
    today: date
    plan: PlanView | None  # the case's latest plan
    refused: str | None  # closed, nothing_open, not_allowed, too_small, or None


def plan_options(session: Session, case_id: int, now: datetime) -> PlanOptions:
    """What the case may agree, within its journey's limits, and its plan if it has one."""
    case = session.get(CaseRow, case_id)
    if case is None:
        raise LookupError(f"There is no case with the row id {case_id}.")
    document = session.scalar(select(VersionRow.document).where(VersionRow.id == case.version_id))
    limits = PlanLimits.of(document)
    provider, methods = journey_payments(document or {})
    total = to_minor(case.amount_open, case.currency)
    most = limits.most_instalments(total)
    refused = None
    if not is_open(case.status):
        refused = "closed"
    elif total <= 0:
        refused = "nothing_open"
    elif not limits.allowed:
        refused = "not_allowed"
    elif most < 2:
        refused = "too_small"
    return PlanOptions(
        limits,
        total,
        case.currency,
        most,
        provider,
        takes_debits(provider, methods),
        case_today(case, now),
        plan_of(session, case_id),
        refused,
    )


def case_today(case: CaseRow, now: datetime) -> date:
    """The day it is for the debtor (the case's time zone)."""
    return as_utc(now).astimezone(ZoneInfo(case.timezone)).date()


def plan_limits(session: Session, case: CaseRow) -> PlanLimits:
    """The plan limits of the case's journey version."""
    document = session.scalar(select(VersionRow.document).where(VersionRow.id == case.version_id))
    return PlanLimits.of(document)


def mandate_reference(case_id: int, key: str) -> str:
    """A SEPA mandate reference (at most 35 characters of the allowed set), one per plan."""
    return f"MW-{case_id}-{hashlib.sha256(key.encode()).hexdigest()[:10].upper()}"


def plan_of(session: Session, case_id: int) -> PlanView | None:
    """The case's latest plan, or None."""
    plan = session.scalar(
        select(PaymentPlanRow)
        .where(PaymentPlanRow.case_id == case_id)
        .order_by(PaymentPlanRow.id.desc())
        .limit(1)
    )
    return None if plan is None else _view(session, plan)


def _view(session: Session, plan: PaymentPlanRow) -> PlanView:
    rows = session.scalars(
        select(PlanInstalmentRow)
        .where(PlanInstalmentRow.plan_id == plan.id)
        .order_by(PlanInstalmentRow.seq)
    )
    return PlanView(
        plan.id,
        plan.status,
        plan.total_minor,
        plan.currency,
        plan.agreed_by,
        plan.iban_masked,
        plan.mandate_reference,
        tuple((r.seq, r.due_date, r.amount_minor, r.status) for r in rows),
        plan.provider_mandate,
    )


def propose_plan(
    session: Session, case_id: int, count: int, first: date, now: datetime
) -> list[Instalment]:
    """The schedule a choice makes for the case's whole open amount (PlanRefused otherwise)."""
    case = _open_case(session, case_id)
    total = to_minor(case.amount_open, case.currency)
    return schedule(plan_limits(session, case), total, count, first, case_today(case, now))


def _open_case(session: Session, case_id: int) -> CaseRow:
    case = session.get(CaseRow, case_id)
    if case is None or not is_open(case.status):
        raise PlanRefused("plan", msg("This case is closed."))
    if case.amount_open <= 0:
        raise PlanRefused("plan", msg("No amount is open on this case."))
    return case


def agree_plan(
    session: Session,
    case_id: int,
    key: str,
    count: int,
    first: date,
    now: datetime,
    by: str = "portal",
    mandate: Mandate | None = None,
) -> tuple[PlanView, bool]:
    """Store a plan once per key and record `plan_agreed`; returns (plan, created)."""
    existing = session.scalar(select(PaymentPlanRow).where(PaymentPlanRow.key == key))
    if existing is not None:
        return _view(session, existing), False
    case = _open_case(session, case_id)
    active = session.scalar(
        select(PaymentPlanRow.id).where(
            PaymentPlanRow.case_id == case_id, PaymentPlanRow.status == "active"
        )
    )
    if active is not None:
        raise PlanRefused("plan", msg("An instalment plan is already agreed for this case."))
    limits = plan_limits(session, case)
    total = to_minor(case.amount_open, case.currency)
    parts = schedule(limits, total, count, first, case_today(case, now))
    plan = plan_row(
        case,
        key,
        total,
        limits,
        by,
        naive_utc(now),
        provider=mandate.provider if mandate else None,
        account_holder=mandate.account_holder if mandate else None,
        iban_masked=mandate.iban_masked if mandate else None,
        mandate_reference=mandate_reference(case_id, key) if mandate else None,
        provider_mandate=mandate.provider_mandate if mandate else None,
    )
    try:
        with session.begin_nested():
            session.add(plan)
            session.flush()
    except IntegrityError:  # the same key a moment ago (a double submit), or another plan
        again = session.scalar(select(PaymentPlanRow).where(PaymentPlanRow.key == key))
        if again is not None:
            return _view(session, again), False
        raise PlanRefused(
            "plan", msg("An instalment plan is already agreed for this case.")
        ) from None
    book_schedule(session, case, plan, parts, "agreed", now)
    return _view(session, plan), True


def plan_row(
    case: CaseRow,
    key: str,
    total_minor: int,
    limits: PlanLimits,
    by: str,
    agreed_at: datetime,
    **mandate: str | None,
) -> PaymentPlanRow:
    """A new active plan of the case for `total_minor` under the journey's limits (`mandate`:
    the SEPA mandate's columns, if the debtor gave one)."""
    return PaymentPlanRow(
        case_id=case.id,
        key=key,
        status="active",
        total_minor=total_minor,
        currency=case.currency,
        interval=limits.interval,
        grace_days=limits.grace_days,
        agreed_by=by,
        agreed_at=agreed_at,
        **mandate,
    )


def book_schedule(
    session: Session,
    case: CaseRow,
    plan: PaymentPlanRow,
    parts: list[Instalment],
    done: str,
    now: datetime,
    **extra: Any,
) -> None:
    """A stored plan's open instalments and its case event `plan_<done>` (agreed, changed),
    whose payload says what was agreed (plus `extra`, e.g. the plan it replaces)."""
    for part in parts:
        session.add(
            PlanInstalmentRow(
                plan_id=plan.id,
                seq=part.seq,
                due_date=part.due_date,
                amount_minor=part.amount_minor,
                status="open",
            )
        )
    payload = {
        "plan": plan.id,
        **extra,
        "instalments": len(parts),
        "amount": str(from_minor(plan.total_minor, plan.currency)),
        "currency": plan.currency,
        "first_date": parts[0].due_date.isoformat(),
        "by": plan.agreed_by,
    }
    event_id = f"plan:{plan.id}:{done}"
    record_event(session, case.external_id, event_id, f"plan_{done}", payload, now)
    session.flush()


def paid_since(session: Session, case: CaseRow, since: datetime) -> int:
    """Minor units the case received since `since` (payments less chargebacks)."""
    rows = session.execute(
        select(EventRow.type, EventRow.payload).where(
            EventRow.case_id == case.id,
            EventRow.type.in_(("payment_received", "chargeback")),
            EventRow.received_at >= since,
        )
    )
    total = Decimal(0)
    for kind, payload in rows:
        amount = Decimal(str((payload or {}).get("amount") or 0))
        total += amount if kind == "payment_received" else -amount
    return to_minor(total, case.currency)


def check_plans(session: Session, now: datetime) -> PlanCheck:
    """Allocate payments to the active plans' instalments; record paid, missed and completed."""
    counts = {"paid": 0, "missed": 0, "completed": 0, "ended": 0}
    plans = session.scalars(
        select(PaymentPlanRow).where(PaymentPlanRow.status == "active").order_by(PaymentPlanRow.id)
    ).all()
    for plan in plans:
        case = session.get(CaseRow, plan.case_id)
        assert case is not None
        for kind in _check_one(session, plan, case, now):
            counts[kind] += 1
    return PlanCheck(**counts)


def _check_one(session: Session, plan: PaymentPlanRow, case: CaseRow, now: datetime) -> list[str]:
    done: list[str] = []
    paid = paid_since(session, case, plan.agreed_at)
    today = case_today(case, now)
    rows = session.scalars(
        select(PlanInstalmentRow)
        .where(PlanInstalmentRow.plan_id == plan.id)
        .order_by(PlanInstalmentRow.seq)
    ).all()
    owed = 0
    for row in rows:
        owed += row.amount_minor
        payload = _instalment(plan, row)
        if paid >= owed and row.status != "paid":
            row.status, row.paid_at = "paid", naive_utc(now)
            _event(session, case, f"plan:{plan.id}:{row.seq}:paid", "instalment_paid", payload, now)
            done.append("paid")
        elif paid < owed and row.status == "open" and (today - row.due_date).days > plan.grace_days:
            row.status, row.missed_at = "missed", naive_utc(now)
            missed = f"plan:{plan.id}:{row.seq}:missed"
            _event(session, case, missed, "instalment_missed", payload, now)
            done.append("missed")
    if rows and all(r.status == "paid" for r in rows):
        plan.status, plan.completed_at = "completed", naive_utc(now)
        _event(session, case, f"plan:{plan.id}:completed", "plan_completed", {"plan": plan.id}, now)
        done.append("completed")
    elif not is_open(case.status):
        # Closed otherwise (by the host, a write-off, a full payment outside the plan's count).
        plan.status = "ended"
        session.add(
            AuditRow(
                at=naive_utc(now),
                case_id=case.id,
                version_id=case.version_id,
                node_id=case.node_id,
                kind="plan_ended",
                detail={"plan": plan.id, "reason": f"case is {case.status}"},
            )
        )
        done.append("ended")
    return done


def _instalment(plan: PaymentPlanRow, row: PlanInstalmentRow) -> dict[str, Any]:
    return {
        "plan": plan.id,
        "seq": row.seq,
        "due_date": row.due_date.isoformat(),
        "amount": str(from_minor(row.amount_minor, plan.currency)),
        "currency": plan.currency,
    }


def _event(
    session: Session,
    case: CaseRow,
    event_id: str,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    record_event(session, case.external_id, event_id, kind, payload, now)
