"""Settling a debtor's kept credit, once: paid back to the person, or set off against one of
their open cases.

A credit (`debtor_credits`, kept by engine/payments/credits.py and allocations.py) stays
`kept` until staff (the debtor page) or the host (`POST /debtors/{id}/credits/{credit}/settle`)
settle it:

- **paid back**: the money went back to the person (a bank transfer, the provider's refund);
  the row records the day, an optional reference and note, who and when. No case changes.
- **set off**: the credit pays one open case of the same person in the same currency. It is
  booked through the one event intake as `payment_received` with the event id
  `credit:<credit id>`, so it is stored once; the next tick applies it. A credit larger than
  what the case owes now (principal, fees, interest, less payments stored but not yet applied)
  sets off only that much: the rest stays a smaller kept credit (a new row naming this one in
  `rest_of_id`, unique), so no set-off ever makes a new overpayment.

Exactly once: the credit's row is locked (`FOR UPDATE` on PostgreSQL; SQLite's write
transactions are serial) and changed by a conditional `UPDATE ... WHERE state = 'kept'`. A
second submit of the same settlement answers `replayed`; a different one for a credit settled
meanwhile is refused (field `credit`, reason `settled`). Each settlement writes an audit row
`debtor_credit_settled` naming who.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.core.case_status import OPEN_STATUSES, is_open
from engine.core.clock import as_utc, naive_utc
from engine.intake.events import record_event
from engine.money.cases import case_owed
from engine.payments.allocations import pending_payments
from engine.payments.checkout import from_minor, to_minor
from engine.storage.audit_chain import add_case_audit
from engine.storage.models import (
    CaseRow,
    DebtorCreditRow,
    DebtorRow,
    PaymentIntentRow,
)

SETTLE_WAYS = ("paid_back", "set_off")
CREDIT_STATES = ("kept", "paid_back", "set_off", "charged_back")
MAX_REFERENCE = 100  # a bank transfer's reference (the payment payload's limit)
MAX_NOTE = 1000


class CreditRefused(ValueError):
    """A settlement that cannot be recorded; `field` names the field at fault, `reason` why:
    how (unknown), credit (unknown, settled), paid_on (missing, early, future), reference /
    note (long), case (missing, unknown, currency, nothing_owed)."""

    def __init__(self, field: str, reason: str, limit: Any = None) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason, self.limit = field, reason, limit


@dataclass(frozen=True)
class CreditActor:
    """Who settles: a staff member (email and user id) or a host's API token ("api:<name>")."""

    by: str
    user_id: int | None = None
    role: str = ""


@dataclass(frozen=True)
class Settlement:
    """What to record: `how` (paid_back or set_off) and its details."""

    how: str
    paid_on: date | None = None  # paid back: the day the money went out
    case_id: int | None = None  # set off: the case's row id ...
    case_ref: str | None = None  # ... or the host's external id
    reference: str = ""
    note: str = ""


@dataclass(frozen=True)
class SettledCredit:
    """What a settlement did; `replayed` when it had been recorded before."""

    credit_id: int
    state: str
    settled_minor: int
    currency: str
    case_id: int | None
    event_id: str | None
    rest_id: int | None
    rest_minor: int
    replayed: bool


@dataclass(frozen=True)
class CreditEntry:
    """One credit of the person as the staff history and the API list it."""

    row: DebtorCreditRow
    origin_case: str | None  # the external id of the case whose payment it came from
    set_off_case: str | None  # the external id of the case it was set off against


@dataclass(frozen=True)
class SetOffChoice:
    """An open case of the person a credit could be set off against, with what it owes now."""

    case_id: int
    external_id: str
    reference: str
    currency: str
    owed_minor: int


def credit_event_id(credit_id: int) -> str:
    """The event id of a credit's set-off: the same on every submit."""
    return f"credit:{credit_id}"


def settle_credit(
    session: Session,
    debtor_id: int,
    credit_id: int,
    settlement: Settlement,
    actor: CreditActor,
    now: datetime,
) -> SettledCredit:
    """Settle one kept credit of the debtor once; CreditRefused names the field at fault."""
    _check_texts(settlement)
    if settlement.how not in SETTLE_WAYS:
        raise CreditRefused("how", "unknown")
    credit = session.scalar(
        select(DebtorCreditRow)
        .where(DebtorCreditRow.id == credit_id, DebtorCreditRow.debtor_id == debtor_id)
        .with_for_update()
    )
    if credit is None:
        raise CreditRefused("credit", "unknown")
    if credit.state != "kept":
        return _replay(session, credit, settlement)
    if settlement.how == "paid_back":
        return _pay_back(session, credit, settlement, actor, now)
    return _set_off(session, credit, settlement, actor, now)


