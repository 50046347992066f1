"""Stripe through the official SDK against localstripe and a local Stripe-speaking fake."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest
import stripe

from connectors.base import ConnectorConfigError
from connectors.payment import (
    CheckoutRequest,
    PaymentError,
    PaymentProvider,
    RefundRequest,
    WebhookRejected,
)
from connectors.payment_stripe import StripePayments
from connectors.registry import build_connector
from tests.connectors.fake_http import Reply
from tests.connectors.fake_stripe import API_KEY, WEBHOOK_SECRET, error, sign


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


def provider(base_url: str, **kw) -> StripePayments:
    settings = dict(api_key=API_KEY, secret=WEBHOOK_SECRET, api_base=base_url, timeout=2.0)
    settings.update(kw)
    return StripePayments(**settings)


# -- against localstripe (the real local Stripe) ------------------------------------------------


def test_payment_intent_on_localstripe_carries_amount_currency_and_case(localstripe_url) -> None:
    stripe_ = provider(localstripe_url, mode="payment_intent")
    made = stripe_.create_checkout(checkout(idempotency_key="ls-1"))
    assert made.payment_id.startswith("pi_")
    query = parse_qs(urlsplit(made.redirect_url).query)
    assert query["payment_intent"] == [made.payment_id]
    assert query["payment_intent_client_secret"][0].startswith(made.payment_id + "_secret_")
    status = stripe_.fetch_payment(made.payment_id)
    assert (status.state, status.amount_minor, status.currency) == ("open", 8900, "EUR")
    assert status.metadata["case_ref"] == "INV-2026-0007"
    assert status.metadata["checkout_key"] == "ls-1"


def _pay_on_localstripe(base: str, intent_id: str) -> None:
    """What Stripe.js does on the payment page: attach a card and confirm."""
    client = stripe.StripeClient(API_KEY, base_addresses={"api": base}, max_network_retries=0)
    method = client.v1.payment_methods.create(
        {
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        }
    )
    client.v1.payment_intents.update(intent_id, {"payment_method": method.id})
    client.v1.payment_intents.confirm(intent_id)


def test_paid_then_refunded_on_localstripe(localstripe_url) -> None:
    stripe_ = provider(localstripe_url, mode="payment_intent")
    made = stripe_.create_checkout(checkout(idempotency_key="ls-2", amount_minor=5000))
    _pay_on_localstripe(localstripe_url, made.payment_id)
    assert stripe_.fetch_payment(made.payment_id).state == "paid"
    refund = stripe_.refund(RefundRequest("ls-2:refund:1", made.payment_id, amount_minor=1200))
    assert (refund.amount_minor, refund.state) == (1200, "succeeded")
    status = stripe_.fetch_payment(made.payment_id)
    assert (status.state, status.amount_refunded_minor) == ("refunded", 1200)


def test_zero_decimal_currency_is_sent_in_whole_yen(localstripe_url) -> None:
    stripe_ = provider(localstripe_url, mode="payment_intent")
    made = stripe_.create_checkout(
        checkout(idempotency_key="ls-3", amount_minor=1500, currency="JPY")
    )
    status = stripe_.fetch_payment(made.payment_id)
    assert (status.amount_minor, status.currency) == (1500, "JPY")


def test_localstripe_webhook_signature_verifies(localstripe_url) -> None:
    """localstripe signs its events like Stripe: t=<created>,v1=HMAC-SHA256(secret, "t.body")."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[tuple[dict[str, str], bytes]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers.items()), body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, args=(0.05,), daemon=True).start()
    try:
        import requests

        url = f"http://127.0.0.1:{hook.server_address[1]}/hooks/payments/stripe"
        hook_id = f"mahnwerk-{time.monotonic_ns()}"
        requests.post(
            f"{localstripe_url}/_config/webhooks/{hook_id}",
            data={"url": url, "secret": WEBHOOK_SECRET, "events[]": "payment_intent.succeeded"},
            timeout=5,
        ).raise_for_status()
        stripe_ = provider(localstripe_url, mode="payment_intent")
        made = stripe_.create_checkout(checkout(idempotency_key="ls-4"))
        _pay_on_localstripe(localstripe_url, made.payment_id)
        deadline = time.monotonic() + 10
        while not any(made.payment_id.encode() in b for _, b in received):
            assert time.monotonic() < deadline, "localstripe sent no webhook"
            time.sleep(0.1)
    finally:
        hook.shutdown()
        hook.server_close()
    headers, body = next((h, b) for h, b in received if made.payment_id.encode() in b)
    event = stripe_.parse_webhook(headers, body)
    assert (event.kind, event.payment_id) == ("payment_intent.succeeded", made.payment_id)
    with pytest.raises(WebhookRejected):
        provider(localstripe_url, secret="whsec_other").parse_webhook(headers, body)


