"""One checkout for several cases of a debtor: what is open, the plan, and booking it once.

A person with several open invoices sees them all on the portal (`debtor_items`) and pays one,
several or all in one checkout (`start_items_checkout`). The allocation plan (which cases, in
which order: oldest due date first) is written with the payment intent, in the same
transaction and BEFORE the provider is asked, as `payment_allocations` rows. When the
provider confirms the money (engine/payments/provider_events.py), `book_allocation` splits what
arrived over the chosen cases as they owe it NOW (another payment may have come meanwhile),
oldest first, stores each share on its row, and records one `payment_received` per case
through the one event intake, each with an event id of its own (provider, payment, case): a
webhook delivered twice, or processed again after a crash, finds the shares booked and the
events stored, and books nothing twice. What is left over is kept as a credit on the debtor
(`debtor_credits`, unique per intent), audited, and shown to the debtor and to staff; it is
never paid back automatically.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import get_currency_precision
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.payment import CheckoutRequest, PaymentStatus
from engine.core.case_status import OPEN_STATUSES, is_open
from engine.core.clock import naive_utc
from engine.intake.events import record_event
from engine.money.cases import case_owed
from engine.payments import crash_points
from engine.payments.checkout import (
    ITEMS_KEY_PREFIX,
    PaymentOptions,
    PaymentRefused,
    StartedCheckout,
    from_minor,
    open_checkout,
    payment_options,
    to_minor,
    unfinished_or_new_intent,
)
from engine.payments.providers import PaymentProviders
from engine.storage.audit_chain import add_case_audit
from engine.storage.db import Database
from engine.storage.models import (
    CaseRow,
    DebtorCreditRow,
    EventRow,
    PaymentAllocationRow,
    PaymentIntentRow,
)

MAX_ITEMS = 50  # a person's open invoices on one page and in one checkout


class ItemsRefused(ValueError):
    """The chosen items cannot be paid together; `field` names the form field, `reason` why:
    item (none, unknown, too_many, currency), amount (format, range)."""

    def __init__(self, field: str, reason: str, limit: int | None = None) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason, self.limit = field, reason, limit


@dataclass(frozen=True)
class DebtorItem:
    """One open case of the person as the portal lists it."""

    case_id: int
    reference: str
    amount_minor: int
    currency: str
    due_date: date
    status: str
    hold_reason: str | None
    current: bool  # the case whose link opened the page


@dataclass(frozen=True)
class DebtorCredit:
    """What the person paid beyond their debts, per currency, kept for staff to pay back."""

    amount_minor: int
    currency: str


@dataclass(frozen=True)
class PortalMoney:
    """Everything the portal's page shows of money, read in one transaction."""

    owed: Any  # CaseOwed of the case whose link opened the page
    options: PaymentOptions
    items: list[DebtorItem]  # every open case of the person, the current first; [] alone
    credits: list[DebtorCredit]


def portal_money(
    session: Session,
    case_id: int,
    providers: PaymentProviders | None,
    now: datetime,
    lang: str = "en",
) -> PortalMoney:
    """The page's money in one read: the case's owed (computed once), its payment options,
    the person's open items and credits. A case without a debtor has no items and no credit."""
    case = session.get(CaseRow, case_id)
    if case is None:
        raise LookupError(f"There is no case with the row id {case_id}.")
    owed = case_owed(session, case, now, lang)
    options = payment_options(session, case_id, providers, now, owed=owed.owed.total)
    if case.debtor_id is None:
        return PortalMoney(owed, options, [], [])
    items = debtor_items(session, case, now, to_minor(owed.owed.total, case.currency))
    return PortalMoney(owed, options, items, debtor_credits(session, case.debtor_id))


