"""Stripe through its official SDK: Checkout Session or PaymentIntent, signed webhooks, refunds.

Two ways to take the money, chosen by the `mode` setting:
- "checkout_session" (the default): Stripe's hosted page. The debtor leaves the portal for
  checkout.stripe.com and comes back to return_url; the portal loads no third-party script, so
  its strict Content-Security-Policy stays as it is. payment_id is the session (cs_...).
- "payment_intent": a bare PaymentIntent (pi_...) whose client secret a page of the
  installation's own (Stripe.js Elements) confirms; redirect_url is return_url with the intent's
  id and client secret appended, as Stripe itself appends them after a redirect. localstripe,
  which the tests run, knows PaymentIntents but no Checkout Sessions.

Every object carries metadata case_ref and checkout_key (the idempotency key the caller wrote
first), so any event (a refund, a dispute on the intent of a session) leads back to its case.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

import stripe

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

SIGNATURE_HEADER = "Stripe-Signature"
_STRIPE_ID = re.compile(r"(cs|pi|ch)_[A-Za-z0-9_]{1,250}")
MAX_WEBHOOK_BYTES = 1_000_000
# Our method names to Stripe's payment_method_types.
_STRIPE_METHODS: dict[str, str] = {
    "card": "card",
    "sepa_debit": "sepa_debit",
    "paypal": "paypal",
    "ideal": "ideal",
}  # no Sofort: Stripe and Mollie stopped offering it when Klarna retired it in 2024
# A dispute Stripe closed in our favour gave the money back; every other one has taken it.
_DISPUTE_NOT_LOST = frozenset({"won", "warning_closed", "prevented"})
_REFUND_STATES: dict[str, Literal["pending", "succeeded", "failed"]] = {
    "succeeded": "succeeded",
    "pending": "pending",
    "requires_action": "pending",
    "failed": "failed",
    "canceled": "failed",
}


class StripePayments:
    """Card, SEPA debit and wallets through Stripe; one StripeClient, no global SDK state."""

    channel: ClassVar[Literal["payment"]] = "payment"
    name = "stripe"
    methods: tuple[PaymentMethod, ...] = ("card", "sepa_debit", "paypal", "ideal")

    def __init__(
        self,
        api_key: str,
        secret: str,
        mode: Literal["checkout_session", "payment_intent"] = "checkout_session",
        api_base: str = "https://api.stripe.com",
        timeout: float = 10.0,
        max_network_retries: int = 0,
        tolerance_seconds: int = 300,
    ) -> None:
        # api_key and secret (the webhook signing secret) are the names the delivery settings
        # fill from MAHNWERK_PAYMENT_<NAME>_API_KEY and _SECRET, never from the file.
        require_secrets("stripe", {"api_key": api_key, "secret": secret}, ("api_key", "secret"))
        if not api_key.startswith(("sk_", "rk_")):
            raise ConnectorConfigError("Setting api_key must be a Stripe secret key (sk_ or rk_)")
        if mode not in ("checkout_session", "payment_intent"):
            raise ConnectorConfigError(
                f"Setting mode must be checkout_session or payment_intent, not {mode!r}"
            )
        self.mode = mode
        self.timeout = float(timeout)
        self.tolerance_seconds = int(tolerance_seconds)
        self._webhook_secret = secret
        self._clock: Callable[[], float] = time.time  # replaceable in tests, not a setting
        # Retries are ours (the outbox tries again with the same key), so the SDK makes one
        # attempt unless told otherwise: a bounded wait is worth more than a hidden loop.
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base.rstrip("/")},
            http_client=stripe.RequestsClient(timeout=self.timeout),
            max_network_retries=int(max_network_retries),
        )

    # -- checkout -----------------------------------------------------------------------------

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        """Create the session or intent; the same idempotency key returns the same object."""
        check_checkout(request)
        unknown = [m for m in request.methods if m not in _STRIPE_METHODS]
        if unknown:
            raise PaymentError(f"methods: Stripe does not take {', '.join(unknown)}")
        metadata = _metadata(request)
        types = [_STRIPE_METHODS[m] for m in request.methods]
        options: Any = {"idempotency_key": request.idempotency_key}
        if self.mode == "payment_intent":
            params: Any = {
                "amount": request.amount_minor,
                "currency": request.currency.lower(),
                "payment_method_types": types,
                "description": request.description,
                "metadata": metadata,
            }
            if request.customer_email:
                params["receipt_email"] = request.customer_email
            intent = self._call(lambda: self._client.v1.payment_intents.create(params, options))
            query = {
                "payment_intent": intent["id"],
                "payment_intent_client_secret": intent["client_secret"],
            }
            return Checkout(self.name, intent["id"], _with_query(request.return_url, query))
        session_params: Any = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": request.currency.lower(),
                        "unit_amount": request.amount_minor,
                        "product_data": {"name": request.description},
                    },
                }
            ],
            "payment_method_types": types,
            "success_url": request.return_url,
            "cancel_url": request.cancel_url,
            "client_reference_id": request.case_ref[:200],
            "locale": request.locale if request.locale in ("de", "en") else "auto",
            "metadata": metadata,
            "payment_intent_data": {"description": request.description, "metadata": metadata},
        }
        if request.customer_email:
            session_params["customer_email"] = request.customer_email
        session = self._call(
            lambda: self._client.v1.checkout.sessions.create(session_params, options)
        )
        return Checkout(self.name, session["id"], session["url"])

    # -- webhooks -----------------------------------------------------------------------------

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> ProviderEvent:
        """Verify Stripe-Signature (HMAC-SHA256 over "t.body", within the tolerance)."""
        header = _header(headers, SIGNATURE_HEADER)
        if len(body) > MAX_WEBHOOK_BYTES:
            raise WebhookRejected(f"The body has {len(body)} bytes, more than a Stripe event")
        try:
            text = body.decode("utf-8")
            stripe.WebhookSignature.verify_header(
                text, header, self._webhook_secret, tolerance=None
            )
        except UnicodeDecodeError as exc:
            raise WebhookRejected("The body is not UTF-8") from exc
        except stripe.SignatureVerificationError as exc:
            words = exc.args[0] if exc.args else "no signature"
            raise WebhookRejected(f"Stripe-Signature does not verify: {words}") from exc
        # The SDK checks the signature; the window (both ways, with our clock) is checked here.
        stamp = _timestamp(header or "")
        if abs(self._clock() - stamp) > self.tolerance_seconds:
            raise WebhookRejected(
                f"Stripe-Signature timestamp {stamp} is more than "
                f"{self.tolerance_seconds} s away from now: stale or replayed"
            )
        try:
            event = json.loads(text)
            event_id, kind = event["id"], event["type"]
            obj = event["data"]["object"]
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookRejected("The body is not a Stripe event (id, type, data.object)") from exc
        if not (isinstance(event_id, str) and isinstance(kind, str) and isinstance(obj, dict)):
            raise WebhookRejected("The body is not a Stripe event (id, type, data.object)")
        return ProviderEvent(self.name, event_id, kind, _payment_of(obj), body)

    # -- status -------------------------------------------------------------------------------

    def fetch_payment(self, payment_id: str) -> PaymentStatus:
        """Read a session (cs_), intent (pi_) or charge (ch_) and say where its money is."""
        if not _STRIPE_ID.fullmatch(payment_id):
            raise PaymentError(f"payment_id {payment_id!r} is not a Stripe session or intent")
        if payment_id.startswith("cs_"):
            return self._fetch_session(payment_id)
        if payment_id.startswith("ch_"):
            charge = self._call(lambda: self._client.v1.charges.retrieve(payment_id))
            payment_id = _id(charge.get("payment_intent")) or ""
        if not payment_id.startswith("pi_"):
            raise PaymentError(f"payment_id {payment_id!r} is not a Stripe session or intent")
        intent = self._call(
            lambda: self._client.v1.payment_intents.retrieve(
                payment_id, {"expand": ["latest_charge"]}
            )
        )
        return self._intent_status(intent, payment_id)

    def _fetch_session(self, session_id: str) -> PaymentStatus:
        session = self._call(
            lambda: self._client.v1.checkout.sessions.retrieve(
                session_id, {"expand": ["payment_intent.latest_charge"]}
            )
        )
        intent = session.get("payment_intent")
        if isinstance(intent, Mapping) and session.get("status") == "complete":
            return self._intent_status(intent, session_id)
        state: PaymentState = {"open": "open", "expired": "canceled"}.get(
            session.get("status") or "", "pending"
        )  # type: ignore[assignment]
        if session.get("payment_status") == "no_payment_required":
            state = "paid"
        return PaymentStatus(
            provider=self.name,
            payment_id=session_id,
            state=state,
            amount_minor=int(session.get("amount_total") or 0),
            currency=str(session.get("currency") or "").upper(),
            metadata=_plain(session.get("metadata")),
        )

    def _intent_status(self, intent: Mapping[str, Any], payment_id: str) -> PaymentStatus:
        charge = intent.get("latest_charge")
        charge = charge if isinstance(charge, Mapping) else {}
        status = intent.get("status")
        error = intent.get("last_payment_error") or {}
        reason = _decline_reason(error) if error else None
        state: PaymentState
        refunded = int(charge.get("amount_refunded") or 0)
        if status == "succeeded":
            state = "refunded" if refunded else "paid"
            if charge.get("disputed") and self._dispute_lost(intent["id"]):
                state = "charged_back"
        elif status in ("processing", "requires_capture"):
            state = "pending"
        elif status == "canceled":
            state = "canceled"
        elif status == "requires_payment_method" and error:
            state = "failed"
        else:  # requires_payment_method, requires_confirmation, requires_action
            state = "open"
        method = None
        details = charge.get("payment_method_details")
        if isinstance(details, Mapping):
            method = details.get("type")
        return PaymentStatus(
            provider=self.name,
            payment_id=payment_id,
            state=state,
            amount_minor=int(intent.get("amount") or 0),
            currency=str(intent.get("currency") or "").upper(),
            amount_refunded_minor=refunded,
            method=method,
            failure_reason=reason,
            metadata=_plain(intent.get("metadata")),
        )

    def _dispute_lost(self, intent_id: str) -> bool:
        disputes = self._call(
            lambda: self._client.v1.disputes.list({"payment_intent": intent_id, "limit": 10})
        )
        return any(d.get("status") not in _DISPUTE_NOT_LOST for d in disputes.get("data", []))

    # -- refunds ------------------------------------------------------------------------------

    def refund(self, request: RefundRequest) -> Refund:
        """Refund (part of) the intent behind a session or intent, once per idempotency key."""
        check_refund(request)
        if not _STRIPE_ID.fullmatch(request.payment_id):
            raise PaymentError(f"payment_id {request.payment_id!r} is not a Stripe payment")
        intent_id = request.payment_id
        if intent_id.startswith("cs_"):
            session = self._call(lambda: self._client.v1.checkout.sessions.retrieve(intent_id))
            intent_id = _id(session.get("payment_intent")) or ""
            if not intent_id:
                raise PaymentError(f"Checkout Session {request.payment_id} has no payment yet")
        params: Any = {"payment_intent": intent_id}
        if request.amount_minor is not None:
            params["amount"] = request.amount_minor
        if request.reason:
            params["metadata"] = {"reason": request.reason[:500]}
        options: Any = {"idempotency_key": request.idempotency_key}
        refund = self._call(lambda: self._client.v1.refunds.create(params, options))
        return Refund(
            provider=self.name,
            refund_id=refund["id"],
            payment_id=request.payment_id,
            amount_minor=int(refund["amount"]),
            state=_REFUND_STATES.get(refund.get("status") or "", "pending"),
        )

    # -- errors -------------------------------------------------------------------------------

    def _call(self, call: Callable[[], Any]) -> Any:
        """Run one SDK call; turn Stripe's errors into PaymentError with a readable reason."""
        try:
            result = call()
        except stripe.CardError as exc:
            raise PaymentError(_decline_reason(exc.json_body.get("error") or {})) from exc
        except stripe.APIConnectionError as exc:
            raise PaymentError(
                f"Stripe did not answer within {self.timeout:g} s or could not be reached",
                temporary=True,
            ) from exc
        except stripe.RateLimitError as exc:
            raise PaymentError("Stripe asks us to slow down (429)", temporary=True) from exc
        except stripe.IdempotencyError as exc:
            raise PaymentError(
                "Stripe refused the idempotency key: it was used for a different request"
            ) from exc
        except stripe.AuthenticationError as exc:
            raise PaymentError("Stripe refused the secret key (401)") from exc
        except stripe.StripeError as exc:
            status = exc.http_status or 0
            words = exc.user_message or str(exc) or "no message"
            if status >= 500 or status == 0:
                raise PaymentError(f"Stripe failed ({status}): {words}", temporary=True) from exc
            param = getattr(exc, "param", None)
            where = f" (field {param})" if param else ""
            raise PaymentError(f"Stripe refused the request ({status}){where}: {words}") from exc
        # Plain dicts from here on: StripeObject (SDK 13+) is no longer a dict.
        return result.to_dict() if hasattr(result, "to_dict") else result


