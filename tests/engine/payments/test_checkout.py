"""Starting a checkout: the key written first, a double click, a timeout, refusals."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from connectors.payment import PaymentError
from connectors.payment_sandbox import SandboxPaymentProvider
from engine import (
    Database,
    PaymentProviders,
    PaymentRefused,
    VirtualClock,
    payment_options,
    start_checkout,
)
from engine.payments.checkout import from_minor, to_minor
from engine.storage.models import CaseRow, PaymentIntentRow
from tests.engine.payments.conftest import URLS
from tests.factories import audit_rows


def intents(db: Database) -> list[PaymentIntentRow]:
    with db.transaction() as session:
        rows = list(session.scalars(select(PaymentIntentRow).order_by(PaymentIntentRow.id)))
        session.expunge_all()
        return rows


def test_minor_units_are_exact() -> None:
    from decimal import Decimal

    assert to_minor(Decimal("250.10"), "EUR") == 25010
    assert to_minor(Decimal("1234"), "JPY") == 1234
    assert from_minor(25010, "EUR") == Decimal("250.10")


def test_options_follow_the_journey_settings(db: Database, case: CaseRow, providers) -> None:
    with db.transaction() as session:
        options = payment_options(session, case.id, providers)
    assert options.provider == "sandbox"
    assert options.methods == ("card", "sepa_debit")
    assert (options.amount_minor, options.currency, options.refused) == (25000, "EUR", None)


def test_checkout_writes_the_intent_and_redirects(
    db: Database, clock: VirtualClock, case: CaseRow, providers, sandbox: SandboxPaymentProvider
) -> None:
    started = start_checkout(db, providers, case.id, "card", URLS, clock.now)
    assert started.redirect_url.startswith("https://pay.example.org/p/sandbox/checkout/sbx_")
    [intent] = intents(db)
    assert intent.state == "open" and intent.provider_payment_id == started.payment_id
    assert intent.idempotency_key == f"mahnwerk-case-{case.id}-pay-25000EUR-attempt-1"
    [payment] = sandbox.payments()
    assert payment["return_url"].endswith(f"/payment/{intent.id}")
    with db.transaction() as session:
        assert audit_rows(session, case.id, "payment_started")


def test_a_double_click_returns_the_same_checkout(
    db: Database, clock: VirtualClock, case: CaseRow, providers, sandbox: SandboxPaymentProvider
) -> None:
    first = start_checkout(db, providers, case.id, "card", URLS, clock.now)
    second = start_checkout(db, providers, case.id, "card", URLS, clock.now)
    assert (second.intent_id, second.redirect_url) == (first.intent_id, first.redirect_url)
    assert second.reused
    assert len(intents(db)) == 1 and len(sandbox.payments()) == 1


def test_a_provider_timeout_leaves_a_retryable_intent_and_one_payment(
    db: Database, clock: VirtualClock, case: CaseRow, providers, sandbox: SandboxPaymentProvider
) -> None:
    sandbox.lose_replies = 1
    with pytest.raises(PaymentError) as raised:
        start_checkout(db, providers, case.id, "card", URLS, clock.now)
    assert raised.value.temporary
    [intent] = intents(db)
    assert intent.state == "new" and intent.last_error and intent.provider_payment_id is None
    retried = start_checkout(db, providers, case.id, "card", URLS, clock.now)
    [intent] = intents(db)
    assert intent.state == "open" and intent.provider_payment_id == retried.payment_id
    assert len(sandbox.payments()) == 1  # the provider found the key: no second payment


def test_after_a_failed_payment_a_new_attempt_gets_a_new_key(
    db: Database, clock: VirtualClock, case: CaseRow, providers, sandbox: SandboxPaymentProvider
) -> None:
    first = start_checkout(db, providers, case.id, "card", URLS, clock.now)
    with db.transaction() as session:
        session.execute(update(PaymentIntentRow).values(state="failed"))
    second = start_checkout(db, providers, case.id, "card", URLS, clock.now)
    assert second.payment_id != first.payment_id
    assert [i.attempt for i in intents(db)] == [1, 2]


def test_refusals_name_the_reason(
    db: Database, clock: VirtualClock, case: CaseRow, providers
) -> None:
    with pytest.raises(PaymentRefused) as raised:
        start_checkout(db, providers, case.id, "paypal", URLS, clock.now)
    assert raised.value.reason == "method"
    with db.transaction() as session:
        session.execute(update(CaseRow).values(amount_open=0))
    with pytest.raises(PaymentRefused) as raised:
        start_checkout(db, providers, case.id, "card", URLS, clock.now)
    assert raised.value.reason == "nothing_open"
    with db.transaction() as session:
        session.execute(update(CaseRow).values(amount_open=10, status="closed", outcome="paid"))
    with pytest.raises(PaymentRefused) as raised:
        start_checkout(db, providers, case.id, "card", URLS, clock.now)
    assert raised.value.reason == "closed"
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(PaymentIntentRow)) == 0


def test_an_unconfigured_provider_is_refused(
    db: Database, clock: VirtualClock, case: CaseRow
) -> None:
    with pytest.raises(PaymentRefused) as raised:
        start_checkout(db, PaymentProviders({}), case.id, "card", URLS, clock.now)
    assert raised.value.reason == "provider"