def debtor_items(
    session: Session, case: CaseRow, now: datetime, current_minor: int | None = None
) -> list[DebtorItem]:
    """Every open case of the case's debtor (the case itself first, then by due date), each
    with all it owes today (principal, fees, interest); [] for a case without a debtor."""
    if case.debtor_id is None:
        return []
    rows = list(
        session.scalars(
            select(CaseRow)
            .where(CaseRow.debtor_id == case.debtor_id, CaseRow.status.in_(OPEN_STATUSES))
            .order_by(CaseRow.due_date, CaseRow.id)
            .limit(MAX_ITEMS)
        )
    )
    if case.id not in {row.id for row in rows} and is_open(case.status):
        rows = [case, *rows[: MAX_ITEMS - 1]]  # more than the page shows: the link's is one
    items = []
    for row in rows:
        if row.id == case.id and current_minor is not None:
            minor = current_minor
        else:
            minor = to_minor(case_owed(session, row, now).owed.total, row.currency)
        items.append(
            DebtorItem(
                row.id,
                row.reference or row.external_id,
                minor,
                row.currency,
                row.due_date,
                row.status,
                row.hold_reason,
                row.id == case.id,
            )
        )
    items.sort(key=lambda item: not item.current)  # stable: the rest stay oldest first
    return items


def debtor_credits(session: Session, debtor_id: int) -> list[DebtorCredit]:
    """The credits kept for the person, summed per currency."""
    rows = session.execute(
        select(DebtorCreditRow.currency, func.sum(DebtorCreditRow.amount_minor))
        .where(DebtorCreditRow.debtor_id == debtor_id, DebtorCreditRow.state == "kept")
        .group_by(DebtorCreditRow.currency)
        .order_by(DebtorCreditRow.currency)
    ).all()
    return [DebtorCredit(int(total), currency) for currency, total in rows if total]


def parse_amount(raw: str, currency: str) -> int | None:
    """An amount the debtor typed ("120,50", "120.50") in minor units; None when empty.

    ItemsRefused("amount", "format") for anything that is not a plain positive decimal with at
    most the currency's places."""
    text = (raw or "").strip().replace(" ", "")
    if not text:
        return None
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    places = get_currency_precision(currency)
    if len(text) > 20 or not all(c.isdigit() or c == "." for c in text) or text.count(".") > 1:
        raise ItemsRefused("amount", "format")
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ItemsRefused("amount", "format") from exc
    if value.as_tuple().exponent < -places:  # type: ignore[operator]
        raise ItemsRefused("amount", "format")
    return to_minor(value, currency)


@dataclass(frozen=True)
class ItemsChoice:
    """The chosen cases, oldest first, each with what it owes now; the amount to pay."""

    items: list[DebtorItem]
    amount_minor: int
    currency: str
    debtor_id: int


def choose_items(
    session: Session, case_id: int, chosen: list[str], amount: int | None, now: datetime
) -> ItemsChoice:
    """Check a posted choice against the person's open items (ItemsRefused names the field).

    Only cases of the same debtor that are open and owe something in the page case's currency
    can be chosen; an amount, when given, is at least one minor unit and at most their total.
    """
    case = session.get(CaseRow, case_id)
    if case is None or case.debtor_id is None:
        raise ItemsRefused("item", "unknown")
    if not chosen:
        raise ItemsRefused("item", "none")
    if len(chosen) > MAX_ITEMS:
        raise ItemsRefused("item", "too_many", MAX_ITEMS)
    if not all(value.isdigit() and len(value) < 19 for value in chosen):
        raise ItemsRefused("item", "unknown")
    offered = {item.case_id: item for item in debtor_items(session, case, now)}
    picked = []
    for case_ref in dict.fromkeys(int(value) for value in chosen):
        item = offered.get(case_ref)
        if item is None or item.amount_minor <= 0:
            raise ItemsRefused("item", "unknown")
        if item.currency != case.currency:
            raise ItemsRefused("item", "currency")
        picked.append(item)
    picked.sort(key=lambda item: (item.due_date, item.case_id))
    total = sum(item.amount_minor for item in picked)
    if amount is not None and not 0 < amount <= total:
        raise ItemsRefused("amount", "range", total)
    return ItemsChoice(picked, total if amount is None else amount, case.currency, case.debtor_id)


def items_key(debtor_id: int, choice: ItemsChoice, attempt: int) -> str:
    """The idempotency key of (debtor, the chosen cases and amount, attempt)."""
    return f"{_key_prefix(debtor_id, choice)}{attempt}"


def _key_prefix(debtor_id: int, choice: ItemsChoice) -> str:
    cases = ",".join(f"{item.case_id}" for item in choice.items)
    digest = hashlib.sha256(cases.encode()).hexdigest()[:16]
    return (
        f"{ITEMS_KEY_PREFIX}{debtor_id}-items-{digest}-pay-"
        f"{choice.amount_minor}{choice.currency}-attempt-"
    )