def _decline_reason(error: Mapping[str, Any]) -> str:
    """A decline in words staff can read, with Stripe's code for the support ticket."""
    code = error.get("decline_code") or error.get("code") or "unknown"
    message = error.get("message") or "the payment was declined"
    return f"Card declined: {message} ({code})"


def _metadata(request: CheckoutRequest) -> dict[str, str]:
    # Stripe allows 50 keys of 40 characters with values of 500; ours come first.
    extra = {str(k)[:40]: str(v)[:500] for k, v in request.metadata.items()}
    return {**extra, "case_ref": request.case_ref[:500], "checkout_key": request.idempotency_key}


def _payment_of(obj: Mapping[str, Any]) -> str | None:
    """Which payment an event's object is about: the session, the intent, or a charge's intent."""
    kind = obj.get("object")
    if kind in ("checkout.session", "payment_intent"):
        return obj.get("id")
    return _id(obj.get("payment_intent")) or _id(obj.get("charge"))


def _id(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return value.get("id")
    return None


def _plain(metadata: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in dict(metadata or {}).items()}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _timestamp(header: str) -> int:
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            return int(value)
    raise WebhookRejected("Stripe-Signature has no timestamp")


def _with_query(url: str, query: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    joined = "&".join(p for p in (parts.query, urlencode(query)) if p)
    return urlunsplit(parts._replace(query=joined))


def from_profile(settings: Mapping[str, Any]) -> StripePayments:
    """Registry factory for provider "stripe"; secrets come from the profile (its env vars)."""
    require_secrets("stripe", settings, ("api_key", "secret"))
    return from_settings(StripePayments, settings)
