"""Provider webhooks: stored once, re-fetched, checked, recorded as case events exactly once."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, update

from connectors.payment import WebhookRejected
from connectors.payment_sandbox import SandboxPaymentProvider
from engine import (
    Database,
    Runtime,
    UnknownProvider,
    VirtualClock,
    accept_provider_webhook,
    process_provider_events,
    start_checkout,
    take_provider_webhook,
)
from engine.storage.models import CaseRow, EventRow, ProviderEventRow
from tests.engine.payments.conftest import URLS
from tests.factories import audit_rows, case_row


def events(db: Database, kind: str | None = None) -> list[tuple[str, str, dict]]:
    with db.transaction() as session:
        query = select(EventRow.event_id, EventRow.type, EventRow.payload).order_by(EventRow.id)
        if kind:
            query = query.where(EventRow.type == kind)
        return [tuple(r) for r in session.execute(query)]


def pay(db, providers, sandbox, case, clock, outcome="pay"):
    started = start_checkout(db, providers, case.id, "card", URLS, clock.now)
    hook = sandbox.complete(started.payment_id, outcome)
    take_provider_webhook(db, providers, "sandbox", hook.headers, hook.body, clock.now)
    return started, hook


def test_a_paid_payment_closes_the_case(
    db: Database, clock: VirtualClock, case: CaseRow, providers, sandbox: SandboxPaymentProvider
) -> None:
    started, _ = pay(db, providers, sandbox, case, clock)
    [(event_id, _kind, payload)] = events(db, "payment_received")
    assert event_id == f"pay:sandbox:{started.payment_id}:paid"
    assert payload == {"amount": "250.00", "currency": "EUR"}
    Runtime(db).tick(clock.now)
    with db.transaction() as session:
        row = case_row(session, case.external_id)
        assert (row.status, row.outcome, row.amount_open) == ("closed", "paid", 0)


def test_a_replayed_webhook_is_stored_once(
    db: Database, clock: VirtualClock, case: CaseRow, providers, sandbox: SandboxPaymentProvider
) -> None:
    _, hook = pay(db, providers, sandbox, case, clock)
    again = take_provider_webhook(db, providers, "sandbox", hook.headers, hook.body, clock.now)
    assert not again.created
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(ProviderEventRow)) == 1
    # Even a second processing of a fresh copy of the fact records nothing new.
    with db.transaction() as session:
        session.execute(update(ProviderEventRow).values(processed_at=None))
    process_provider_events(db, providers, clock.now)
    assert len(events(db, "payment_received")) == 1


def test_a_bad_signature_is_refused_and_nothing_stored(
    db: Database, clock: VirtualClock, case: CaseRow, providers, sandbox: SandboxPaymentProvider
) -> None:
    started = start_checkout(db, providers, case.id, "card", URLS, clock.now)
    hook = sandbox.complete(started.payment_id, "pay")
    forged = hook.body.replace(b"paid", b"PAID")
    with db.transaction() as session, pytest.raises(WebhookRejected, match="does not match"):
        accept_provider_webhook(session, providers, "sandbox", hook.headers, forged, clock.now)
    with db.transaction() as session, pytest.raises(WebhookRejected, match="missing"):
        accept_provider_webhook(session, providers, "sandbox", {}, hook.body, clock.now)
    with db.transaction() as session, pytest.raises(UnknownProvider):
        accept_provider_webhook(session, providers, "acme", hook.headers, hook.body, clock.now)
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(ProviderEventRow)) == 0


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("amount_minor", 100, "the payment is 100 minor units, the checkout asked for 25000"),
        ("currency", "USD", "the payment is in USD, the checkout asked for EUR"),
    ],
)
def test_an_amount_or_currency_mismatch_is_refused_with_the_reason(
    db: Database,
    clock: VirtualClock,
    case: CaseRow,
    providers,
    sandbox: SandboxPaymentProvider,
    field: str,
    value: object,
    reason: str,
) -> None:
    started = start_checkout(db, providers, case.id, "card", URLS, clock.now)
    # The provider's record says otherwise than we asked (a tampered or a broken provider).
    path = sandbox.directory / f"{started.payment_id}.json"
    stored = json.loads(path.read_text())
    stored[field] = value
    path.write_text(json.dumps(stored))
    hook = sandbox.complete(started.payment_id, "pay")
    take_provider_webhook(db, providers, "sandbox", hook.headers, hook.body, clock.now)
    assert events(db, "payment_received") == []
    with db.transaction() as session:
        [audit] = audit_rows(session, case.id, "payment_refused")
        assert audit.detail["reason"] == reason
        outcome = session.scalar(select(ProviderEventRow.outcome))
        assert outcome == f"refused: {reason}"


def test_a_failed_payment_is_a_payment_failed_event(
    db: Database, clock: VirtualClock, case: CaseRow, providers, sandbox: SandboxPaymentProvider
) -> None:
    pay(db, providers, sandbox, case, clock, outcome="fail")
    assert [k for _, k, _ in events(db) if k.startswith("payment")] == ["payment_failed"]
    Runtime(db).tick(clock.now)
    with db.transaction() as session:
        row = case_row(session, case.external_id)
        # The journey took its payment_failed way: the second reminder, then its end.
        assert (row.node_id, row.outcome, row.messages_sent) == ("done", "closed", 2)


def test_an_abandoned_payment_records_nothing(
    db: Database, clock: VirtualClock, case: CaseRow, providers, sandbox: SandboxPaymentProvider
) -> None:
    pay(db, providers, sandbox, case, clock, outcome="abandon")
    assert [k for _, k, _ in events(db) if k.startswith("payment")] == []
    with db.transaction() as session:
        assert session.scalar(select(ProviderEventRow.outcome)) == "canceled"


def test_a_payment_for_a_closed_case_is_kept_and_flagged(
    db: Database, clock: VirtualClock, case: CaseRow, providers, sandbox: SandboxPaymentProvider
) -> None:
    started = start_checkout(db, providers, case.id, "card", URLS, clock.now)
    with db.transaction() as session:  # the host closed the case while the debtor paid
        session.execute(update(CaseRow).values(status="closed", outcome="closed"))
    hook = sandbox.complete(started.payment_id, "pay")
    take_provider_webhook(db, providers, "sandbox", hook.headers, hook.body, clock.now)
    assert len(events(db, "payment_received")) == 1
    with db.transaction() as session:
        assert audit_rows(session, case.id, "event_ignored")
        assert audit_rows(session, case.id, "payment_for_closed_case")
        assert case_row(session, case.external_id).amount_open == 250


def test_a_chargeback_reopens_the_paid_case_and_the_journey_goes_on(
    db: Database, clock: VirtualClock, case: CaseRow, providers, sandbox: SandboxPaymentProvider
) -> None:
    started, _ = pay(db, providers, sandbox, case, clock)
    Runtime(db).tick(clock.now)
    hook = sandbox.charge_back(started.payment_id)
    take_provider_webhook(db, providers, "sandbox", hook.headers, hook.body, clock.now)
    assert [k for _, k, _ in events(db, "chargeback")] == ["chargeback"]
    Runtime(db).tick(clock.now)
    with db.transaction() as session:
        row = case_row(session, case.external_id)
        assert row.status in ("active", "closed") and row.amount_open == 250
        assert audit_rows(session, case.id, "reopened")
        # The wait ended at once: the journey sent its second reminder and went to its end.
        assert row.node_id == "done" and row.outcome == "closed"
        assert row.messages_sent == 2


def test_a_refund_is_an_event_and_leaves_the_balance(
    db: Database, clock: VirtualClock, case: CaseRow, providers, sandbox: SandboxPaymentProvider
) -> None:
    from connectors.payment import RefundRequest

    started, _ = pay(db, providers, sandbox, case, clock)
    sandbox.refund(RefundRequest("refund-1", started.payment_id, 5000))
    hook = sandbox.webhook(sandbox.payment(started.payment_id))
    take_provider_webhook(db, providers, "sandbox", hook.headers, hook.body, clock.now)
    [(event_id, _, payload)] = events(db, "payment_refunded")
    assert payload["amount"] == "50.00" and event_id.endswith(":refunded-5000")


def test_a_provider_that_cannot_answer_is_asked_again_later(
    db: Database, clock: VirtualClock, case: CaseRow, providers, sandbox: SandboxPaymentProvider
) -> None:
    started = start_checkout(db, providers, case.id, "card", URLS, clock.now)
    hook = sandbox.complete(started.payment_id, "pay")
    path = sandbox.directory / f"{started.payment_id}.json"
    good = path.read_bytes()
    path.write_bytes(b"{broken")  # the provider's own store is broken for a while
    take_provider_webhook(db, providers, "sandbox", hook.headers, hook.body, clock.now)
    with db.transaction() as session:
        row = session.scalar(select(ProviderEventRow))
        assert row.processed_at is None and row.outcome.startswith("fetch_failed: JSONDecodeError")
    path.write_bytes(good)
    process_provider_events(db, providers, clock.now)
    assert len(events(db, "payment_received")) == 1


def test_a_payment_the_provider_does_not_know_is_given_up(
    db: Database, clock: VirtualClock, case: CaseRow, providers, sandbox: SandboxPaymentProvider
) -> None:
    started = start_checkout(db, providers, case.id, "card", URLS, clock.now)
    hook = sandbox.complete(started.payment_id, "pay")
    (sandbox.directory / f"{started.payment_id}.json").unlink()
    take_provider_webhook(db, providers, "sandbox", hook.headers, hook.body, clock.now)
    with db.transaction() as session:
        row = session.scalar(select(ProviderEventRow))
        assert row.processed_at is not None and "has no payment" in row.outcome
    assert events(db, "payment_received") == []


@pytest.mark.parametrize(
    ("event", "webhook"),
    [
        ("payment_failed", "payment.failed"),
        ("payment_refunded", "payment.refunded"),
        ("chargeback", "payment.charged_back"),
    ],
)
def test_payment_facts_become_host_webhooks(event: str, webhook: str) -> None:
    from engine.delivery.webhooks import EVENT_TYPES, map_audit

    assert map_audit("event", {"event": event}, None) == webhook and webhook in EVENT_TYPES
