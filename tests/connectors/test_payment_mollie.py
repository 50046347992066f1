"""Mollie through the official SDK against a local server speaking the Mollie v2 API."""

from __future__ import annotations

import time

import pytest

from connectors.base import ConnectorConfigError
from connectors.payment import (
    CheckoutRequest,
    PaymentError,
    PaymentProvider,
    RefundRequest,
    WebhookRejected,
)
from connectors.payment_common import from_decimal_string, to_decimal_string
from connectors.payment_mollie import MolliePayments
from connectors.registry import build_connector
from tests.connectors.fake_http import Reply
from tests.connectors.fake_mollie import API_KEY, problem


def checkout(**kw) -> CheckoutRequest:
    fields = dict(
        idempotency_key="case-7:pay:1",
        case_ref="INV-2026-0007",
        amount_minor=8900,
        currency="EUR",
        description="Rechnung 2026-0007",
        return_url="https://mahnwerk.example/p/tok/paid",
        cancel_url="https://mahnwerk.example/p/tok",
    )
    fields.update(kw)
    return CheckoutRequest(**fields)


def provider(fake, **kw) -> MolliePayments:
    settings = dict(
        api_key=API_KEY,
        api_endpoint=fake.base_url,
        webhook_url="https://mahnwerk.example/hooks/payments/mollie",
        timeout=2.0,
    )
    settings.update(kw)
    return MolliePayments(**settings)


def test_satisfies_the_payment_protocol(fake_mollie) -> None:
    assert isinstance(provider(fake_mollie), PaymentProvider)


def test_checkout_sends_decimal_amount_urls_locale_and_key(fake_mollie) -> None:
    made = provider(fake_mollie).create_checkout(checkout(locale="de", methods=("card", "paypal")))
    assert made.payment_id.startswith("tr_")
    assert made.redirect_url == f"https://www.mollie.com/checkout/select-method/{made.payment_id}"
    sent = fake_mollie.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/v2/payments")
    assert sent.header("Idempotency-Key") == "case-7:pay:1"
    body = sent.json()
    assert body["amount"] == {"currency": "EUR", "value": "89.00"}
    assert body["method"] == ["creditcard", "paypal"]
    assert body["locale"] == "de_DE"
    assert body["webhookUrl"] == "https://mahnwerk.example/hooks/payments/mollie"
    assert body["metadata"] == {"case_ref": "INV-2026-0007", "checkout_key": "case-7:pay:1"}


@pytest.mark.parametrize(
    ("minor", "currency", "value"),
    [
        (8900, "EUR", "89.00"),
        (1, "EUR", "0.01"),
        (123456789, "EUR", "1234567.89"),
        (1500, "JPY", "1500"),
        (7, "ISK", "7"),
        (1234, "KWD", "1.234"),
        (10, "GBP", "0.10"),
    ],
)
def test_minor_units_become_exact_decimal_strings_and_back(minor, currency, value) -> None:
    assert to_decimal_string(minor, currency) == value
    assert from_decimal_string(value, currency) == minor


def test_a_decimal_string_with_too_many_places_is_refused() -> None:
    with pytest.raises(PaymentError, match="more decimals than JPY"):
        from_decimal_string("10.5", "JPY")
    with pytest.raises(PaymentError, match="not a decimal"):
        from_decimal_string("1e3", "EUR")


def test_yen_checkout_is_whole_yen_and_reads_back(fake_mollie) -> None:
    mollie = provider(fake_mollie)
    made = mollie.create_checkout(checkout(amount_minor=1500, currency="JPY"))
    assert fake_mollie.requests[-1].json()["amount"] == {"currency": "JPY", "value": "1500"}
    status = mollie.fetch_payment(made.payment_id)
    assert (status.amount_minor, status.currency, status.state) == (1500, "JPY", "open")


def test_idempotent_retry_returns_the_same_payment(fake_mollie) -> None:
    mollie = provider(fake_mollie)
    first = mollie.create_checkout(checkout())
    assert mollie.create_checkout(checkout()) == first
    assert len(fake_mollie.payments) == 1


