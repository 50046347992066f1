"""GoCardless through the official SDK against a local server speaking its API."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from connectors.base import ConnectorConfigError
from connectors.payment import (
    CheckoutRequest,
    PaymentError,
    PaymentProvider,
    RefundRequest,
    WebhookRejected,
    parse_webhooks,
)
from connectors.payment_gocardless import GoCardlessPayments, Instalment
from connectors.registry import build_connector
from tests.connectors.fake_gocardless import TOKEN, WEBHOOK_SECRET, gc_error, sign


def checkout(**kw) -> CheckoutRequest:
    fields = dict(
        idempotency_key="case-7:pay:1",
        case_ref="INV-2026-0007",
        amount_minor=8900,
        currency="EUR",
        description="Rechnung 2026-0007",
        return_url="https://mahnwerk.example/p/tok/paid",
        cancel_url="https://mahnwerk.example/p/tok",
        methods=("sepa_debit",),
    )
    fields.update(kw)
    return CheckoutRequest(**fields)


def provider(fake, **kw) -> GoCardlessPayments:
    settings = dict(token=TOKEN, secret=WEBHOOK_SECRET, base_url=fake.base_url, timeout=2.0)
    settings.update(kw)
    return GoCardlessPayments(**settings)


def test_satisfies_the_payment_protocol(fake_gocardless) -> None:
    assert isinstance(provider(fake_gocardless), PaymentProvider)


def test_checkout_is_a_mandate_billing_request_and_a_hosted_flow(fake_gocardless) -> None:
    made = provider(fake_gocardless).create_checkout(checkout(locale="de"))
    assert made.payment_id.startswith("BRQ")
    assert made.redirect_url.startswith(
        "https://pay-sandbox.gocardless.com/billing/static/flow?id=BRF"
    )
    create, flow = fake_gocardless.requests[-2:]
    assert create.header("Idempotency-Key") == "case-7:pay:1"
    sent = create.json()["billing_requests"]
    assert sent["mandate_request"] == {
        "scheme": "sepa_core",
        "currency": "EUR",
        "description": "Rechnung 2026-0007",
    }
    assert "payment_request" not in sent  # that would be an Instant Bank Payment
    assert sent["metadata"] == {
        "case_ref": "INV-2026-0007",
        "checkout_key": "case-7:pay:1",
        "amount_minor": "8900",
    }
    flow_params = flow.json()["billing_request_flows"]
    assert flow_params["links"] == {"billing_request": made.payment_id}
    assert (flow_params["redirect_uri"], flow_params["language"]) == (
        "https://mahnwerk.example/p/tok/paid",
        "de",
    )


def test_the_debit_is_created_once_after_the_mandate(fake_gocardless) -> None:
    gc = provider(fake_gocardless)
    made = gc.create_checkout(checkout())
    assert gc.collect(made.payment_id) is None  # the debtor has not finished
    status = gc.fetch_payment(made.payment_id)
    assert (status.state, status.amount_minor, status.currency) == ("open", 8900, "EUR")
    mandate = fake_gocardless.fulfil(made.payment_id)
    debit = gc.collect(made.payment_id)
    assert debit and debit.startswith("PM")
    assert gc.collect(made.payment_id) == debit
    status = gc.fetch_payment(made.payment_id)
    assert (status.state, status.amount_minor, status.payment_id) == (
        "pending",
        8900,
        made.payment_id,
    )
    payments = [o for o in fake_gocardless.objects.values() if o["id"].startswith("PM")]
    assert len(payments) == 1
    assert payments[0]["links"] == {"mandate": mandate}
    assert payments[0]["description"] == "Rechnung 2026-0007"
    assert payments[0]["metadata"]["checkout_key"] == "case-7:pay:1"


def test_racing_collects_make_one_debit(fake_gocardless) -> None:
    """Both looked before either created: the derived key makes the second get the first."""
    gc = provider(fake_gocardless)
    made = gc.create_checkout(checkout())
    fake_gocardless.fulfil(made.payment_id)
    first = gc.collect(made.payment_id)
    fake_gocardless.objects[first]["metadata"] = {}  # hide it from the look-up
    assert gc.collect(made.payment_id) == first
    assert sum(1 for k in fake_gocardless.objects if k.startswith("PM")) == 1


def test_idempotent_retry_returns_the_same_billing_request(fake_gocardless) -> None:
    gc = provider(fake_gocardless)
    first = gc.create_checkout(checkout())
    again = gc.create_checkout(checkout())
    assert again.payment_id == first.payment_id
    assert sum(1 for k in fake_gocardless.objects if k.startswith("BRQ")) == 1


def test_a_key_longer_than_gocardless_allows_is_digested_the_same_way_each_time(
    fake_gocardless,
) -> None:
    gc = provider(fake_gocardless)
    key = "case-7:" + "x" * 200
    first = gc.create_checkout(checkout(idempotency_key=key))
    assert gc.create_checkout(checkout(idempotency_key=key)).payment_id == first.payment_id
    sent = [
        r.header("Idempotency-Key")
        for r in fake_gocardless.requests
        if r.path == "/billing_requests"
    ]
    assert len(set(sent)) == 1 and len(sent[0]) <= 128


@pytest.mark.parametrize(
    ("gc_status", "state"),
    [
        ("pending_customer_approval", "pending"),
        ("pending_submission", "pending"),
        ("submitted", "pending"),
        ("confirmed", "paid"),
        ("paid_out", "paid"),
        ("cancelled", "canceled"),
        ("customer_approval_denied", "failed"),
        ("failed", "failed"),
        ("charged_back", "charged_back"),
    ],
)
def test_payment_statuses_are_mapped(fake_gocardless, gc_status, state) -> None:
    gc = provider(fake_gocardless)
    made = gc.create_checkout(checkout())
    assert gc.fetch_payment(made.payment_id).state == "open"
    fake_gocardless.fulfil(made.payment_id)
    payment_id = gc.collect(made.payment_id)
    fake_gocardless.set_payment(payment_id, gc_status)
    by_request, by_payment = gc.fetch_payment(made.payment_id), gc.fetch_payment(payment_id)
    assert by_request.state == by_payment.state == state
    assert by_request.payment_id == made.payment_id and by_payment.payment_id == payment_id
    assert by_payment.metadata["case_ref"] == "INV-2026-0007"


def test_failed_debit_carries_the_banks_reason(fake_gocardless) -> None:
    gc = provider(fake_gocardless)
    made = gc.create_checkout(checkout())
    fake_gocardless.fulfil(made.payment_id)
    payment_id = gc.collect(made.payment_id)
    fake_gocardless.set_payment(
        payment_id, "failed", "The customer's account had insufficient funds", "insufficient_funds"
    )
    status = gc.fetch_payment(payment_id)
    assert (
        status.failure_reason
        == "The customer's account had insufficient funds (insufficient_funds)"
    )


def test_refund_is_made_once_and_maps_to_refunded(fake_gocardless) -> None:
    gc = provider(fake_gocardless)
    made = gc.create_checkout(checkout())
    fake_gocardless.fulfil(made.payment_id)
    payment_id = gc.collect(made.payment_id)
    fake_gocardless.set_payment(payment_id, "confirmed")
    request = RefundRequest("case-7:refund:1", made.payment_id, amount_minor=1000)
    first = gc.refund(request)
    assert (first.amount_minor, first.state, first.refund_id[:2]) == (1000, "pending", "RF")
    assert gc.refund(request).refund_id == first.refund_id  # the conflict names the first refund
    status = gc.fetch_payment(payment_id)
    assert (status.state, status.amount_refunded_minor) == ("refunded", 1000)
    sent = next(r.json()["refunds"] for r in fake_gocardless.requests if r.path == "/refunds")
    assert sent["total_amount_confirmation"] == 1000


def test_instalment_schedule_from_the_checkouts_mandate(fake_gocardless) -> None:
    gc = provider(fake_gocardless)
    made = gc.create_checkout(checkout(amount_minor=10000))
    fake_gocardless.fulfil(made.payment_id)
    plan = [
        Instalment(dt.date(2027, 1, 15), 10000),
        Instalment(dt.date(2027, 2, 15), 10000),
        Instalment(dt.date(2027, 3, 15), 9999),
    ]
    schedule = gc.create_instalment_schedule(
        "case-7:plan:1", made.payment_id, "Ratenplan INV-2026-0007", "EUR", plan, "INV-2026-0007"
    )
    assert (schedule.status, schedule.total_minor, len(schedule.payment_ids)) == (
        "active",
        29999,
        3,
    )
    again = gc.create_instalment_schedule(
        "case-7:plan:1", made.payment_id, "Ratenplan INV-2026-0007", "EUR", plan, "INV-2026-0007"
    )
    assert again == schedule
    assert gc.fetch_instalment_schedule(schedule.schedule_id) == schedule
    sent = next(
        r.json()["instalment_schedules"]
        for r in fake_gocardless.requests
        if r.path.startswith("/instalment_schedules") and r.method == "POST"
    )
    assert sent["instalments"][0] == {"charge_date": "2027-01-15", "amount": 10000}
    assert sent["links"]["mandate"].startswith("MD")


def test_instalment_schedule_needs_a_finished_mandate_and_a_sane_plan(fake_gocardless) -> None:
    gc = provider(fake_gocardless)
    made = gc.create_checkout(checkout())
    plan = [Instalment(dt.date(2027, 1, 15), 5000)]
    with pytest.raises(PaymentError, match="has no mandate yet"):
        gc.create_instalment_schedule("p-1", made.payment_id, "Plan", "EUR", plan, "INV-1")
    with pytest.raises(PaymentError, match=r"instalments\[1\]\.charge_date must be after"):
        gc.create_instalment_schedule("p-1", "MD1", "Plan", "EUR", [*plan, *plan], "INV-1")
    with pytest.raises(PaymentError, match=r"instalments\[0\]\.amount_minor"):
        gc.create_instalment_schedule(
            "p-1", "MD1", "Plan", "EUR", [Instalment(dt.date(2027, 1, 1), 0)], "INV-1"
        )


def test_validation_error_names_the_field(fake_gocardless) -> None:
    fake_gocardless.scripted.append(
        gc_error(
            422,
            "validation_failed",
            "Validation failed",
            [{"field": "amount", "message": "must be greater than 0", "request_pointer": "/x"}],
        )
    )
    with pytest.raises(
        PaymentError, match="refused the request: amount must be greater than 0"
    ) as caught:
        provider(fake_gocardless).create_checkout(checkout())
    assert not caught.value.temporary


def test_server_error_is_temporary(fake_gocardless) -> None:
    fake_gocardless.scripted.append(gc_error(500, "gocardless", "Uh-oh!"))
    with pytest.raises(PaymentError, match="Uh-oh") as caught:
        provider(fake_gocardless).create_checkout(checkout())
    assert caught.value.temporary


def test_timeout_is_temporary_and_bounded_by_the_sdks_three_tries(fake_gocardless) -> None:
    fake_gocardless.delay = 5.0
    started = time.monotonic()
    with pytest.raises(PaymentError, match="did not answer") as caught:
        provider(fake_gocardless, timeout=0.3).create_checkout(checkout())
    assert caught.value.temporary
    assert time.monotonic() - started < 3 * 0.3 + 2 * 0.5 + 1.0


def test_other_methods_are_refused() -> None:
    with pytest.raises(PaymentError, match="sepa_debit only"):
        GoCardlessPayments(token=TOKEN, secret="s", base_url="http://127.0.0.1:9").create_checkout(
            checkout(methods=("card",))
        )


# -- webhooks ---------------------------------------------------------------------------------


def test_a_batch_becomes_one_event_each(fake_gocardless) -> None:
    gc = provider(fake_gocardless)
    made = gc.create_checkout(checkout())
    fake_gocardless.fulfil(made.payment_id)
    payment_id = gc.collect(made.payment_id)
    headers, body = fake_gocardless.webhook(
        fake_gocardless.set_payment(payment_id, "submitted"),
        fake_gocardless.set_payment(payment_id, "confirmed"),
        {
            "id": "EV999",
            "resource_type": "mandates",
            "action": "active",
            "links": {"mandate": "MD1"},
        },
    )
    events = parse_webhooks(gc, headers, body)
    assert [e.kind for e in events] == [
        "payments.submitted",
        "payments.confirmed",
        "mandates.active",
    ]
    assert [e.payment_id for e in events] == [payment_id, payment_id, None]
    assert len({e.event_id for e in events}) == 3
    with pytest.raises(WebhookRejected, match="carries 3 events"):
        gc.parse_webhook(headers, body)


def test_replayed_webhook_yields_the_same_event_ids(fake_gocardless) -> None:
    gc = provider(fake_gocardless)
    headers, body = fake_gocardless.webhook(
        {
            "id": "EV1",
            "resource_type": "payments",
            "action": "paid_out",
            "links": {"payment": "PM1"},
        }
    )
    assert (
        gc.parse_webhook(headers, body).event_id
        == gc.parse_webhook(headers, body).event_id
        == "EV1"
    )


def test_bad_or_missing_signature_is_rejected(fake_gocardless) -> None:
    gc = provider(fake_gocardless)
    headers, body = fake_gocardless.webhook(
        {
            "id": "EV1",
            "resource_type": "payments",
            "action": "paid_out",
            "links": {"payment": "PM1"},
        }
    )
    with pytest.raises(WebhookRejected, match="missing"):
        gc.parse_webhooks({}, body)
    with pytest.raises(WebhookRejected, match="does not verify"):
        gc.parse_webhooks({"Webhook-Signature": sign(body, "other-secret")}, body)
    with pytest.raises(WebhookRejected, match="does not verify"):
        gc.parse_webhooks(headers, body.replace(b"paid_out", b"charged_back"))


def test_signed_body_that_is_no_webhook_is_rejected(fake_gocardless) -> None:
    gc = provider(fake_gocardless)
    for body in (b"[]", b"{}", b'{"events": {}}', b'{"events": [{"id": "EV1"}]}', b"\xff"):
        with pytest.raises(WebhookRejected, match="not a GoCardless webhook"):
            gc.parse_webhooks({"Webhook-Signature": sign(body)}, body)


# -- configuration ----------------------------------------------------------------------------


def test_registry_builds_gocardless_from_a_profile() -> None:
    built = build_connector("payment", {"provider": "gocardless", "token": "t", "secret": "s"})
    assert isinstance(built, GoCardlessPayments) and built.environment == "sandbox"


@pytest.mark.parametrize("missing", ["token", "secret"])
def test_missing_secret_is_named(missing) -> None:
    profile = {"provider": "gocardless", "token": "t", "secret": "s"}
    del profile[missing]
    with pytest.raises(ConnectorConfigError, match=rf"secret {missing}.*_{missing.upper()}"):
        build_connector("payment", profile)


@pytest.mark.parametrize("payment_id", ["", "../payments", "PM1/../x", "tr_123"])
def test_an_id_that_is_no_gocardless_id_is_refused_without_a_call(
    fake_gocardless, payment_id
) -> None:
    with pytest.raises(PaymentError, match="is not a GoCardless id"):
        provider(fake_gocardless).fetch_payment(payment_id)
    assert fake_gocardless.requests == []


def test_a_mandate_from_bank_details_entered_on_our_page(fake_gocardless) -> None:
    """A plan's form: the billing request's actions make the mandate; a retry makes no second."""
    gc = provider(fake_gocardless)
    args = ("plan-key-1", "Erika Mustermann", "DE89370400440532013000", "EUR", "Plan", "INV-1")
    mandate = gc.create_mandate(*args)
    assert mandate.startswith("MD")
    assert gc.create_mandate(*args) == mandate  # same key: the same billing request, fulfilled
    [billing] = [o for o in fake_gocardless.objects.values() if o["id"].startswith("BRQ")]
    assert billing["bank_account"] == {"iban_ending": "3000", "holder": "Erika Mustermann"}
    plan = [
        Instalment(dt.date(2027, 1, 15), 10000),
        Instalment(dt.date(2027, 2, 15), 10000),
    ]
    schedule = gc.create_instalment_schedule(
        "plan-key-1:schedule", mandate, "Plan", "EUR", plan, "INV-1"
    )
    assert schedule.status == "active" and len(schedule.payment_ids) == 2
    with pytest.raises(PaymentError, match="iban"):
        gc.create_mandate("plan-key-2", "Erika Mustermann", "DE89", "EUR", "Plan", "INV-2")
