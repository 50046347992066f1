"""The sandbox payment provider: the contract, idempotency, signed webhooks, files on disk."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.payment import (
    CheckoutRequest,
    PaymentError,
    PaymentProvider,
    RefundRequest,
    WebhookRejected,
)
from connectors.payment_sandbox import HEADER, SandboxPaymentProvider
from connectors.registry import build_connector

CHECKOUT = "http://127.0.0.1:5000/p/sandbox/checkout"


@pytest.fixture
def sandbox(tmp_path: Path) -> SandboxPaymentProvider:
    return SandboxPaymentProvider(tmp_path, "whsec-unit", CHECKOUT)


def request(key: str = "case-1-attempt-1", **changes: object) -> CheckoutRequest:
    values: dict = {
        "idempotency_key": key,
        "case_ref": "INV-1",
        "amount_minor": 12345,
        "currency": "EUR",
        "description": "Invoice INV-1",
        "return_url": "http://127.0.0.1:5000/p/t/payment/1",
        "cancel_url": "http://127.0.0.1:5000/p/t",
    }
    values.update(changes)
    return CheckoutRequest(**values)


def test_it_is_a_payment_provider_built_by_the_registry(tmp_path: Path) -> None:
    built = build_connector(
        "payment",
        {
            "provider": "sandbox",
            "directory": str(tmp_path),
            "webhook_secret": "s",
            "checkout_url": CHECKOUT,
        },
    )
    assert isinstance(built, PaymentProvider) and built.name == "sandbox"


def test_the_same_key_finds_the_same_payment(sandbox: SandboxPaymentProvider) -> None:
    first = sandbox.create_checkout(request())
    again = sandbox.create_checkout(request())
    other = sandbox.create_checkout(request("case-1-attempt-2"))
    assert first == again and other.payment_id != first.payment_id
    assert first.redirect_url == f"{CHECKOUT}/{first.payment_id}"
    assert len(sandbox.payments()) == 2


def test_a_key_reused_for_another_amount_is_refused(sandbox: SandboxPaymentProvider) -> None:
    sandbox.create_checkout(request())
    with pytest.raises(PaymentError, match="used before"):
        sandbox.create_checkout(request(amount_minor=1))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount_minor": 0}, "amount_minor"),
        ({"amount_minor": 1.5}, "amount_minor"),
        ({"currency": "eur"}, "currency"),
        ({"methods": ("bitcoin",)}, "methods"),
        ({"idempotency_key": ""}, "idempotency_key"),
    ],
)
def test_bad_requests_name_the_field(
    sandbox: SandboxPaymentProvider, changes: dict, field: str
) -> None:
    with pytest.raises(PaymentError, match=field):
        sandbox.create_checkout(request(**changes))


def test_a_lost_reply_stores_the_payment_and_is_temporary(sandbox: SandboxPaymentProvider) -> None:
    sandbox.lose_replies = 1
    with pytest.raises(PaymentError) as raised:
        sandbox.create_checkout(request())
    assert raised.value.temporary
    assert sandbox.create_checkout(request()).payment_id == sandbox.payments()[0]["id"]


def test_pay_fail_abandon_and_the_first_click_wins(sandbox: SandboxPaymentProvider) -> None:
    ids = [sandbox.create_checkout(request(f"k{n}")).payment_id for n in range(3)]
    for payment_id, outcome in zip(ids, ("pay", "fail", "abandon"), strict=True):
        sandbox.complete(payment_id, outcome)
    states = [sandbox.fetch_payment(p).state for p in ids]
    assert states == ["paid", "failed", "canceled"]
    sandbox.complete(ids[0], "fail")
    assert sandbox.fetch_payment(ids[0]).state == "paid"
    assert sandbox.fetch_payment(ids[1]).failure_reason


def test_webhooks_are_signed_and_verified(sandbox: SandboxPaymentProvider) -> None:
    payment_id = sandbox.create_checkout(request()).payment_id
    hook = sandbox.complete(payment_id, "pay")
    event = sandbox.parse_webhook(hook.headers, hook.body)
    assert (event.provider, event.kind, event.payment_id) == ("sandbox", "payment.paid", payment_id)
    with pytest.raises(WebhookRejected, match="does not match"):
        sandbox.parse_webhook(hook.headers, hook.body + b" ")
    other = SandboxPaymentProvider(sandbox.directory, "another-secret", CHECKOUT)
    with pytest.raises(WebhookRejected):
        other.parse_webhook(hook.headers, hook.body)
    stale = sandbox.webhook(sandbox.payment(payment_id), datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(WebhookRejected, match="too old"):
        sandbox.parse_webhook(stale.headers, stale.body)
    lower = {k.lower(): v for k, v in hook.headers.items()}
    assert sandbox.parse_webhook(lower, hook.body).event_id == event.event_id
    assert HEADER in hook.headers


def test_each_state_has_its_own_event_id(sandbox: SandboxPaymentProvider) -> None:
    payment_id = sandbox.create_checkout(request()).payment_id
    paid = sandbox.complete(payment_id, "pay")
    back = sandbox.charge_back(payment_id)
    assert json.loads(paid.body)["id"] != json.loads(back.body)["id"]
    assert sandbox.fetch_payment(payment_id).state == "charged_back"


def test_refunds_once_per_key_and_never_more_than_paid(sandbox: SandboxPaymentProvider) -> None:
    payment_id = sandbox.create_checkout(request()).payment_id
    with pytest.raises(PaymentError, match="Only a paid"):
        sandbox.refund(RefundRequest("r1", payment_id, 100))
    sandbox.complete(payment_id, "pay")
    first = sandbox.refund(RefundRequest("r1", payment_id, 100))
    again = sandbox.refund(RefundRequest("r1", payment_id, 100))
    assert first == again and sandbox.fetch_payment(payment_id).amount_refunded_minor == 100
    with pytest.raises(PaymentError):
        sandbox.refund(RefundRequest("r2", payment_id, 12345))
    rest = sandbox.refund(RefundRequest("r3", payment_id))
    assert rest.amount_minor == 12245


def test_unknown_and_malformed_ids_are_refused(sandbox: SandboxPaymentProvider) -> None:
    for payment_id in ("sbx_" + "0" * 32, "../../etc/passwd", ""):
        with pytest.raises(PaymentError, match="no payment"):
            sandbox.fetch_payment(payment_id)


def test_payments_survive_a_new_instance(sandbox: SandboxPaymentProvider) -> None:
    payment_id = sandbox.create_checkout(request()).payment_id
    sandbox.complete(payment_id, "pay")
    reopened = SandboxPaymentProvider(sandbox.directory, "whsec-unit", CHECKOUT)
    assert reopened.fetch_payment(payment_id).state == "paid"
    assert reopened.create_checkout(request()).payment_id == payment_id