def test_same_key_for_another_amount_is_refused(fake_mollie) -> None:
    mollie = provider(fake_mollie)
    mollie.create_checkout(checkout())
    with pytest.raises(PaymentError, match="422") as caught:
        mollie.create_checkout(checkout(amount_minor=100))
    assert not caught.value.temporary


def test_paid_refunded_and_charged_back_states(fake_mollie) -> None:
    mollie = provider(fake_mollie)
    made = mollie.create_checkout(checkout())
    fake_mollie.pay(made.payment_id)
    status = mollie.fetch_payment(made.payment_id)
    assert (status.state, status.method, status.metadata["case_ref"]) == (
        "paid",
        "creditcard",
        "INV-2026-0007",
    )
    refund = mollie.refund(RefundRequest("case-7:refund:1", made.payment_id, amount_minor=900))
    assert (refund.amount_minor, refund.state, refund.refund_id[:3]) == (900, "pending", "re_")
    status = mollie.fetch_payment(made.payment_id)
    assert (status.state, status.amount_refunded_minor) == ("refunded", 900)
    fake_mollie.chargeback(made.payment_id, "80.00")
    assert mollie.fetch_payment(made.payment_id).state == "charged_back"


def test_refund_without_amount_refunds_what_is_left_once_per_key(fake_mollie) -> None:
    mollie = provider(fake_mollie)
    made = mollie.create_checkout(checkout())
    fake_mollie.pay(made.payment_id)
    mollie.refund(RefundRequest("r-1", made.payment_id, amount_minor=900))
    rest = RefundRequest("r-2", made.payment_id)
    first = mollie.refund(rest)
    assert first.amount_minor == 8000
    assert mollie.refund(rest) == first  # replayed, not refunded twice
    assert mollie.fetch_payment(made.payment_id).amount_refunded_minor == 8900


def test_failed_card_payment_has_the_reason(fake_mollie) -> None:
    mollie = provider(fake_mollie)
    made = mollie.create_checkout(checkout())
    fake_mollie.fail(made.payment_id, "insufficient_funds", "The card has insufficient funds")
    status = mollie.fetch_payment(made.payment_id)
    assert status.state == "failed"
    assert status.failure_reason == "The card has insufficient funds (insufficient_funds)"


@pytest.mark.parametrize(
    ("mollie_status", "state"),
    [
        ("expired", "canceled"),
        ("canceled", "canceled"),
        ("pending", "pending"),
        ("authorized", "pending"),
    ],
)
def test_other_mollie_states_are_mapped(fake_mollie, mollie_status, state) -> None:
    mollie = provider(fake_mollie)
    made = mollie.create_checkout(checkout())
    fake_mollie.set(made.payment_id, status=mollie_status)
    assert mollie.fetch_payment(made.payment_id).state == state


def test_validation_error_names_the_field(fake_mollie) -> None:
    fake_mollie.scripted.append(
        problem(422, "Unprocessable Entity", "The amount is lower than minimum", "amount")
    )
    with pytest.raises(PaymentError, match=r"422\) \(field amount\)") as caught:
        provider(fake_mollie).create_checkout(checkout())
    assert not caught.value.temporary


def test_server_error_is_temporary(fake_mollie) -> None:
    fake_mollie.scripted.append(problem(503, "Service Unavailable", "Try again later"))
    with pytest.raises(PaymentError, match="503") as caught:
        provider(fake_mollie).create_checkout(checkout())
    assert caught.value.temporary


def test_an_unreadable_gateway_page_is_temporary(fake_mollie) -> None:
    fake_mollie.scripted.append(Reply(502, None))
    with pytest.raises(PaymentError, match="unreadably") as caught:
        provider(fake_mollie).create_checkout(checkout())
    assert caught.value.temporary