def _check_texts(settlement: Settlement) -> None:
    if len(settlement.reference) > MAX_REFERENCE:
        raise CreditRefused("reference", "long", MAX_REFERENCE)
    if len(settlement.note) > MAX_NOTE:
        raise CreditRefused("note", "long", MAX_NOTE)


def _replay(session: Session, credit: DebtorCreditRow, settlement: Settlement) -> SettledCredit:
    """The same settlement again answers what it did; any other is refused."""
    same = credit.state == settlement.how
    if same and settlement.how == "paid_back":
        same = credit.settled_on == settlement.paid_on
    elif same:
        case = _target(session, settlement, lock=False)
        same = case is not None and case.id == credit.set_off_case_id
    if not same:
        raise CreditRefused("credit", "settled", credit.state)
    return _result(session, credit, True)


def _result(session: Session, credit: DebtorCreditRow, replayed: bool) -> SettledCredit:
    rest = session.scalar(select(DebtorCreditRow).where(DebtorCreditRow.rest_of_id == credit.id))
    return SettledCredit(
        credit.id,
        credit.state,
        credit.settled_minor or 0,
        credit.currency,
        credit.set_off_case_id,
        credit_event_id(credit.id) if credit.state == "set_off" else None,
        rest.id if rest is not None else None,
        rest.amount_minor if rest is not None else 0,
        replayed,
    )


def _today(session: Session, debtor_id: int, now: datetime) -> date:
    """Today in the debtor's time zone (UTC when it has none that loads)."""
    name = session.scalar(select(DebtorRow.timezone).where(DebtorRow.id == debtor_id))
    try:
        zone = ZoneInfo(name or "UTC")
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return as_utc(now).astimezone(zone).date()


