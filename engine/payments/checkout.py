"""Starting a payment: what a case may pay and how, and a checkout at its provider, once.

`start_checkout` writes the payment intent with its idempotency key in a transaction of its
own BEFORE it asks the provider, asks outside any transaction (a provider's seconds must not
hold the database), and writes the answer in a third. The key is made from the case, the
intent (the amount and currency being paid) and the attempt (how many earlier intents for it
ended failed or abandoned), so:

- a double click, a reload or a second tab finds the same unfinished intent and returns the
  same checkout (no second payment at the provider);
- a provider that times out leaves the intent `new` with its key; the next click asks the
  provider again with the same key, and the provider answers the payment it already made;
- only after a payment failed or was abandoned does a new attempt get a new key.

Instalment plans and bank transfers start elsewhere (later, and the bank-transfer room); they
reach the case through the same provider events and case events as this path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from babel.numbers import get_currency_precision
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors.base import ConnectorError
from connectors.payment import CheckoutRequest, PaymentError, PaymentProvider
from engine.core.case_status import is_open
from engine.core.clock import naive_utc
from engine.money.balance import booked_total
from engine.money.cases import case_owed
from engine.payments import crash_points
from engine.payments.providers import DEFAULT_PROVIDER, PaymentProviders
from engine.storage.audit_chain import add_case_audit
from engine.storage.db import Database
from engine.storage.models import CaseRow, PaymentIntentRow, VersionRow

DEFAULT_METHODS = ("card",)
# Intents still on their way: a click finds one of these before it makes a new one.
UNFINISHED = ("new", "open", "pending")
# Intents after which the debtor may try again with a new key.
RETRYABLE = ("failed", "canceled")
# The idempotency keys of instalment debits start so (engine/payments/plan_debits.py).
PLAN_KEY_PREFIX = "mahnwerk-plan-"
# The idempotency keys of checkouts for several cases of a debtor start so (allocations.py).
ITEMS_KEY_PREFIX = "mahnwerk-debtor-"


class PaymentRefused(ValueError):
    """The case cannot be paid now; reason: closed, nothing_open, method, provider."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


@dataclass(frozen=True)
class PaymentOptions:
    """What the portal offers a case: the amount open, the provider and the allowed methods."""

    case_id: int
    provider: str
    methods: tuple[str, ...]
    amount_minor: int
    currency: str
    refused: str | None  # why the case cannot be paid now (PaymentRefused.reason), or None


@dataclass(frozen=True)
class StartedCheckout:
    """The intent and where to send the debtor."""

    intent_id: int
    redirect_url: str
    payment_id: str
    reused: bool  # an unfinished intent was found (a double click, a reload, a retry)


def to_minor(amount: Decimal, currency: str) -> int:
    """An amount in the currency's minor units (cents), exactly; never through a float."""
    places = get_currency_precision(currency)
    return int((Decimal(amount) * (Decimal(10) ** places)).to_integral_value())


def from_minor(amount_minor: int, currency: str) -> Decimal:
    """Minor units back to an amount with the currency's places."""
    places = get_currency_precision(currency)
    return (Decimal(amount_minor) / (Decimal(10) ** places)).quantize(Decimal(10) ** -places)