# -- against the local fake (what localstripe does not implement) ------------------------------


def test_satisfies_the_payment_protocol(fake_stripe) -> None:
    assert isinstance(provider(fake_stripe.base_url), PaymentProvider)


def test_checkout_session_is_the_default_and_sends_minor_units_and_metadata(fake_stripe) -> None:
    made = provider(fake_stripe.base_url).create_checkout(checkout(locale="en"))
    assert made.payment_id.startswith("cs_") and made.redirect_url.startswith("https://checkout.")
    sent = fake_stripe.requests[-1]
    assert sent.header("Idempotency-Key") == "case-7:pay:1"
    form = parse_qs(sent.body.decode())
    assert form["line_items[0][price_data][unit_amount]"] == ["8900"]
    assert form["line_items[0][price_data][currency]"] == ["eur"]
    assert form["metadata[case_ref]"] == ["INV-2026-0007"]
    assert form["payment_intent_data[metadata][checkout_key]"] == ["case-7:pay:1"]
    assert form["locale"] == ["en"]


def test_idempotent_retry_returns_the_same_payment(fake_stripe) -> None:
    stripe_ = provider(fake_stripe.base_url)
    first = stripe_.create_checkout(checkout())
    again = stripe_.create_checkout(checkout())
    assert again == first
    sessions = [o for o in fake_stripe.objects.values() if o["object"] == "checkout.session"]
    assert len(sessions) == 1


def test_same_key_for_another_amount_is_refused(fake_stripe) -> None:
    stripe_ = provider(fake_stripe.base_url)
    stripe_.create_checkout(checkout())
    with pytest.raises(PaymentError, match="idempotency key") as caught:
        stripe_.create_checkout(checkout(amount_minor=100))
    assert not caught.value.temporary


def test_completed_session_is_paid_with_the_intents_facts(fake_stripe) -> None:
    stripe_ = provider(fake_stripe.base_url)
    made = stripe_.create_checkout(checkout())
    assert stripe_.fetch_payment(made.payment_id).state == "open"
    fake_stripe.complete_session(made.payment_id)
    status = stripe_.fetch_payment(made.payment_id)
    assert (status.state, status.amount_minor, status.method) == ("paid", 8900, "card")
    assert status.payment_id == made.payment_id and status.final


def test_decline_on_the_payment_page_is_failed_with_the_reason(fake_stripe) -> None:
    stripe_ = provider(fake_stripe.base_url, mode="payment_intent")
    made = stripe_.create_checkout(checkout())
    fake_stripe.decline(made.payment_id, "insufficient_funds", "Your card has insufficient funds.")
    status = stripe_.fetch_payment(made.payment_id)
    assert status.state == "failed"
    assert (
        status.failure_reason
        == "Card declined: Your card has insufficient funds. (insufficient_funds)"
    )


def test_card_error_answer_is_a_permanent_error_with_a_clear_reason(fake_stripe) -> None:
    fake_stripe.scripted.append(
        error(
            402,
            "card_error",
            "Your card was declined.",
            code="card_declined",
            decline_code="stolen_card",
        )
    )
    with pytest.raises(PaymentError) as caught:
        provider(fake_stripe.base_url).create_checkout(checkout())
    assert caught.value.reason == "Card declined: Your card was declined. (stolen_card)"
    assert not caught.value.temporary


def test_server_error_is_temporary(fake_stripe) -> None:
    fake_stripe.scripted.append(error(500, "api_error", "Something went wrong on Stripe's end."))
    with pytest.raises(PaymentError, match="500") as caught:
        provider(fake_stripe.base_url).create_checkout(checkout())
    assert caught.value.temporary


def test_retry_after_a_server_error_creates_the_payment_once(fake_stripe) -> None:
    stripe_ = provider(fake_stripe.base_url)
    fake_stripe.scripted.append(error(503, "api_error", "Service unavailable"))
    with pytest.raises(PaymentError):
        stripe_.create_checkout(checkout())
    made = stripe_.create_checkout(checkout())
    assert stripe_.create_checkout(checkout()) == made


