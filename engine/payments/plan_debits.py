"""Collecting a plan's instalments by SEPA debit on their dates, at a provider that does it itself.

A plan agreed with a mandate at a provider with `collect_debit` (the sandbox: it plays a bank's
debit out, pending until paid or failed) has each instalment collected on its due date: the
scheduler's plan job writes a payment intent whose idempotency key names the plan and the
instalment (`mahnwerk-plan-<plan>-instalment-<seq>`, UNIQUE) in a transaction of its own,
then asks the provider outside any transaction, then keeps the provider's payment id. From there
the debit is a payment like any other: its webhook is stored once, re-fetched, and a paid debit
becomes `payment_received` (engine/payments/provider_events.py), which the plan job allocates to
the instalments; a failed one `payment_failed`, and the instalment is missed after its grace
days. A crash after the intent is written asks the provider again with the same key (one debit).

A provider that keeps the mandate and collects on its own schedule (GoCardless, whose mandate
the portal made from the entered IBAN) gets the whole plan as an instalment schedule instead
(`schedule_instalments`, key `mahnwerk-plan-<plan>-schedule`); once GoCardless made the
schedule's payments, each gets the intent of its instalment (the same key as above, the
provider's payment id), so its webhooks reach the case through the same path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors.base import ConnectorError
from connectors.payment import CheckoutRequest
from engine.core.clock import naive_utc
from engine.payments.checkout import PLAN_KEY_PREFIX
from engine.payments.plan_book import case_today
from engine.payments.providers import PaymentProviders
from engine.storage.db import Database
from engine.storage.models import CaseRow, PaymentIntentRow, PaymentPlanRow, PlanInstalmentRow


@dataclass(frozen=True)
class _Charge:
    """One instalment as a schedule provider takes it (connectors' `Instalment` shape)."""

    charge_date: date
    amount_minor: int


@dataclass(frozen=True)
class _Debit:
    intent_id: int
    provider: str
    key: str
    case_ref: str
    amount_minor: int
    currency: str
    mandate: str


def debit_key(plan_id: int, seq: int) -> str:
    """The idempotency key of one instalment's debit."""
    return f"{PLAN_KEY_PREFIX}{plan_id}-instalment-{seq}"


def collect_instalments(db: Database, providers: PaymentProviders, now: datetime) -> int:
    """Start the debits of the instalments due by today; returns how many were asked for."""
    with db.transaction() as session:
        debits = _intents(session, providers, now)
    asked = 0
    for debit in debits:
        provider = providers.get(debit.provider)
        request = CheckoutRequest(
            idempotency_key=debit.key,
            case_ref=debit.case_ref,
            amount_minor=debit.amount_minor,
            currency=debit.currency,
            description=f"{debit.case_ref} {debit.mandate}",
            return_url="",
            cancel_url="",
            methods=("sepa_debit",),
            metadata={"mandate": debit.mandate},
        )
        try:
            made = provider.collect_debit(request)  # type: ignore[attr-defined]
        except ConnectorError as exc:  # tried again on the next run, with the same key
            with db.transaction() as session:
                row = session.get(PaymentIntentRow, debit.intent_id)
                assert row is not None
                row.last_error, row.updated_at = str(exc)[:500], naive_utc(now)
            continue
        with db.transaction() as session:
            row = session.get(PaymentIntentRow, debit.intent_id)
            assert row is not None
            row.provider_payment_id, row.state = made.payment_id, "pending"
            row.last_error, row.updated_at = None, naive_utc(now)
        asked += 1
    return asked


def _intents(session: Session, providers: PaymentProviders, now: datetime) -> list[_Debit]:
    """Intents for every due instalment of a debit plan without a debit yet (written now)."""
    found: list[_Debit] = []
    rows = session.execute(
        select(PaymentPlanRow, PlanInstalmentRow)
        .join(PlanInstalmentRow, PlanInstalmentRow.plan_id == PaymentPlanRow.id)
        .where(
            PaymentPlanRow.status == "active",
            PaymentPlanRow.mandate_reference.is_not(None),
            PlanInstalmentRow.status == "open",
        )
        .order_by(PaymentPlanRow.id, PlanInstalmentRow.seq)
    ).all()
    for plan, part in rows:
        if plan.provider not in providers.profiles:
            continue
        if not callable(getattr(providers.get(plan.provider), "collect_debit", None)):
            continue  # a provider that collects on its own schedule (GoCardless)
        case = session.get(CaseRow, plan.case_id)
        assert case is not None
        if part.due_date > case_today(case, now):
            continue
        key = debit_key(plan.id, part.seq)
        intent = session.scalar(
            select(PaymentIntentRow).where(PaymentIntentRow.idempotency_key == key)
        )
        if intent is None:
            intent = PaymentIntentRow(
                case_id=case.id,
                provider=plan.provider,
                idempotency_key=key,
                attempt=1,
                method="sepa_debit",
                amount_minor=part.amount_minor,
                currency=plan.currency,
                state="new",
                amount_refunded_minor=0,
                created_at=naive_utc(now),
                updated_at=naive_utc(now),
            )
            try:
                with session.begin_nested():
                    session.add(intent)
            except IntegrityError:  # another worker wrote it a moment ago: it asks
                continue
        elif intent.state != "new":
            continue  # asked already
        found.append(
            _Debit(
                intent.id,
                plan.provider,
                key,
                case.external_id,
                part.amount_minor,
                plan.currency,
                str(plan.mandate_reference),
            )
        )
    return found


def schedule_instalments(db: Database, providers: PaymentProviders, now: datetime) -> int:
    """Give GoCardless (a provider with instalment schedules) its plans; returns how many."""
    with db.transaction() as session:
        plans = session.execute(
            select(PaymentPlanRow.id, PaymentPlanRow.provider).where(
                PaymentPlanRow.status == "active", PaymentPlanRow.provider_mandate.is_not(None)
            )
        ).all()
    made = 0
    for plan_id, name in plans:
        if name not in providers.profiles:
            continue
        provider = providers.get(name)
        if not callable(getattr(provider, "create_instalment_schedule", None)):
            continue
        try:
            made += _schedule_one(db, provider, plan_id, now)
        except ConnectorError:  # tried again on the next run with the same key
            continue
    return made


def _schedule_one(db: Database, provider: object, plan_id: int, now: datetime) -> int:
    with db.transaction() as session:
        plan = session.get(PaymentPlanRow, plan_id)
        assert plan is not None
        case = session.get(CaseRow, plan.case_id)
        assert case is not None
        parts = session.scalars(
            select(PlanInstalmentRow)
            .where(PlanInstalmentRow.plan_id == plan_id)
            .order_by(PlanInstalmentRow.seq)
        ).all()
        wanted = [(p.seq, p.due_date, p.amount_minor) for p in parts]
        known = set(
            session.scalars(
                select(PaymentIntentRow.idempotency_key).where(
                    PaymentIntentRow.idempotency_key.like(f"{PLAN_KEY_PREFIX}{plan_id}-%")
                )
            )
        )
        schedule_id, mandate = plan.provider_schedule, str(plan.provider_mandate)
        currency, case_ref, name = plan.currency, case.external_id, str(plan.mandate_reference)
    if len(known) == len(wanted):
        return 0  # every instalment has its payment already
    if schedule_id is None:
        schedule = provider.create_instalment_schedule(  # type: ignore[attr-defined]
            f"{PLAN_KEY_PREFIX}{plan_id}-schedule",
            mandate,
            name,
            currency,
            [_Charge(day, amount) for _seq, day, amount in wanted],
            case_ref,
        )
    else:
        schedule = provider.fetch_instalment_schedule(schedule_id)  # type: ignore[attr-defined]
    with db.transaction() as session:
        plan = session.get(PaymentPlanRow, plan_id)
        assert plan is not None
        plan.provider_schedule = schedule.schedule_id
        if len(schedule.payment_ids) != len(wanted):
            return 0  # GoCardless makes the payments asynchronously: the next run looks again
        for (seq, _day, amount), payment in zip(wanted, schedule.payment_ids, strict=True):
            key = debit_key(plan_id, seq)
            if key in known:
                continue
            session.add(
                PaymentIntentRow(
                    case_id=plan.case_id,
                    provider=plan.provider,
                    idempotency_key=key,
                    attempt=1,
                    method="sepa_debit",
                    provider_payment_id=payment,
                    amount_minor=amount,
                    currency=plan.currency,
                    state="pending",
                    amount_refunded_minor=0,
                    created_at=naive_utc(now),
                    updated_at=naive_utc(now),
                )
            )
    return 1