def start_items_checkout(
    db: Database,
    providers: PaymentProviders,
    case_id: int,
    chosen: list[str],
    amount: int | None,
    method: str,
    urls: tuple[str, str],
    now: datetime,
    description: str = "",
    locale: str = "de",
) -> StartedCheckout:
    """One checkout for the chosen cases of the person at the page case's provider.

    The intent and its allocation plan are written in one transaction before the provider is
    asked; a double click finds the unfinished intent for the same choice and amount. Raises
    ItemsRefused for a bad choice, PaymentRefused as start_checkout does, PaymentError from
    the provider (the intent keeps it; a temporary one is retried with the same key)."""
    with db.transaction() as session:
        options = payment_options(session, case_id, providers, now)
        if options.refused in ("closed", "provider", "method"):
            raise PaymentRefused(options.refused)
        if method not in options.methods:
            raise PaymentRefused("method", f"The method {method!r} is not offered for this case.")
        choice = choose_items(session, case_id, chosen, amount, now)
        intent, reused = _items_intent(session, options, choice, method, now)
        intent_id, key = intent.id, intent.idempotency_key
        if intent.redirect_url and intent.provider_payment_id:
            return StartedCheckout(intent.id, intent.redirect_url, intent.provider_payment_id, True)
        references = [item.reference for item in choice.items]
    crash_points.reached("intent_written")
    request = CheckoutRequest(
        idempotency_key=key,
        case_ref=references[0][:100],
        amount_minor=choice.amount_minor,
        currency=choice.currency,
        description=(description or ", ".join(references))[:200],
        return_url=urls[0].replace("{intent}", str(intent_id)),
        cancel_url=urls[1].replace("{intent}", str(intent_id)),
        methods=(method,),  # type: ignore[arg-type]
        locale=locale,
        metadata={"case": references[0][:100], "intent": str(intent_id)},
    )
    return open_checkout(db, providers.get(options.provider), request, intent_id, now, reused)


def _items_intent(
    session: Session, options: PaymentOptions, choice: ItemsChoice, method: str, now: datetime
) -> tuple[PaymentIntentRow, bool]:
    """The unfinished intent for this choice, or a new one with its allocation plan."""
    prefix = _key_prefix(choice.debtor_id, choice)

    def plan(intent: PaymentIntentRow) -> list[PaymentAllocationRow]:
        return [
            PaymentAllocationRow(
                intent_id=intent.id,
                case_id=item.case_id,
                position=position,
                planned_minor=item.amount_minor,
            )
            for position, item in enumerate(choice.items)
        ]

    return unfinished_or_new_intent(
        session,
        (PaymentIntentRow.idempotency_key.like(f"{prefix}%"),),
        lambda attempt: items_key(choice.debtor_id, choice, attempt),
        options,
        choice.amount_minor,
        choice.currency,
        method,
        now,
        with_intent=plan,
        cases=[item.case_id for item in choice.items],
    )


def has_allocation(session: Session, intent_id: int) -> bool:
    """Whether the intent pays several cases (it has an allocation plan)."""
    found = session.scalar(
        select(PaymentAllocationRow.id).where(PaymentAllocationRow.intent_id == intent_id).limit(1)
    )
    return found is not None


def book_allocation(
    session: Session,
    intent: PaymentIntentRow,
    provider: str,
    status: PaymentStatus,
    now: datetime,
) -> list[str]:
    """Book a confirmed payment to the intent's cases, once; returns the event kinds recorded.

    The first confirmation decides the shares: what each chosen case owes now (less payments
    stored but not yet applied), oldest first, the rest a credit on the debtor. Every later
    confirmation (a replayed webhook, a second event for the same payment, a run after a crash
    whose transaction was rolled back) finds the shares on the rows and records the same
    events with the same ids, which the intake stores once.
    """
    # Two workers: one decides the shares, the other waits and finds them (the intent's state
    # update serialises them already; this lock says it where it matters).
    session.refresh(intent, with_for_update=True)
    rows = list(
        session.scalars(
            select(PaymentAllocationRow)
            .where(PaymentAllocationRow.intent_id == intent.id)
            .order_by(PaymentAllocationRow.position)
        )
    )
    cases = {row.case_id: session.get(CaseRow, row.case_id) for row in rows}
    if not any(row.booked_at is not None for row in rows):
        _decide_shares(session, intent, rows, cases, status.amount_minor, now)
    recorded = []
    for row in rows:
        case = cases[row.case_id]
        if not row.booked_minor or case is None:
            continue
        payload = {
            "amount": str(from_minor(row.booked_minor, case.currency)),
            "currency": case.currency,
        }
        event_id = allocation_event_id(provider, status.payment_id, "paid", case.id)
        record_event(session, case.external_id, event_id, "payment_received", payload, now)
        recorded.append("payment_received")
        crash_points.reached("allocation_recording")
    return recorded