def test_timeout_is_temporary_and_bounded_by_the_client_timeout(fake_stripe) -> None:
    fake_stripe.delay = 3.0
    started = time.monotonic()
    with pytest.raises(PaymentError, match=r"did not answer within 0\.5 s") as caught:
        provider(fake_stripe.base_url, timeout=0.5).create_checkout(checkout())
    assert caught.value.temporary
    assert time.monotonic() - started < 2.0


def test_bad_request_names_the_field(fake_stripe) -> None:
    with pytest.raises(PaymentError, match="amount_minor must be a positive whole number"):
        provider(fake_stripe.base_url).create_checkout(checkout(amount_minor=0))
    with pytest.raises(PaymentError, match="currency must be an ISO 4217 code"):
        provider(fake_stripe.base_url).create_checkout(checkout(currency="eur"))
    with pytest.raises(PaymentError, match="description is empty"):
        provider(fake_stripe.base_url).create_checkout(checkout(description="  "))
    with pytest.raises(PaymentError, match="return_url must be an http"):
        provider(fake_stripe.base_url).create_checkout(checkout(return_url="javascript:alert(1)"))
    with pytest.raises(PaymentError, match="methods: Stripe does not take bank_transfer"):
        provider(fake_stripe.base_url).create_checkout(checkout(methods=("bank_transfer",)))
    assert fake_stripe.requests == []


def test_wrong_api_key_is_a_permanent_error(fake_stripe) -> None:
    with pytest.raises(PaymentError, match="refused the secret key") as caught:
        provider(fake_stripe.base_url, api_key="sk_test_wrong").create_checkout(checkout())
    assert not caught.value.temporary


def test_refund_of_a_session_refunds_its_intent_once_per_key(fake_stripe) -> None:
    stripe_ = provider(fake_stripe.base_url)
    made = stripe_.create_checkout(checkout())
    fake_stripe.complete_session(made.payment_id)
    request = RefundRequest("case-7:refund:1", made.payment_id, reason="Doppelt gezahlt")
    first = stripe_.refund(request)
    assert stripe_.refund(request) == first
    assert (first.amount_minor, first.state, first.payment_id) == (
        8900,
        "succeeded",
        made.payment_id,
    )
    status = stripe_.fetch_payment(made.payment_id)
    assert (status.state, status.amount_refunded_minor) == ("refunded", 8900)


def test_refund_over_the_amount_is_refused_with_the_field(fake_stripe) -> None:
    stripe_ = provider(fake_stripe.base_url, mode="payment_intent")
    made = stripe_.create_checkout(checkout())
    fake_stripe.succeed(made.payment_id)
    with pytest.raises(PaymentError, match=r"field amount"):
        stripe_.refund(RefundRequest("r-1", made.payment_id, amount_minor=9000))


@pytest.mark.parametrize(
    ("dispute_status", "state"),
    [("needs_response", "charged_back"), ("lost", "charged_back"), ("won", "paid")],
)
def test_dispute_maps_to_charged_back_unless_won(fake_stripe, dispute_status, state) -> None:
    stripe_ = provider(fake_stripe.base_url, mode="payment_intent")
    made = stripe_.create_checkout(checkout())
    charge = fake_stripe.succeed(made.payment_id)
    fake_stripe.dispute(made.payment_id, dispute_status)
    assert stripe_.fetch_payment(made.payment_id).state == state
    assert stripe_.fetch_payment(charge["id"]).state == state


# -- webhooks ---------------------------------------------------------------------------------


def test_signed_webhook_names_event_and_payment(fake_stripe) -> None:
    body = fake_stripe.event(
        "charge.dispute.created", {"object": "dispute", "id": "dp_1", "payment_intent": "pi_9"}
    )
    event = provider(fake_stripe.base_url).parse_webhook({"stripe-signature": sign(body)}, body)
    assert (event.provider, event.kind, event.payment_id) == (
        "stripe",
        "charge.dispute.created",
        "pi_9",
    )
    assert event.body == body


def test_replayed_webhook_yields_the_same_event_id(fake_stripe) -> None:
    body = fake_stripe.event("payment_intent.succeeded", {"object": "payment_intent", "id": "pi_1"})
    stripe_ = provider(fake_stripe.base_url)
    first = stripe_.parse_webhook({"Stripe-Signature": sign(body)}, body)
    time.sleep(1.1)  # Stripe re-signs a redelivery with a new timestamp
    again = stripe_.parse_webhook({"Stripe-Signature": sign(body)}, body)
    assert first.event_id == again.event_id


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Stripe-Signature": "garbage"},
        {"Stripe-Signature": "t=1,v1=00"},
    ],
)
def test_missing_or_bad_signature_is_rejected(fake_stripe, headers) -> None:
    body = fake_stripe.event("payment_intent.succeeded", {"object": "payment_intent", "id": "pi_1"})
    with pytest.raises(WebhookRejected):
        provider(fake_stripe.base_url).parse_webhook(headers, body)


