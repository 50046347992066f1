"""Sandbox payment provider: the default for `make run`; no money moves, every step is real.

It behaves like a hosted-checkout provider (Stripe's shape): `create_checkout` stores a payment
and answers the URL of a hosted page, where the debtor clicks Pay, Fail or Abandon (the portal
serves that page under /p/sandbox/checkout/<payment_id> and calls `complete`). Each change is
answered with a webhook signed like Stripe's (`Sandbox-Signature: t=<unix>,v1=<hex>`, HMAC-SHA256
over "{t}.{body}", 300 s tolerance: connectors.signing's scheme under the sandbox's header), which
the caller hands to the API's /hooks/payments/sandbox intake.

Payments are kept without SQL, one JSON file per payment in `directory`, written atomically
under a folder lock (connectors.atomic_files), so the portal, the API and the scheduler in
different processes see the same payments, and a restart keeps them. The payment id is an
HMAC of the idempotency key: the same key always finds the same payment (a retry after a lost
answer never makes a second one), and nobody can guess another debtor's id from a case number.

`lose_replies` plays out a provider timing out: the next N checkouts are stored, then answered
with a temporary PaymentError, as when the answer is lost on the way back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from connectors.atomic_files import locked, write_atomic
from connectors.payment import (
    Checkout,
    CheckoutRequest,
    PaymentError,
    PaymentMethod,
    PaymentStatus,
    ProviderEvent,
    Refund,
    RefundRequest,
    WebhookRejected,
)
from connectors.settings import from_settings
from connectors.signing import sign, verify

HEADER = "Sandbox-Signature"
PAYMENT_ID = re.compile(r"^sbx_[0-9a-f]{32}$")
Outcome = Literal["pay", "fail", "abandon"]
STATE_FOR_OUTCOME = {"pay": "paid", "fail": "failed", "abandon": "canceled"}
FAILURE = "The sandbox declined the payment, as the debtor asked on its page."


@dataclass(frozen=True)
class SandboxWebhook:
    """A signed webhook the sandbox sends: what a provider would POST to /hooks/payments/sandbox."""

    headers: dict[str, str]
    body: bytes


class SandboxPaymentProvider:
    """Hosted checkout, signed webhooks, status and refunds, kept in a folder of JSON files."""

    channel: ClassVar[Literal["payment"]] = "payment"
    name: ClassVar[str] = "sandbox"
    methods: ClassVar[tuple[PaymentMethod, ...]] = ("card", "sepa_debit", "paypal")

    def __init__(
        self,
        directory: str | Path,
        webhook_secret: str,
        checkout_url: str,
        lose_replies: int = 0,
    ) -> None:
        if not webhook_secret:
            raise ValueError("The sandbox payment provider needs a webhook_secret to sign with")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.webhook_secret = webhook_secret
        self.checkout_url = checkout_url.rstrip("/")
        self.lose_replies = int(lose_replies)

    # -- the provider contract -------------------------------------------------------------

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        """Store the payment once per idempotency key; answer its hosted page."""
        _check_request(request, self.methods)
        payment_id = self._id_for(request.idempotency_key)
        with locked(self.directory):
            stored = self._read(payment_id)
            if stored is None:
                stored = _new_payment(payment_id, request)
                self._write(stored)
            elif (stored["amount_minor"], stored["currency"], stored["case_ref"]) != (
                request.amount_minor,
                request.currency,
                request.case_ref,
            ):
                # Stripe answers the same: a key belongs to one request for ever.
                raise PaymentError(
                    "The idempotency key was used before for another amount or case."
                )
            if self.lose_replies > 0:
                self.lose_replies -= 1
                raise PaymentError("The sandbox did not answer in time.", temporary=True)
        return Checkout(self.name, payment_id, f"{self.checkout_url}/{payment_id}")

    def collect_debit(self, request: CheckoutRequest) -> Checkout:
        """A SEPA debit on a mandate (an instalment on its date): stored once per key as
        `pending`, a debit in flight, until `complete` pays or fails it (as a bank would)."""
        _check_request(request, ("sepa_debit",))
        payment_id = self._id_for(request.idempotency_key)
        with locked(self.directory):
            stored = self._read(payment_id)
            if stored is None:
                stored = {**_new_payment(payment_id, request), "state": "pending"}
                stored["method"] = "sepa_debit"
                self._write(stored)
            elif (stored["amount_minor"], stored["case_ref"]) != (
                request.amount_minor,
                request.case_ref,
            ):
                raise PaymentError(
                    "The idempotency key was used before for another amount or case."
                )
        return Checkout(self.name, payment_id, "")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> ProviderEvent:
        """Check the Sandbox-Signature (and its age) before the body is read."""
        header = _header(headers, HEADER)
        if not header:
            raise WebhookRejected(f"The {HEADER} header is missing.")
        if not verify(self.webhook_secret, body, header):
            raise WebhookRejected(f"The {HEADER} does not match the body or is too old.")
        try:
            data = json.loads(body)
            event_id, kind = str(data["id"]), str(data["type"])
            payment_id = data.get("payment_id")
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookRejected("The webhook body is not a sandbox event.") from exc
        return ProviderEvent(self.name, event_id, kind, payment_id and str(payment_id), body)

    def fetch_payment(self, payment_id: str) -> PaymentStatus:
        """The payment as stored now."""
        stored = self.payment(payment_id)
        return PaymentStatus(
            provider=self.name,
            payment_id=payment_id,
            state=stored["state"],
            amount_minor=stored["amount_minor"],
            currency=stored["currency"],
            amount_refunded_minor=stored["amount_refunded_minor"],
            method=stored["method"],
            failure_reason=stored["failure_reason"],
            metadata=stored["metadata"],
        )

    def refund(self, request: RefundRequest) -> Refund:
        """Give (part of) a paid payment back; the same key refunds once."""
        with locked(self.directory):
            stored = self.payment(request.payment_id)
            done = stored["refunds"].get(request.idempotency_key)
            if done is None:
                left = stored["amount_minor"] - stored["amount_refunded_minor"]
                amount = left if request.amount_minor is None else request.amount_minor
                if stored["state"] not in ("paid", "refunded") or not 0 < amount <= left:
                    raise PaymentError("Only a paid amount not yet refunded can be refunded.")
                done = stored["refunds"][request.idempotency_key] = amount
                stored["amount_refunded_minor"] += amount
                stored["state"] = "refunded"
                self._write(stored)
        refund_id = "re_" + self._id_for(request.idempotency_key)[4:]
        return Refund(self.name, refund_id, request.payment_id, done, "succeeded")

    # -- the hosted page and the sandbox's own controls --------------------------------------

    def payment(self, payment_id: str) -> dict[str, Any]:
        """A stored payment as a dict; PaymentError when there is none."""
        stored = self._read(payment_id) if PAYMENT_ID.match(payment_id or "") else None
        if stored is None:
            raise PaymentError(f"The sandbox has no payment {payment_id!r}.")
        return stored

    def complete(
        self, payment_id: str, outcome: Outcome, method: str = "card", now: datetime | None = None
    ) -> SandboxWebhook:
        """The debtor's click on the hosted page; a later click changes nothing (the first wins)."""
        if outcome not in STATE_FOR_OUTCOME:
            raise PaymentError(f"Unknown outcome {outcome!r}; expected pay, fail or abandon.")
        with locked(self.directory):
            stored = self.payment(payment_id)
            if stored["state"] in ("open", "pending"):  # pending: a debit the bank decides
                stored["state"] = STATE_FOR_OUTCOME[outcome]
                stored["method"] = method if method in stored["methods"] else stored["methods"][0]
                stored["failure_reason"] = FAILURE if outcome == "fail" else None
                self._write(stored)
        return self.webhook(stored, now)

    def charge_back(self, payment_id: str, now: datetime | None = None) -> SandboxWebhook:
        """Play out the debtor's bank taking a paid payment back."""
        with locked(self.directory):
            stored = self.payment(payment_id)
            if stored["state"] != "paid":
                raise PaymentError("Only a paid payment can be charged back.")
            stored["state"] = "charged_back"
            self._write(stored)
        return self.webhook(stored, now)

    def webhook(self, stored: Mapping[str, Any], now: datetime | None = None) -> SandboxWebhook:
        """The signed webhook telling about a payment's current state (one id per state)."""
        state = stored["state"]
        body = json.dumps(
            {
                "id": f"evt_{stored['id'][4:]}_{state}_{stored['amount_refunded_minor']}",
                "type": f"payment.{state}",
                "payment_id": stored["id"],
                "created": int((now or datetime.now(UTC)).timestamp()),
            },
            sort_keys=True,
        ).encode()
        signed = sign(self.webhook_secret, body, now)
        return SandboxWebhook({HEADER: signed, "Content-Type": "application/json"}, body)

    def payments(self) -> list[dict[str, Any]]:
        """Every stored payment, oldest first (tests and the crash checks count them)."""
        found = [json.loads(p.read_text("utf-8")) for p in self.directory.glob("sbx_*.json")]
        return sorted(found, key=lambda p: (p["created"], p["id"]))

    # -- storage ----------------------------------------------------------------------------

    def _id_for(self, idempotency_key: str) -> str:
        mac = hmac.new(self.webhook_secret.encode(), idempotency_key.encode(), hashlib.sha256)
        return "sbx_" + mac.hexdigest()[:32]

    def _read(self, payment_id: str) -> dict[str, Any] | None:
        try:
            return json.loads((self.directory / f"{payment_id}.json").read_text("utf-8"))
        except FileNotFoundError:
            return None

    def _write(self, stored: Mapping[str, Any]) -> None:
        data = json.dumps(stored, sort_keys=True).encode()
        write_atomic(self.directory / f"{stored['id']}.json", data)