def _decide_shares(
    session: Session,
    intent: PaymentIntentRow,
    rows: list[PaymentAllocationRow],
    cases: dict[int, CaseRow | None],
    paid_minor: int,
    now: datetime,
) -> None:
    left = paid_minor
    split = []
    for row in rows:
        case = cases[row.case_id]
        owes = 0
        if case is not None and is_open(case.status) and case.currency == intent.currency:
            owes = to_minor(case_owed(session, case, now).owed.total, case.currency)
            owes -= pending_payments(session, case)
        take = max(0, min(left, owes))
        left -= take
        row.booked_minor, row.booked_at = take, naive_utc(now)
        split.append({"case": row.case_id, "planned": row.planned_minor, "booked": take})
    first = cases[rows[0].case_id] if rows else None
    anchor = session.get(CaseRow, intent.case_id) or first
    assert anchor is not None
    add_case_audit(
        session,
        anchor,
        now,
        "payment_allocated",
        intent=intent.id,
        amount_minor=paid_minor,
        currency=intent.currency,
        split=split,
        credit_minor=left,
    )
    if left > 0 and anchor.debtor_id is not None:
        session.add(
            DebtorCreditRow(
                debtor_id=anchor.debtor_id,
                intent_id=intent.id,
                amount_minor=left,
                currency=intent.currency,
                state="kept",
                created_at=naive_utc(now),
            )
        )
        add_case_audit(
            session,
            anchor,
            now,
            "debtor_credit_kept",
            debtor=anchor.debtor_id,
            intent=intent.id,
            amount_minor=left,
            currency=intent.currency,
        )


def pending_payments(session: Session, case: CaseRow) -> int:
    """Payments stored for the case but not yet applied by a tick, in minor units."""
    payloads = session.scalars(
        select(EventRow.payload).where(
            EventRow.case_id == case.id,
            EventRow.type == "payment_received",
            EventRow.applied_at.is_(None),
        )
    ).all()
    return sum(to_minor(Decimal(str((p or {}).get("amount", 0))), case.currency) for p in payloads)


def allocation_event_id(provider: str, payment_id: str, state: str, case_id: int) -> str:
    """The event id of one case's share of a payment: the same on every delivery."""
    event_id = f"pay:{provider}:{payment_id}:{state}:{case_id}"
    if len(event_id) <= 100:
        return event_id
    digest = hashlib.sha256(payment_id.encode()).hexdigest()[:32]
    return f"pay:{provider}:sha-{digest}:{state}:{case_id}"[:100]


def charge_back_allocation(
    session: Session, intent: PaymentIntentRow, provider: str, payment_id: str, now: datetime
) -> list[tuple[CaseRow, int, str]]:
    """The cases a charged-back payment had paid, each with its share and the event id of its
    chargeback; the kept credit of that payment is marked charged back."""
    rows = session.scalars(
        select(PaymentAllocationRow)
        .where(PaymentAllocationRow.intent_id == intent.id)
        .order_by(PaymentAllocationRow.position)
    ).all()
    shares = []
    for row in rows:
        case = session.get(CaseRow, row.case_id)
        if row.booked_minor and case is not None:
            event_id = allocation_event_id(provider, payment_id, "charged_back", case.id)
            shares.append((case, row.booked_minor, event_id))
    credit = session.scalar(select(DebtorCreditRow).where(DebtorCreditRow.intent_id == intent.id))
    if credit is not None and credit.state == "kept":
        credit.state = "charged_back"
    return shares
