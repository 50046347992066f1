"""Mollie through its official SDK (mollie-api-python): v2 payments, refunds, chargebacks.

Mollie's classic webhook is unsigned and carries only `id=tr_...`. Its proof is the fetch:
only a payment that exists in our Mollie account (read with our API key) is acted on, so
parse_webhook fetches the payment and rejects an id Mollie does not know. The event id is the
payment id plus the state it was fetched in (status, refunded and charged-back amounts): a
replayed webhook of the same state gets the same id and is stored once; a new state (paid, then
refunded, then charged back) gets a new one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qsl

from mollie.api.client import Client
from mollie.api.error import (
    Error,
    NotFoundError,
    RequestError,
    RequestSetupError,
    ResponseError,
    ResponseHandlingError,
    UnauthorizedError,
)

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
from connectors.payment_common import (
    check_checkout,
    check_refund,
    from_decimal_string,
    require_secrets,
    to_decimal_string,
)
from connectors.settings import from_settings

_MOLLIE_METHODS: dict[str, str] = {
    "card": "creditcard",
    "paypal": "paypal",
    "bank_transfer": "banktransfer",
    "ideal": "ideal",
}
_LOCALES = {"de": "de_DE", "en": "en_US"}
_STATES: dict[str, PaymentState] = {
    "open": "open",
    "pending": "pending",
    "authorized": "pending",
    "paid": "paid",
    "failed": "failed",
    "canceled": "canceled",
    "expired": "canceled",
}
_REFUND_STATES: dict[str, Literal["pending", "succeeded", "failed"]] = {
    "queued": "pending",
    "pending": "pending",
    "processing": "pending",
    "refunded": "succeeded",
    "failed": "failed",
    "canceled": "failed",
}
_PAYMENT_ID = re.compile(r"tr_[A-Za-z0-9]{1,64}")
MAX_WEBHOOK_BYTES = 1024  # "id=tr_..." and nothing else


class MolliePayments:
    """Card, PayPal, bank transfer, iDEAL through Mollie's hosted checkout."""

    channel: ClassVar[Literal["payment"]] = "payment"
    name = "mollie"
    methods: tuple[PaymentMethod, ...] = ("card", "paypal", "bank_transfer", "ideal")

    def __init__(
        self,
        api_key: str,
        webhook_url: str | None = None,
        api_endpoint: str = "https://api.mollie.com",
        timeout: float = 10.0,
    ) -> None:
        # api_key is filled from MAHNWERK_PAYMENT_<NAME>_API_KEY; test_ keys are test mode.
        require_secrets("mollie", {"api_key": api_key}, ("api_key",))
        if not re.fullmatch(r"(test|live)_\w+", api_key):
            raise ConnectorConfigError(
                "Setting api_key must be a Mollie key (test_... or live_...)"
            )
        if webhook_url is not None and not webhook_url.startswith(("https://", "http://")):
            raise ConnectorConfigError(f"Setting webhook_url is not a URL: {webhook_url!r}")
        self.webhook_url = webhook_url
        self.timeout = float(timeout)
        # retry=0: a connect retry inside the SDK would hide how long a checkout waited; the
        # caller retries with the same idempotency key.
        self._client = Client(timeout=self.timeout, retry=0)  # type: ignore[arg-type]
        self._client.set_api_endpoint(api_endpoint)
        self._client.set_api_key(api_key)

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        """Create the payment (amount as an exact decimal string); same key, same payment."""
        check_checkout(request)
        unknown = [m for m in request.methods if m not in _MOLLIE_METHODS]
        if unknown:
            raise PaymentError(f"methods: Mollie does not take {', '.join(unknown)} here")
        data: dict[str, Any] = {
            "amount": {
                "currency": request.currency,
                "value": to_decimal_string(request.amount_minor, request.currency),
            },
            "description": request.description[:255],
            "redirectUrl": request.return_url,
            "cancelUrl": request.cancel_url,
            "method": [_MOLLIE_METHODS[m] for m in request.methods],
            "metadata": {
                **{str(k): str(v) for k, v in request.metadata.items()},
                "case_ref": request.case_ref,
                "checkout_key": request.idempotency_key,
            },
        }
        if request.locale in _LOCALES:
            data["locale"] = _LOCALES[request.locale]
        if self.webhook_url:
            data["webhookUrl"] = self.webhook_url
        if request.customer_email:
            data["billingEmail"] = request.customer_email
        payment = self._call(
            lambda: self._client.payments.create(data, idempotency_key=request.idempotency_key)
        )
        checkout = payment.checkout_url
        if not checkout:
            raise PaymentError(f"Mollie made payment {payment.id} without a checkout link")
        return Checkout(self.name, payment.id, checkout)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> ProviderEvent:
        """Read `id=tr_...`, fetch that payment (the proof), and name the event by its state."""
        if len(body) > MAX_WEBHOOK_BYTES:
            raise WebhookRejected(f"The body has {len(body)} bytes; Mollie sends only an id")
        try:
            fields = parse_qsl(body.decode("ascii"), strict_parsing=True)
        except (UnicodeDecodeError, ValueError) as exc:
            raise WebhookRejected("The body is not a form with a payment id") from exc
        ids = [v for k, v in fields if k == "id"]
        if len(ids) != 1 or not _PAYMENT_ID.fullmatch(ids[0]):
            raise WebhookRejected("The body must carry exactly one id=tr_... (a Mollie payment)")
        payment_id = ids[0]
        try:
            payment = self._call(lambda: self._client.payments.get(payment_id))
        except PaymentError as exc:
            if exc.temporary:
                raise  # answered with an error, Mollie delivers the webhook again later
            raise WebhookRejected(f"Mollie does not confirm payment {payment_id}: {exc}") from exc
        status = self._status(payment_id, payment)
        currency = status.currency
        state_key = ":".join(
            (
                payment_id,
                str(payment.get("status")),
                str(_minor(payment.get("amountRefunded"), currency)),
                str(_minor(payment.get("amountChargedBack"), currency)),
            )
        )
        return ProviderEvent(self.name, state_key, f"payment.{status.state}", payment_id, body)

    def fetch_payment(self, payment_id: str) -> PaymentStatus:
        """Ask Mollie for the payment; refunds and chargebacks come from its amounts."""
        if not _PAYMENT_ID.fullmatch(payment_id):
            raise PaymentError(f"payment_id {payment_id!r} is not a Mollie payment (tr_...)")
        return self._status(payment_id, self._call(lambda: self._client.payments.get(payment_id)))

    def _status(self, payment_id: str, payment: Mapping[str, Any]) -> PaymentStatus:
        amount = payment.get("amount") or {}
        currency = str(amount.get("currency") or "")
        state = _STATES.get(payment.get("status") or "", "open")
        refunded = _minor(payment.get("amountRefunded"), currency)
        charged_back = _minor(payment.get("amountChargedBack"), currency)
        if charged_back:
            state = "charged_back"
        elif refunded and state == "paid":
            state = "refunded"
        details = payment.get("details") or {}
        reason = details.get("failureMessage") or details.get("bankReason")
        code = details.get("failureReason") or details.get("bankReasonCode")
        if state == "failed" and (reason or code):
            reason = f"{reason or 'failed'} ({code})" if code else reason
        else:
            reason = None
        return PaymentStatus(
            provider=self.name,
            payment_id=payment_id,
            state=state,
            amount_minor=_minor(amount, currency),
            currency=currency,
            amount_refunded_minor=refunded,
            method=payment.get("method"),
            failure_reason=reason,
            metadata={str(k): str(v) for k, v in dict(payment.get("metadata") or {}).items()},
        )

    def refund(self, request: RefundRequest) -> Refund:
        """Refund (part of) a payment; amount None refunds what is left."""
        check_refund(request)
        if not _PAYMENT_ID.fullmatch(request.payment_id):
            raise PaymentError(f"payment_id {request.payment_id!r} is not a Mollie payment")
        payment = self._call(lambda: self._client.payments.get(request.payment_id))
        currency = str((payment.get("amount") or {}).get("currency") or "")
        amount = request.amount_minor
        made: Mapping[str, Any] | None = None
        if amount is None:
            # "What is left" shrinks once the first try went through, so a retry would send
            # another amount under the same key; find the refund made with this key instead.
            refunds = self._call(lambda: payment.refunds.list())
            made = next(
                (
                    r
                    for r in refunds
                    if (r.get("metadata") or {}).get("refund_key") == request.idempotency_key
                ),
                None,
            )
            amount = _minor(payment.get("amountRemaining") or payment.get("amount"), currency)
        if made is None:
            data: dict[str, Any] = {
                "amount": {"currency": currency, "value": to_decimal_string(amount, currency)},
                "description": (request.reason or "Refund")[:255],
                "metadata": {"refund_key": request.idempotency_key},
            }
            made = self._call(
                lambda: payment.refunds.create(data, idempotency_key=request.idempotency_key)
            )
        return Refund(
            provider=self.name,
            refund_id=made["id"],
            payment_id=request.payment_id,
            amount_minor=_minor(made.get("amount"), currency),
            state=_REFUND_STATES.get(made.get("status") or "", "pending"),
        )

    def _call(self, call: Callable[[], Any]) -> Any:
        """Run one SDK call; Mollie's errors become PaymentError with a readable reason."""
        try:
            return call()
        except RequestSetupError as exc:
            raise PaymentError(f"Mollie request not sent: {exc}") from exc
        except RequestError as exc:
            raise PaymentError(
                f"Mollie did not answer within {self.timeout:g} s or could not be reached",
                temporary=True,
            ) from exc
        except ResponseHandlingError as exc:
            # A body that is not Mollie's JSON: a proxy's 502 page, a cut connection.
            raise PaymentError(f"Mollie answered unreadably: {exc}", temporary=True) from exc
        except UnauthorizedError as exc:
            raise PaymentError("Mollie refused the API key (401)") from exc
        except NotFoundError as exc:
            raise PaymentError(f"Mollie does not know it (404): {exc}") from exc
        except ResponseError as exc:
            status = int(exc.status or 0)
            if status >= 500 or status == 429:
                raise PaymentError(f"Mollie failed ({status}): {exc}", temporary=True) from exc
            where = f" (field {exc.field})" if exc.field else ""
            raise PaymentError(f"Mollie refused the request ({status}){where}: {exc}") from exc
        except Error as exc:
            raise PaymentError(f"Mollie: {exc}") from exc


def _minor(amount: Any, currency: str) -> int:
    if not isinstance(amount, Mapping) or amount.get("value") is None:
        return 0
    return from_decimal_string(amount["value"], str(amount.get("currency") or currency))


def from_profile(settings: Mapping[str, Any]) -> MolliePayments:
    """Registry factory for provider "mollie"; the API key comes from the environment."""
    require_secrets("mollie", settings, ("api_key",))
    return from_settings(MolliePayments, settings)