def _check_request(request: CheckoutRequest, methods: tuple[str, ...]) -> None:
    """Refuse what a real provider refuses, naming the field."""
    if not 0 < len(request.idempotency_key) <= 255:
        raise PaymentError("idempotency_key must have 1 to 255 characters.")
    if isinstance(request.amount_minor, bool) or not isinstance(request.amount_minor, int):
        raise PaymentError("amount_minor must be a whole number of minor units.")
    if request.amount_minor <= 0:
        raise PaymentError("amount_minor must be more than 0.")
    if not re.fullmatch(r"[A-Z]{3}", request.currency or ""):
        raise PaymentError("currency must be an ISO 4217 code in capitals, e.g. EUR.")
    unknown = [m for m in request.methods if m not in methods]
    if unknown or not request.methods:
        raise PaymentError(f"methods must be some of {', '.join(methods)}.")


def _new_payment(payment_id: str, request: CheckoutRequest) -> dict[str, Any]:
    return {
        "id": payment_id,
        "idempotency_key": request.idempotency_key,
        "case_ref": request.case_ref,
        "amount_minor": request.amount_minor,
        "currency": request.currency,
        "description": request.description,
        "return_url": request.return_url,
        "cancel_url": request.cancel_url,
        "methods": list(request.methods),
        "locale": request.locale,
        "metadata": dict(request.metadata),
        "state": "open",
        "method": None,
        "failure_reason": None,
        "amount_refunded_minor": 0,
        "refunds": {},
        "created": datetime.now(UTC).isoformat(),
    }


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever its case (a plain dict from a test, or werkzeug's)."""
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def from_profile(settings: Mapping[str, Any]) -> SandboxPaymentProvider:
    """Registry factory: directory, webhook_secret, checkout_url (and lose_replies for tests)."""
    return from_settings(SandboxPaymentProvider, settings)