def test_timeout_is_temporary_and_bounded(fake_mollie) -> None:
    fake_mollie.delay = 3.0
    started = time.monotonic()
    with pytest.raises(PaymentError, match="did not answer") as caught:
        provider(fake_mollie, timeout=0.5).create_checkout(checkout())
    assert caught.value.temporary
    assert time.monotonic() - started < 2.0


def test_wrong_api_key_is_permanent(fake_mollie) -> None:
    with pytest.raises(PaymentError, match="refused the API key") as caught:
        provider(fake_mollie, api_key="test_wrongwrongwrongwrongwrongwrong").create_checkout(
            checkout()
        )
    assert not caught.value.temporary


# -- webhooks: unsigned, proven by the fetch ----------------------------------------------------


def test_webhook_fetches_and_names_the_state(fake_mollie) -> None:
    mollie = provider(fake_mollie)
    made = mollie.create_checkout(checkout())
    fake_mollie.pay(made.payment_id)
    event = mollie.parse_webhook(
        {"Content-Type": "application/x-www-form-urlencoded"}, fake_mollie.webhook(made.payment_id)
    )
    assert (event.provider, event.kind, event.payment_id) == (
        "mollie",
        "payment.paid",
        made.payment_id,
    )
    assert event.event_id == f"{made.payment_id}:paid:0:0"
    assert fake_mollie.requests[-1].path == f"/v2/payments/{made.payment_id}"


def test_replayed_webhook_of_the_same_state_has_the_same_id_a_new_state_a_new_one(
    fake_mollie,
) -> None:
    mollie = provider(fake_mollie)
    made = mollie.create_checkout(checkout())
    fake_mollie.pay(made.payment_id)
    body = fake_mollie.webhook(made.payment_id)
    first = mollie.parse_webhook({}, body)
    assert mollie.parse_webhook({}, body).event_id == first.event_id
    mollie.refund(RefundRequest("r-1", made.payment_id, amount_minor=100))
    refunded = mollie.parse_webhook({}, body)
    fake_mollie.chargeback(made.payment_id)
    charged_back = mollie.parse_webhook({}, body)
    assert len({first.event_id, refunded.event_id, charged_back.event_id}) == 3
    assert charged_back.kind == "payment.charged_back"


def test_webhook_for_a_payment_mollie_does_not_know_is_rejected(fake_mollie) -> None:
    with pytest.raises(WebhookRejected, match="does not confirm payment tr_forged1"):
        provider(fake_mollie).parse_webhook({}, b"id=tr_forged1")


@pytest.mark.parametrize(
    "body",
    [b"", b"id=", b"id=re_123", b"id=tr_1&id=tr_2", b"id=tr_../../v2/x", b"\xff\xfe", b"x" * 2000],
)
def test_webhook_that_is_not_one_payment_id_is_rejected_without_a_call(fake_mollie, body) -> None:
    with pytest.raises(WebhookRejected):
        provider(fake_mollie).parse_webhook({}, body)
    assert fake_mollie.requests == []


def test_webhook_while_mollie_is_down_is_temporary_so_mollie_retries(fake_mollie) -> None:
    fake_mollie.scripted.append(problem(500, "Internal Server Error", "Oops"))
    with pytest.raises(PaymentError) as caught:
        provider(fake_mollie).parse_webhook({}, b"id=tr_abc")
    assert caught.value.temporary


# -- configuration ----------------------------------------------------------------------------


def test_registry_builds_mollie_from_a_profile() -> None:
    built = build_connector("payment", {"provider": "mollie", "api_key": API_KEY})
    assert isinstance(built, MolliePayments)


def test_missing_api_key_is_named_with_its_environment_variable() -> None:
    with pytest.raises(ConnectorConfigError, match=r"secret api_key.*_API_KEY"):
        build_connector("payment", {"provider": "mollie"})


def test_a_key_that_is_no_mollie_key_is_refused() -> None:
    with pytest.raises(ConnectorConfigError, match=r"test_\.\.\. or live_"):
        MolliePayments(api_key="sk_test_123")
