"""Instalments collected by the sandbox's SEPA debits on their dates: once per instalment, a paid
debit allocated to the plan through the provider path, a failed one missed after the grace."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from connectors.payment_gocardless import GoCardlessPayments
from connectors.payment_sandbox import SandboxPaymentProvider
from engine import Database, PaymentProviders, Runtime, VirtualClock, take_provider_webhook
from engine.payments.mandates import MandateRefused, check_iban, provider_mandate
from engine.payments.plan_book import Mandate, agree_plan, check_plans, plan_of
from engine.payments.plan_debits import collect_instalments, schedule_instalments
from engine.storage.models import EventRow, PaymentIntentRow
from tests.connectors.conftest import _started
from tests.connectors.fake_gocardless import TOKEN, WEBHOOK_SECRET, FakeGoCardless
from tests.engine.payments.conftest import plan_doc
from tests.factories import make_case, publish

IBAN = "DE89 3704 0044 0532 0130 00"


@pytest.fixture
def fake_gocardless() -> Iterator[Any]:
    """The local GoCardless API of tests/connectors (billing requests, schedules, webhooks)."""
    yield from _started(FakeGoCardless())


def _plan_case(db: Database, clock: VirtualClock) -> int:
    with db.transaction() as session:
        version = publish(session, plan_doc(), clock.now)
        case_id = make_case(session, version, clock.now, external_id="DEBIT-1").id
    Runtime(db).tick(clock.now)
    mandate = Mandate("sandbox", "Erika Mustermann", "DE89 **** 3000")
    with db.transaction() as session:
        agree_plan(session, case_id, "debit-key", 2, date(2026, 3, 4), clock.now, mandate=mandate)
    return case_id


def _kinds(db: Database, case_id: int) -> list[str]:
    with db.transaction() as session:
        return list(
            session.scalars(
                select(EventRow.type).where(EventRow.case_id == case_id).order_by(EventRow.id)
            )
        )


def test_debits_on_their_dates_once_paid_and_failed(
    db: Database,
    clock: VirtualClock,
    sandbox: SandboxPaymentProvider,
    providers: PaymentProviders,
) -> None:
    case_id = _plan_case(db, clock)
    assert collect_instalments(db, providers, clock.now) == 0  # 2 March: nothing due yet
    clock.advance(timedelta(days=2))  # 4 March, the first date
    assert collect_instalments(db, providers, clock.now) == 1
    assert collect_instalments(db, providers, clock.now) == 0  # once per instalment
    [debit] = sandbox.payments()
    assert (debit["state"], debit["amount_minor"], debit["method"]) == (
        "pending",
        12500,
        "sepa_debit",
    )
    assert debit["metadata"]["mandate"].startswith(f"MW-{case_id}-")
    hook = sandbox.complete(debit["id"], "pay")
    take_provider_webhook(db, providers, "sandbox", hook.headers, hook.body, clock.now)
    with db.transaction() as session:
        assert check_plans(session, clock.now).paid == 1
    assert _kinds(db, case_id)[-2:] == ["payment_received", "instalment_paid"]

    clock.advance(timedelta(days=31))  # 4 April, the second date: its debit fails
    assert collect_instalments(db, providers, clock.now) == 1
    second = sandbox.payments()[-1]
    hook = sandbox.complete(second["id"], "fail")
    take_provider_webhook(db, providers, "sandbox", hook.headers, hook.body, clock.now)
    clock.advance(timedelta(days=4))  # past the 3 grace days
    with db.transaction() as session:
        assert check_plans(session, clock.now).missed == 1
        assert [i[3] for i in plan_of(session, case_id).instalments] == ["paid", "missed"]
        states = session.scalars(select(PaymentIntentRow.state).order_by(PaymentIntentRow.id))
        assert list(states) == ["paid", "failed"]
    assert _kinds(db, case_id)[-2:] == ["payment_failed", "instalment_missed"]
    assert len(sandbox.payments()) == 2


def test_a_pay_now_click_never_takes_an_instalments_debit(
    db: Database, clock: VirtualClock, providers: PaymentProviders
) -> None:
    case_id = _plan_case(db, clock)
    clock.advance(timedelta(days=2))
    collect_instalments(db, providers, clock.now)
    from engine import start_checkout

    urls = ("https://x.example/p/t/payment/{intent}", "https://x.example/p/t")
    started = start_checkout(db, providers, case_id, "card", urls, clock.now)
    assert started.reused is False and "/checkout/" in started.redirect_url


def test_gocardless_mandate_and_instalment_schedule_against_the_local_fake(
    db: Database, clock: VirtualClock, fake_gocardless: Any
) -> None:
    """The portal's path with GoCardless: the entered IBAN becomes a mandate (MD...), the plan an
    instalment schedule on it (once), its payments the instalments' intents, and a confirmed
    payment's signed webhook an instalment paid."""
    gc = GoCardlessPayments(
        token=TOKEN, secret=WEBHOOK_SECRET, base_url=fake_gocardless.base_url, timeout=2.0
    )
    registry = PaymentProviders({})
    registry.add("gocardless", gc)
    with db.transaction() as session:
        version = publish(session, plan_doc(provider="gocardless"), clock.now)
        case_id = make_case(session, version, clock.now, external_id="GC-PLAN").id
    key = f"portal:{case_id}:plan:once-value-1234567"
    made = provider_mandate(
        registry, "gocardless", key, "Erika Mustermann", check_iban(IBAN), "EUR", "GC-PLAN"
    )
    assert made and made.startswith("MD")
    assert (
        provider_mandate(
            registry, "gocardless", key, "Erika Mustermann", check_iban(IBAN), "EUR", "GC-PLAN"
        )
        == made
    )  # a retry: the same mandate
    mandate = Mandate("gocardless", "Erika Mustermann", "DE89 **** 3000", made)
    with db.transaction() as session:
        agree_plan(session, case_id, key, 2, date(2026, 3, 9), clock.now, mandate=mandate)
    assert schedule_instalments(db, registry, clock.now) == 1
    assert schedule_instalments(db, registry, clock.now) == 0  # once
    [schedule] = [o for o in fake_gocardless.objects.values() if o["id"].startswith("IS")]
    assert schedule["links"]["mandate"] == made and schedule["total_amount"] == 25000
    with db.transaction() as session:
        intents = session.scalars(select(PaymentIntentRow).order_by(PaymentIntentRow.id)).all()
        pairs = [(i.provider_payment_id, i.amount_minor) for i in intents]
    assert pairs == list(zip(schedule["links"]["payments"], [12500, 12500], strict=True))
    first = schedule["links"]["payments"][0]
    event = fake_gocardless.set_payment(first, "confirmed")
    headers, body = fake_gocardless.webhook(event)
    take_provider_webhook(db, registry, "gocardless", headers, body, clock.now)
    clock.advance(timedelta(days=8))
    with db.transaction() as session:
        assert check_plans(session, clock.now).paid == 1
    assert _kinds(db, case_id)[-2:] == ["payment_received", "instalment_paid"]
    with pytest.raises(MandateRefused) as refused:
        provider_mandate(registry, "gocardless", "k2", "Erika Mustermann", "DE89", "EUR", "X")
    assert refused.value.field == "iban"