def journey_payments(document: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """The provider and methods a journey document allows (validated on save and publish)."""
    chosen = (document.get("settings") or {}).get("payments") or {}
    methods = tuple(chosen.get("methods") or DEFAULT_METHODS)
    return str(chosen.get("provider") or DEFAULT_PROVIDER), methods


def payment_options(
    session: Session,
    case_id: int,
    providers: PaymentProviders | None = None,
    now: datetime | None = None,
    owed: Decimal | None = None,
) -> PaymentOptions:
    """What this case can pay, how, and, when it cannot, why.

    The amount is all the case owes: the principal, its fees and interest (with `now`, the
    interest accrued up to today too, engine/money/cases.py), so one payment can settle it.
    A caller that computed the case's owed total already passes it as `owed` (computed once).
    """
    case = session.get(CaseRow, case_id)
    if case is None:
        raise LookupError(f"There is no case with the row id {case_id}.")
    document = session.scalar(select(VersionRow.document).where(VersionRow.id == case.version_id))
    provider, methods = journey_payments(document or {})
    configured = providers is None or provider in providers.profiles
    if providers is not None and configured:
        try:
            offered = providers.get(provider).methods
        except ConnectorError:  # its settings are wrong: shown as not payable, logged by the hook
            configured, offered = False, ()
        methods = tuple(m for m in methods if m in offered)
    if owed is None:
        owed = booked_total(case) if now is None else case_owed(session, case, now).owed.total
    amount_minor = to_minor(owed, case.currency)
    refused = None
    if not is_open(case.status):
        refused = "closed"
    elif amount_minor <= 0:
        refused = "nothing_open"
    elif not configured:
        refused = "provider"
    elif not methods:
        refused = "method"
    return PaymentOptions(case.id, provider, methods, amount_minor, case.currency, refused)


def intent_key(case_id: int, amount_minor: int, currency: str, attempt: int) -> str:
    """The idempotency key of (case, intent, attempt): the same for every retry of an attempt."""
    return f"mahnwerk-case-{case_id}-pay-{amount_minor}{currency}-attempt-{attempt}"


def start_checkout(
    db: Database,
    providers: PaymentProviders,
    case_id: int,
    method: str,
    urls: tuple[str, str],
    now: datetime,
    description: str = "",
    locale: str = "de",
) -> StartedCheckout:
    """A checkout for the whole open amount of a case (return and cancel URLs in `urls`).

    Refused (PaymentRefused) for a closed case, nothing open, or a method the journey does not
    allow; a provider's PaymentError is raised after the intent keeps what happened, and a
    temporary one leaves the intent to be retried with the same key.
    """
    with db.transaction() as session:
        options = payment_options(session, case_id, providers, now)
        if options.refused:
            raise PaymentRefused(options.refused)
        if method not in options.methods:
            raise PaymentRefused("method", f"The method {method!r} is not offered for this case.")
        intent, reused = _intent(session, options, method, now)
        intent_id, key = intent.id, intent.idempotency_key
        if intent.redirect_url and intent.provider_payment_id:
            return StartedCheckout(intent.id, intent.redirect_url, intent.provider_payment_id, True)
        reference = session.scalar(select(CaseRow.external_id).where(CaseRow.id == case_id))
    crash_points.reached("intent_written")
    provider = providers.get(options.provider)
    request = CheckoutRequest(
        idempotency_key=key,
        case_ref=str(reference),
        amount_minor=options.amount_minor,
        currency=options.currency,
        description=description or str(reference),
        return_url=urls[0].replace("{intent}", str(intent_id)),
        cancel_url=urls[1].replace("{intent}", str(intent_id)),
        methods=(method,),  # type: ignore[arg-type]
        locale=locale,
        metadata={"case": str(reference), "intent": str(intent_id)},
    )
    return open_checkout(db, provider, request, intent_id, now, reused)


def open_checkout(
    db: Database,
    provider: PaymentProvider,
    request: CheckoutRequest,
    intent_id: int,
    now: datetime,
    reused: bool,
) -> StartedCheckout:
    """Ask the provider for the checkout of a written intent and keep its answer on it.

    A PaymentError is kept on the intent and raised (a temporary one leaves the intent to be
    retried with the same key)."""
    try:
        checkout = provider.create_checkout(request)
    except PaymentError as exc:
        _keep_error(db, intent_id, exc, now)
        raise
    crash_points.reached("checkout_created")
    with db.transaction() as session:
        row = session.get(PaymentIntentRow, intent_id)
        assert row is not None
        if row.state == "new":
            row.state = "open"
        row.provider_payment_id = checkout.payment_id
        row.redirect_url = checkout.redirect_url
        row.last_error = None
        row.updated_at = naive_utc(now)
    return StartedCheckout(intent_id, checkout.redirect_url, checkout.payment_id, reused)


def _intent(
    session: Session, options: PaymentOptions, method: str, now: datetime
) -> tuple[PaymentIntentRow, bool]:
    """The unfinished intent for this amount, or a new one with the next attempt's key."""
    same = (
        PaymentIntentRow.case_id == options.case_id,
        PaymentIntentRow.amount_minor == options.amount_minor,
        PaymentIntentRow.currency == options.currency,
        PaymentIntentRow.provider == options.provider,
        # An instalment's debit (engine/payments/plan_debits.py) is not this checkout.
        PaymentIntentRow.idempotency_key.not_like(f"{PLAN_KEY_PREFIX}%"),
        # Nor is a checkout for several cases of the debtor (engine/payments/allocations.py).
        PaymentIntentRow.idempotency_key.not_like(f"{ITEMS_KEY_PREFIX}%"),
    )
    return unfinished_or_new_intent(
        session,
        same,
        lambda attempt: intent_key(
            options.case_id, options.amount_minor, options.currency, attempt
        ),
        options,
        options.amount_minor,
        options.currency,
        method,
        now,
    )


def unfinished_or_new_intent(
    session: Session,
    same: tuple[Any, ...],
    key_of: Callable[[int], str],
    options: PaymentOptions,
    amount_minor: int,
    currency: str,
    method: str,
    now: datetime,
    with_intent: Callable[[PaymentIntentRow], Iterable[Any]] | None = None,
    **started: Any,
) -> tuple[PaymentIntentRow, bool]:
    """The newest unfinished intent matching `same` (reused: True), or a new one whose key is
    `key_of(attempt)`, stored with the rows `with_intent` makes for it (one savepoint) and a
    `payment_started` audit row on the case (plus `started`). A second click that wrote the
    same key a moment ago finds that one."""
    found = session.scalar(
        select(PaymentIntentRow)
        .where(*same, PaymentIntentRow.state.in_(UNFINISHED))
        .order_by(PaymentIntentRow.id.desc())
        .limit(1)
    )
    if found is not None:
        return found, True
    attempt = 1 + int(
        session.scalar(select(func.count()).select_from(PaymentIntentRow).where(*same)) or 0
    )
    key = key_of(attempt)
    row = PaymentIntentRow(
        case_id=options.case_id,
        provider=options.provider,
        idempotency_key=key,
        attempt=attempt,
        method=method,
        amount_minor=amount_minor,
        currency=currency,
        state="new",
        amount_refunded_minor=0,
        created_at=naive_utc(now),
        updated_at=naive_utc(now),
    )
    try:
        with session.begin_nested():
            session.add(row)
            if with_intent is not None:
                session.flush()  # the intent's id for the rows that name it
                session.add_all(with_intent(row))
    except IntegrityError:  # a second click wrote the same key a moment ago: that one it is
        existing = session.scalar(
            select(PaymentIntentRow).where(PaymentIntentRow.idempotency_key == key)
        )
        assert existing is not None
        return existing, True
    case = session.get(CaseRow, options.case_id)
    assert case is not None
    add_case_audit(
        session,
        case,
        now,
        "payment_started",
        provider=options.provider,
        amount_minor=amount_minor,
        currency=currency,
        method=method,
        attempt=attempt,
        **started,
    )
    return row, False


def _keep_error(db: Database, intent_id: int, exc: PaymentError, now: datetime) -> None:
    """Note the provider's refusal; a permanent one ends the intent so a new attempt may start."""
    with db.transaction() as session:
        row = session.get(PaymentIntentRow, intent_id)
        if row is None:
            return
        row.last_error = exc.reason[:1000]
        if not exc.temporary and row.state == "new":
            row.state = "failed"
        row.updated_at = naive_utc(now)


def intent_status(
    db: Database, providers: PaymentProviders, case_id: int, intent_id: int
) -> str | None:
    """An intent's state as its provider tells it now (as stored when the provider cannot be
    asked); None for no intent of this case with this id (another case's: nothing leaks)."""
    with db.transaction() as session:
        row = session.get(PaymentIntentRow, intent_id)
        if row is None or row.case_id != case_id:
            return None
        state, provider, payment_id = row.state, row.provider, row.provider_payment_id
    if payment_id is None or provider not in providers.profiles:
        return state
    try:
        return providers.get(provider).fetch_payment(payment_id).state
    except PaymentError:
        return state