def _claim(session: Session, credit: DebtorCreditRow, values: dict[str, Any]) -> bool:
    """Settle the row if it is still kept (the conditional UPDATE); whether this call did."""
    result = session.execute(
        update(DebtorCreditRow)
        .where(DebtorCreditRow.id == credit.id, DebtorCreditRow.state == "kept")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.refresh(credit)
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _settled_values(state: str, amount: int, actor: CreditActor, now: datetime) -> dict[str, Any]:
    return {
        "state": state,
        "settled_minor": amount,
        "settled_at": naive_utc(now),
        "settled_by": actor.by[:254],
        "settled_by_user_id": actor.user_id,
    }


def _pay_back(
    session: Session,
    credit: DebtorCreditRow,
    settlement: Settlement,
    actor: CreditActor,
    now: datetime,
) -> SettledCredit:
    day = settlement.paid_on
    if day is None:
        raise CreditRefused("paid_on", "missing")
    if day < credit.created_at.date():
        raise CreditRefused("paid_on", "early", credit.created_at.date())
    today = _today(session, credit.debtor_id, now)
    if day > today:
        raise CreditRefused("paid_on", "future", today)
    values = _settled_values("paid_back", credit.amount_minor, actor, now)
    values.update(settled_on=day, reference=settlement.reference or None)
    values["note"] = settlement.note or None
    if not _claim(session, credit, values):
        return _replay(session, credit, settlement)
    anchor = _origin_case(session, credit)
    _audit(session, anchor, credit, "paid_back", actor, now, paid_on=day.isoformat())
    return _result(session, credit, False)


def _target(session: Session, settlement: Settlement, lock: bool) -> CaseRow | None:
    """The case named by row id or external id (locked: two set-offs on it take turns)."""
    if settlement.case_id is not None:
        query = select(CaseRow).where(CaseRow.id == settlement.case_id)
    elif settlement.case_ref:
        query = select(CaseRow).where(CaseRow.external_id == settlement.case_ref)
    else:
        return None
    return session.scalar(query.with_for_update() if lock else query)


def owed_now(session: Session, case: CaseRow, now: datetime) -> int:
    """What an open case owes now in minor units, less payments stored but not yet applied."""
    owed = to_minor(case_owed(session, case, now).owed.total, case.currency)
    return max(0, owed - pending_payments(session, case))


def _set_off(
    session: Session,
    credit: DebtorCreditRow,
    settlement: Settlement,
    actor: CreditActor,
    now: datetime,
) -> SettledCredit:
    if settlement.case_id is None and not settlement.case_ref:
        raise CreditRefused("case", "missing")
    case = _target(session, settlement, lock=True)
    if case is None or case.debtor_id != credit.debtor_id or not is_open(case.status):
        raise CreditRefused("case", "unknown")
    if case.currency != credit.currency:
        raise CreditRefused("case", "currency", credit.currency)
    owes = owed_now(session, case, now)
    if owes <= 0:
        raise CreditRefused("case", "nothing_owed")
    take = min(credit.amount_minor, owes)
    values = _settled_values("set_off", take, actor, now)
    values.update(settled_on=_today(session, credit.debtor_id, now), set_off_case_id=case.id)
    values.update(reference=settlement.reference or None, note=settlement.note or None)
    if not _claim(session, credit, values):
        return _replay(session, credit, settlement)
    event_id = credit_event_id(credit.id)
    payload = {
        "amount": str(from_minor(take, case.currency)),
        "currency": case.currency,
        "method": "credit",
        "reference": event_id,
    }
    record_event(session, case.external_id, event_id, "payment_received", payload, now)
    rest = credit.amount_minor - take
    if rest > 0:
        session.add(
            DebtorCreditRow(
                debtor_id=credit.debtor_id,
                case_id=credit.case_id,
                amount_minor=rest,
                currency=credit.currency,
                state="kept",
                created_at=naive_utc(now),
                rest_of_id=credit.id,
            )
        )
        session.flush()
    _audit(session, case, credit, "set_off", actor, now, event_id=event_id, rest_minor=rest)
    return _result(session, credit, False)


def _origin_case(session: Session, credit: DebtorCreditRow) -> CaseRow | None:
    """The case whose payment brought the credit (a checkout's: the link's case)."""
    case_id = credit.case_id
    if case_id is None and credit.intent_id is not None:
        case_id = session.scalar(
            select(PaymentIntentRow.case_id).where(PaymentIntentRow.id == credit.intent_id)
        )
    return session.get(CaseRow, case_id) if case_id is not None else None


def _audit(
    session: Session,
    case: CaseRow | None,
    credit: DebtorCreditRow,
    how: str,
    actor: CreditActor,
    now: datetime,
    **detail: Any,
) -> None:
    add_case_audit(
        session,
        case,
        now,
        "debtor_credit_settled",
        credit=credit.id,
        debtor=credit.debtor_id,
        how=how,
        amount_minor=credit.settled_minor,
        currency=credit.currency,
        reference=credit.reference,
        by=actor.by,
        user_id=actor.user_id,
        role=actor.role,
        **detail,
    )


def credit_history(session: Session, debtor_id: int) -> list[CreditEntry]:
    """Every credit of the person, newest first, with its state and how it was settled."""
    rows = list(
        session.scalars(
            select(DebtorCreditRow)
            .where(DebtorCreditRow.debtor_id == debtor_id)
            .order_by(DebtorCreditRow.id.desc())
        )
    )
    origins = {r.id: r.case_id if r.case_id is not None else _intent_case(session, r) for r in rows}
    wanted = set(origins.values()) | {r.set_off_case_id for r in rows}
    ids = sorted(i for i in wanted if i is not None)
    query = select(CaseRow.id, CaseRow.external_id).where(CaseRow.id.in_(ids))
    names: dict[int | None, str] = {case_id: ext for case_id, ext in session.execute(query)}
    return [CreditEntry(r, names.get(origins[r.id]), names.get(r.set_off_case_id)) for r in rows]


def _intent_case(session: Session, row: DebtorCreditRow) -> int | None:
    if row.intent_id is None:
        return None
    return session.scalar(
        select(PaymentIntentRow.case_id).where(PaymentIntentRow.id == row.intent_id)
    )


def set_off_choices(session: Session, debtor_id: int, now: datetime) -> list[SetOffChoice]:
    """The person's open cases that owe something, oldest due date first (at most 50)."""
    cases = session.scalars(
        select(CaseRow)
        .where(CaseRow.debtor_id == debtor_id, CaseRow.status.in_(OPEN_STATUSES))
        .order_by(CaseRow.due_date, CaseRow.id)
        .limit(50)
    )
    choices = []
    for case in cases:
        owes = owed_now(session, case, now)
        if owes > 0:
            reference = case.reference or case.external_id
            choices.append(SetOffChoice(case.id, case.external_id, reference, case.currency, owes))
    return choices