def test_tampered_body_is_rejected(fake_stripe) -> None:
    body = fake_stripe.event("payment_intent.succeeded", {"object": "payment_intent", "id": "pi_1"})
    header = sign(body)
    with pytest.raises(WebhookRejected, match="does not verify: No signatures found matching"):
        provider(fake_stripe.base_url).parse_webhook(
            {"Stripe-Signature": header}, body.replace(b"pi_1", b"pi_2")
        )


def test_the_window_is_measured_with_the_connectors_clock(fake_stripe) -> None:
    body = fake_stripe.event("payment_intent.succeeded", {"object": "payment_intent", "id": "pi_1"})
    header = sign(body, at=1_700_000_000)
    stripe_ = provider(fake_stripe.base_url)
    stripe_._clock = lambda: 1_700_000_299
    assert stripe_.parse_webhook({"Stripe-Signature": header}, body).event_id
    stripe_._clock = lambda: 1_700_000_301
    with pytest.raises(WebhookRejected, match="stale or replayed"):
        stripe_.parse_webhook({"Stripe-Signature": header}, body)


@pytest.mark.parametrize("offset", [-301, 301])
def test_stale_or_future_timestamp_is_rejected(fake_stripe, offset) -> None:
    body = fake_stripe.event("payment_intent.succeeded", {"object": "payment_intent", "id": "pi_1"})
    header = sign(body, at=time.time() + offset)
    with pytest.raises(WebhookRejected, match="more than 300 s away"):
        provider(fake_stripe.base_url).parse_webhook({"Stripe-Signature": header}, body)


def test_signed_body_that_is_no_event_is_rejected(fake_stripe) -> None:
    body = json.dumps({"hello": "world"}).encode()
    with pytest.raises(WebhookRejected, match="not a Stripe event"):
        provider(fake_stripe.base_url).parse_webhook({"Stripe-Signature": sign(body)}, body)


# -- configuration ----------------------------------------------------------------------------


def test_registry_builds_stripe_from_a_profile() -> None:
    built = build_connector(
        "payment", {"provider": "stripe", "api_key": "sk_test_1", "secret": "whsec_1"}
    )
    assert isinstance(built, StripePayments) and built.mode == "checkout_session"


@pytest.mark.parametrize("missing", ["api_key", "secret"])
def test_missing_secret_is_named_with_its_environment_variable(missing) -> None:
    profile = {"provider": "stripe", "api_key": "sk_test_1", "secret": "whsec_1"}
    del profile[missing]
    with pytest.raises(ConnectorConfigError, match=f"secret {missing}.*_{missing.upper()}"):
        build_connector("payment", profile)


def test_a_publishable_key_is_refused() -> None:
    with pytest.raises(ConnectorConfigError, match="api_key must be a Stripe secret key"):
        StripePayments(api_key="pk_test_1", secret="whsec_1")


def test_request_checks_name_the_idempotency_key() -> None:
    with pytest.raises(PaymentError, match="idempotency_key must have 1 to 255"):
        provider("http://127.0.0.1:9").create_checkout(
            replace(checkout(), idempotency_key="k" * 256)
        )


def test_a_fake_reply_object_is_json(fake_stripe) -> None:
    # The shared fake answers scripted replies verbatim; other tests rely on that.
    fake_stripe.scripted.append(
        Reply(
            200,
            {
                "id": "pi_x",
                "object": "payment_intent",
                "amount": 1,
                "currency": "eur",
                "status": "processing",
                "metadata": {},
            },
        )
    )
    assert provider(fake_stripe.base_url).fetch_payment("pi_x").state == "pending"


@pytest.mark.parametrize(
    "payment_id", ["", "../v1/charges", "pi_1/../../x", "tr_123", "pi_" + "a" * 300]
)
def test_an_id_that_is_no_stripe_payment_is_refused_without_a_call(fake_stripe, payment_id) -> None:
    with pytest.raises(PaymentError, match="is not a Stripe"):
        provider(fake_stripe.base_url).fetch_payment(payment_id)
    with pytest.raises(PaymentError):
        provider(fake_stripe.base_url).refund(RefundRequest("r-1", payment_id or "x"))
    assert fake_stripe.requests == []
