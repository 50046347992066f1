"""GoCardless through its official SDK (gocardless-pro): SEPA direct debit on a mandate.

GoCardless collects a one-off debit in two steps. The checkout is a Billing Request with a
mandate request (SEPA Core, the amount and description shown to the debtor) and a Billing
Request Flow, GoCardless's hosted page where the debtor enters the IBAN and agrees to the
mandate; payment_id is the billing request (BRQ...). Once it is fulfilled, a payment (PM...)
on the new mandate (MD...) takes the money: `collect` creates it, under a key derived from the
checkout's, so it exists once however often it is called, and `fetch_payment` of a fulfilled
billing request calls it, so whoever first reads the status after the debtor finished starts
the debit. (A billing request's own payment_request would be an Instant Bank Payment, not a
debit.) `create_instalment_schedule` collects a plan's instalments from the same mandate.

Webhooks are signed with HMAC-SHA256 over the raw body (Webhook-Signature, hex) and carry
several events each: `parse_webhooks` returns all of them, `parse_webhook` only a webhook of
exactly one (and refuses a batch, so GoCardless delivers it again rather than losing events).
GoCardless signs no timestamp: a replay is the same event ids, stored once by the caller.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal

import gocardless_pro
from gocardless_pro import errors as gc_errors
from requests import exceptions as http_errors

from connectors.base import ConnectorConfigError
from connectors.payment import (
    Checkout,
    CheckoutRequest,
    PaymentError,
    PaymentMethod,
    PaymentState,
    PaymentStatus,
    ProviderEvent,
    Refund,
    RefundRequest,
    WebhookRejected,
)
from connectors.payment_common import check_checkout, check_refund, require_secrets
from connectors.settings import from_settings

SIGNATURE_HEADER = "Webhook-Signature"
MAX_WEBHOOK_BYTES = 2_000_000  # GoCardless batches up to 250 events
MAX_KEY = 128  # GoCardless's limit for an Idempotency-Key
_STATES: dict[str, PaymentState] = {
    "pending_customer_approval": "pending",
    "pending_submission": "pending",
    "submitted": "pending",
    "confirmed": "paid",
    "paid_out": "paid",
    "cancelled": "canceled",
    "customer_approval_denied": "failed",
    "failed": "failed",
    "charged_back": "charged_back",
}
_REQUEST_STATES: dict[str, PaymentState] = {
    "pending": "open",
    "ready_to_fulfil": "open",
    "fulfilling": "pending",
    "fulfilled": "pending",  # the mandate is there, the debit not yet created
    "cancelled": "canceled",
}
_REFUND_STATES: dict[str, Literal["pending", "succeeded", "failed"]] = {
    "created": "pending",
    "pending_submission": "pending",
    "submitted": "pending",
    "paid": "succeeded",
    "cancelled": "failed",
    "bounced": "failed",
    "funds_returned": "failed",
    "failed": "failed",
}
_WHY_NOT = frozenset({"failed", "charged_back", "customer_approval_denied"})
_LANGUAGES = frozenset({"de", "en", "fr", "es", "it", "nl", "pt", "sv", "da", "nb", "sl"})
_ID = re.compile(r"[A-Z]{2,3}[0-9A-Z]{1,40}")


@dataclass(frozen=True)
class Instalment:
    """One instalment of a plan: how much, collected on which day."""

    charge_date: dt.date
    amount_minor: int


@dataclass(frozen=True)
class InstalmentSchedule:
    """A plan GoCardless will collect; its payments appear once it is created (status)."""

    schedule_id: str
    status: str  # pending, active, creation_failed, completed, cancelled, errored
    payment_ids: tuple[str, ...]
    total_minor: int
    currency: str


class GoCardlessPayments:
    """SEPA direct debits (and plans) through GoCardless's Billing Request Flow."""

    channel: ClassVar[Literal["payment"]] = "payment"
    name = "gocardless"
    methods: tuple[PaymentMethod, ...] = ("sepa_debit",)

    def __init__(
        self,
        token: str,
        secret: str,
        environment: Literal["sandbox", "live"] = "sandbox",
        base_url: str | None = None,
        timeout: float = 10.0,
        scheme: str = "sepa_core",
    ) -> None:
        # token (the access token) and secret (the webhook endpoint's secret) are filled from
        # MAHNWERK_PAYMENT_<NAME>_TOKEN and _SECRET, never from the settings file.
        require_secrets("gocardless", {"token": token, "secret": secret}, ("token", "secret"))
        if environment not in ("sandbox", "live"):
            raise ConnectorConfigError(
                f"Setting environment must be sandbox or live, not {environment!r}"
            )
        self.environment = environment
        self.timeout = float(timeout)
        self.scheme = scheme
        self._secret = secret.encode()
        # base_url wins over environment; the tests point it at a local server. The SDK tries a
        # timed-out request 3 times (same Idempotency-Key), so a call waits at most ~3 x timeout.
        self._client = gocardless_pro.Client(
            access_token=token,
            environment=None if base_url else environment,
            base_url=base_url.rstrip("/") if base_url else None,
            timeout=self.timeout,
        )

    # -- checkout -----------------------------------------------------------------------------

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        """A billing request for a mandate, and the hosted flow where the debtor agrees to it."""
        check_checkout(request)
        if set(request.methods) != {"sepa_debit"}:
            raise PaymentError("methods: GoCardless takes sepa_debit only")
        if request.metadata:
            # GoCardless keeps 3 metadata keys; ours are case_ref, checkout_key, amount_minor.
            raise PaymentError("metadata: GoCardless has no room beside Mahnwerk's own keys")
        metadata = {
            "case_ref": request.case_ref[:500],
            "checkout_key": request.idempotency_key[:500],
            "amount_minor": str(request.amount_minor),
        }
        billing = self._call(
            lambda: self._client.billing_requests.create(
                params={
                    "mandate_request": {
                        "scheme": self.scheme,
                        "currency": request.currency,
                        "description": request.description[:255],
                    },
                    "metadata": metadata,
                },
                headers={"Idempotency-Key": _key(request.idempotency_key)},
            )
        )
        flow_params: dict[str, Any] = {
            "redirect_uri": request.return_url,
            "exit_uri": request.cancel_url,
            "links": {"billing_request": billing.id},
        }
        if request.locale in _LANGUAGES:
            flow_params["language"] = request.locale
        if request.customer_email:
            flow_params["prefilled_customer"] = {"email": request.customer_email}
        # A flow is only a link to the billing request: a retry may make another one, the
        # money is bound to the billing request above.
        flow = self._call(lambda: self._client.billing_request_flows.create(params=flow_params))
        return Checkout(self.name, billing.id, flow.authorisation_url)

    def collect(self, billing_request_id: str) -> str | None:
        """Create the debit of a fulfilled billing request (once) and return its payment id;
        None while the debtor has not finished the flow."""
        billing = self._call(lambda: self._client.billing_requests.get(billing_request_id))
        return self._collect(billing.attributes)

    def _collect(self, billing: Mapping[str, Any]) -> str | None:
        mandate = (billing.get("links") or {}).get("mandate_request_mandate")
        if billing.get("status") != "fulfilled" or not mandate:
            return None
        metadata = _plain(billing.get("metadata"))
        key = metadata.get("checkout_key") or billing["id"]
        # Look first (a GET is cheap and most calls come after the debit exists), then create
        # under the derived key: two racing callers still make one payment.
        listed = self._call(lambda: self._client.payments.list(params={"mandate": mandate}))
        for payment in listed.records:
            if (payment.attributes.get("metadata") or {}).get("checkout_key") == key:
                return str(payment.attributes["id"])
        wanted = billing.get("mandate_request") or {}
        amount = metadata.get("amount_minor", "")
        if not amount.isdigit() or int(amount) <= 0:
            raise PaymentError(f"Billing request {billing['id']} carries no amount to collect")
        made = self._call(
            lambda: self._client.payments.create(
                params={
                    "amount": int(amount),
                    "currency": wanted.get("currency"),
                    "description": str(wanted.get("description") or metadata.get("case_ref"))[:255],
                    "links": {"mandate": mandate},
                    "metadata": {
                        "case_ref": metadata.get("case_ref", ""),
                        "checkout_key": key,
                        "billing_request": billing["id"],
                    },
                },
                headers={"Idempotency-Key": _key(f"{key}:collect")},
            )
        )
        return str(made.attributes["id"])

    def create_instalment_schedule(
        self,
        idempotency_key: str,
        mandate_or_billing_request: str,
        name: str,
        currency: str,
        instalments: Sequence[Instalment],
        case_ref: str,
    ) -> InstalmentSchedule:
        """Collect a plan's instalments from a mandate (or the one a billing request set up).

        GoCardless creates the instalments' payments asynchronously: status is "pending" at
        first, then "active" with payment_ids (or "creation_failed"). A schedule cannot be
        changed, only cancelled; a new plan is a new schedule with a new key.
        """
        if not idempotency_key or len(idempotency_key) > 255:
            raise PaymentError("idempotency_key must have 1 to 255 characters")
        if not name.strip():
            raise PaymentError("name is empty")
        if not instalments:
            raise PaymentError("instalments is empty")
        for i, part in enumerate(instalments):
            if not isinstance(part.amount_minor, int) or part.amount_minor <= 0:
                raise PaymentError(f"instalments[{i}].amount_minor must be a positive integer")
            if i and part.charge_date <= instalments[i - 1].charge_date:
                raise PaymentError(f"instalments[{i}].charge_date must be after the one before")
        mandate = mandate_or_billing_request
        if mandate.startswith("BRQ"):
            billing = self._call(
                lambda: self._client.billing_requests.get(mandate_or_billing_request)
            )
            mandate = (billing.attributes.get("links") or {}).get("mandate_request_mandate") or ""
            if not mandate:
                raise PaymentError(
                    f"Billing request {mandate_or_billing_request} has no mandate yet: "
                    "the debtor has not finished the flow"
                )
        if not mandate.startswith("MD"):
            raise PaymentError(f"mandate {mandate!r} is not a GoCardless mandate (MD...)")
        total = sum(p.amount_minor for p in instalments)
        schedule = self._call(
            lambda: self._client.instalment_schedules.create_with_dates(
                params={
                    "name": name[:255],
                    "currency": currency,
                    "total_amount": total,
                    "instalments": [
                        {"charge_date": p.charge_date.isoformat(), "amount": p.amount_minor}
                        for p in instalments
                    ],
                    "links": {"mandate": mandate},
                    "metadata": _metadata(case_ref, idempotency_key),
                },
                headers={"Idempotency-Key": _key(idempotency_key)},
            )
        )
        return _schedule(schedule.attributes)

    def create_mandate(
        self,
        idempotency_key: str,
        account_holder: str,
        iban: str,
        currency: str,
        description: str,
        case_ref: str,
    ) -> str:
        """A SEPA mandate from bank details the debtor entered on our own page (a plan's form):
        a billing request with a mandate request, completed by its actions (customer, bank
        account, confirmation, fulfil). The same key finds the same billing request, and an
        action already done is not repeated, so a retry makes one mandate. Returns MD..."""
        if not account_holder.strip() or not iban.strip():
            raise PaymentError("account_holder and iban are required")
        billing = self._call(
            lambda: self._client.billing_requests.create(
                params={
                    "mandate_request": {
                        "scheme": self.scheme,
                        "currency": currency,
                        "description": description[:255],
                    },
                    "metadata": _metadata(case_ref, idempotency_key),
                },
                headers={"Idempotency-Key": _key(idempotency_key)},
            )
        ).attributes
        given, _, family = account_holder.strip().rpartition(" ")
        steps: list[tuple[str, Callable[[], Any]]] = [
            (
                "collect_customer_details",
                lambda: self._client.billing_requests.collect_customer_details(
                    billing["id"],
                    params={
                        "customer": {"given_name": given or family, "family_name": family},
                        "customer_billing_detail": {"country_code": iban[:2]},
                    },
                ),
            ),
            (
                "collect_bank_account",
                lambda: self._client.billing_requests.collect_bank_account(
                    billing["id"],
                    params={
                        "account_holder_name": account_holder[:70],
                        "iban": iban,
                        "country_code": iban[:2],
                    },
                ),
            ),
            (
                "confirm_payer_details",
                lambda: self._client.billing_requests.confirm_payer_details(billing["id"]),
            ),
            ("fulfil", lambda: self._client.billing_requests.fulfil(billing["id"])),
        ]
        done = {
            a.get("type") for a in billing.get("actions") or () if a.get("status") == "completed"
        }
        for name, step in steps:
            if billing.get("status") == "fulfilled":
                break
            if name not in done:
                billing = self._call(step).attributes
        mandate = (billing.get("links") or {}).get("mandate_request_mandate")
        if not mandate:
            raise PaymentError(f"Billing request {billing['id']} made no mandate")
        return str(mandate)

    def fetch_instalment_schedule(self, schedule_id: str) -> InstalmentSchedule:
        """The schedule's status and, once created, its payments."""
        schedule = self._call(lambda: self._client.instalment_schedules.get(schedule_id))
        return _schedule(schedule.attributes)

    # -- webhooks -----------------------------------------------------------------------------

    def parse_webhooks(self, headers: Mapping[str, str], body: bytes) -> list[ProviderEvent]:
        """Verify Webhook-Signature (hex HMAC-SHA256 of the raw body) and list its events."""
        if len(body) > MAX_WEBHOOK_BYTES:
            raise WebhookRejected(f"The body has {len(body)} bytes, more than a GoCardless batch")
        given = _header(headers, SIGNATURE_HEADER)
        if not given:
            raise WebhookRejected("Webhook-Signature is missing")
        expected = hmac.new(self._secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), given.strip().encode()):
            raise WebhookRejected("Webhook-Signature does not verify")
        try:
            events = json.loads(body)["events"]
            if not isinstance(events, list):
                raise TypeError("events is not a list")
            return [self._event(e, body) for e in events]
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookRejected(f"The body is not a GoCardless webhook: {exc}") from exc

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> ProviderEvent:
        """The one event of a webhook; a batch must go through parse_webhooks."""
        events = self.parse_webhooks(headers, body)
        if len(events) != 1:
            raise WebhookRejected(
                f"The webhook carries {len(events)} events; use "
                "connectors.payment.parse_webhooks to take all of them"
            )
        return events[0]

    def _event(self, event: Mapping[str, Any], body: bytes) -> ProviderEvent:
        event_id, resource, action = event["id"], event["resource_type"], event["action"]
        if not all(isinstance(v, str) and v for v in (event_id, resource, action)):
            raise TypeError("an event lacks id, resource_type or action")
        links = event.get("links") or {}
        payment = links.get("payment") or links.get("billing_request")
        return ProviderEvent(self.name, event_id, f"{resource}.{action}", payment, body)

    # -- status -------------------------------------------------------------------------------

    def fetch_payment(self, payment_id: str) -> PaymentStatus:
        """A billing request (BRQ) before and a payment (PM) after the debtor authorised."""
        if not _ID.fullmatch(payment_id):
            raise PaymentError(f"payment_id {payment_id!r} is not a GoCardless id")
        if payment_id.startswith("BRQ"):
            billing = self._call(lambda: self._client.billing_requests.get(payment_id)).attributes
            debit = self._collect(billing)
            if debit:
                return replace(self._payment_status(debit), payment_id=payment_id)
            metadata = _plain(billing.get("metadata"))
            amount = metadata.get("amount_minor", "0")
            return PaymentStatus(
                provider=self.name,
                payment_id=payment_id,
                state=_REQUEST_STATES.get(billing.get("status") or "", "pending"),
                amount_minor=int(amount) if amount.isdigit() else 0,
                currency=str((billing.get("mandate_request") or {}).get("currency") or ""),
                method="sepa_debit",
                metadata=metadata,
            )
        return self._payment_status(payment_id)

    def _payment_status(self, payment_id: str) -> PaymentStatus:
        payment = self._call(lambda: self._client.payments.get(payment_id)).attributes
        raw = payment.get("status") or ""
        state = _STATES.get(raw, "pending")
        refunded = int(payment.get("amount_refunded") or 0)
        if state == "paid" and refunded:
            state = "refunded"
        reason = None
        if raw in _WHY_NOT:
            reason = self._why(payment_id, raw)
        return PaymentStatus(
            provider=self.name,
            payment_id=payment_id,
            state=state,
            amount_minor=int(payment.get("amount") or 0),
            currency=str(payment.get("currency") or ""),
            amount_refunded_minor=refunded,
            method="sepa_debit",
            failure_reason=reason,
            metadata=_plain(payment.get("metadata")),
        )

    def _why(self, payment_id: str, raw: str) -> str:
        """The bank's reason from the payment's latest event (GoCardless keeps it there)."""
        listed = self._call(
            lambda: self._client.events.list(params={"payment": payment_id, "action": raw})
        )
        for event in listed.records:
            details = event.attributes.get("details") or {}
            words = details.get("description")
            code = details.get("reason_code") or details.get("cause")
            if words:
                return f"{words} ({code})" if code else str(words)
        return f"GoCardless reports the payment {raw.replace('_', ' ')}"

    # -- refunds ------------------------------------------------------------------------------

    def refund(self, request: RefundRequest) -> Refund:
        """Refund (part of) a collected payment; GoCardless must have refunds enabled."""
        check_refund(request)
        payment_id = request.payment_id
        if payment_id.startswith("BRQ"):
            payment_id = self.collect(request.payment_id) or ""
            if not payment_id:
                raise PaymentError(f"Billing request {request.payment_id} has no payment yet")
        payment = self._call(lambda: self._client.payments.get(payment_id)).attributes
        done = int(payment.get("amount_refunded") or 0)
        amount = request.amount_minor or int(payment.get("amount") or 0) - done
        made = self._call(
            lambda: self._client.refunds.create(
                params={
                    "amount": amount,
                    # GoCardless's guard against a double refund: the total after this one.
                    "total_amount_confirmation": done + amount,
                    "links": {"payment": payment_id},
                    "metadata": {"refund_key": request.idempotency_key[:500]},
                },
                headers={"Idempotency-Key": _key(request.idempotency_key)},
            )
        ).attributes
        return Refund(
            provider=self.name,
            refund_id=made["id"],
            payment_id=request.payment_id,
            amount_minor=int(made.get("amount") or amount),
            state=_REFUND_STATES.get(made.get("status") or "", "pending"),
        )

    # -- errors -------------------------------------------------------------------------------

    def _call(self, call: Callable[[], Any]) -> Any:
        """Run one SDK call; GoCardless's errors become PaymentError with a readable reason."""
        try:
            return call()
        except (http_errors.Timeout, http_errors.ConnectionError) as exc:
            raise PaymentError(
                f"GoCardless did not answer within {self.timeout:g} s or could not be reached",
                temporary=True,
            ) from exc
        except gc_errors.MalformedResponseError as exc:
            raise PaymentError("GoCardless answered unreadably", temporary=True) from exc
        except (gc_errors.GoCardlessInternalError, gc_errors.RateLimitError) as exc:
            raise PaymentError(f"GoCardless failed: {exc.message}", temporary=True) from exc
        except gc_errors.AuthenticationError as exc:
            raise PaymentError("GoCardless refused the access token (401)") from exc
        except gc_errors.ValidationFailedError as exc:
            fields = ", ".join(
                f"{e.get('field')} {e.get('message')}" for e in exc.errors or [] if e.get("field")
            )
            raise PaymentError(f"GoCardless refused the request: {fields or exc.message}") from exc
        except gc_errors.ApiError as exc:
            code = int(exc.code or 0) if str(exc.code or "").isdigit() else 0
            temporary = code >= 500
            raise PaymentError(f"GoCardless: {exc.message}", temporary=temporary) from exc
        except gc_errors.GoCardlessProError as exc:
            raise PaymentError(f"GoCardless: {exc}") from exc


def _key(key: str) -> str:
    """Our key, or (over GoCardless's 128 characters) a digest of it, the same on every try."""
    return key if len(key) <= MAX_KEY else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _metadata(case_ref: str, key: str) -> dict[str, str]:
    # GoCardless keeps at most 3 metadata keys (50 characters, values up to 500).
    return {"case_ref": case_ref[:500], "checkout_key": key[:500]}


def _schedule(attrs: Mapping[str, Any]) -> InstalmentSchedule:
    links = attrs.get("links") or {}
    return InstalmentSchedule(
        schedule_id=attrs["id"],
        status=str(attrs.get("status") or ""),
        payment_ids=tuple(links.get("payments") or ()),
        total_minor=int(attrs.get("total_amount") or 0),
        currency=str(attrs.get("currency") or ""),
    )


def _plain(metadata: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in dict(metadata or {}).items()}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def from_profile(settings: Mapping[str, Any]) -> GoCardlessPayments:
    """Registry factory for provider "gocardless"; token and secret come from the environment."""
    require_secrets("gocardless", settings, ("token", "secret"))
    return from_settings(GoCardlessPayments, settings)
