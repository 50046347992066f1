"""Payment contract: a checkout in, provider facts out; one Protocol for every payment provider.

Amounts are integer minor units with their ISO 4217 currency, never floats. Every call that
creates something at the provider carries an idempotency key that the caller wrote to its own
database before the call (derived from case, intent and attempt), so a retry after a crash or a
double click asks the provider for the same object instead of a second one.

A provider's webhook is only a hint: `parse_webhook` verifies the signature and says which
payment it is about; the caller stores the event once (unique on provider and event id) and
calls `fetch_payment` before any case moves, because some providers (Mollie) send no signed
body at all and every provider may deliver late, twice or out of order. A provider that sends
several events in one webhook (GoCardless) also has `parse_webhooks`; callers use the module's
`parse_webhooks(provider, headers, body)`, which works for both kinds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from connectors.base import ConnectorError

PaymentMethod = Literal["card", "sepa_debit", "paypal", "bank_transfer", "sofort", "ideal"]
PaymentState = Literal[
    "open",  # created, the debtor has not finished
    "pending",  # the debtor finished, money not yet confirmed (a debit in flight)
    "paid",  # the money is ours
    "failed",  # declined, or a debit came back unpaid
    "canceled",  # abandoned or expired at the provider
    "refunded",  # paid, then (partly) given back: see amount_refunded
    "charged_back",  # paid, then taken back by the debtor's bank or card issuer
]
FINAL_STATES = frozenset({"paid", "failed", "canceled", "refunded", "charged_back"})


class PaymentError(ConnectorError):
    """The provider could not do what was asked; reason is a sentence staff can read."""

    def __init__(self, reason: str, *, temporary: bool = False) -> None:
        self.reason = reason
        self.temporary = temporary  # a timeout or a 5xx: worth trying again with the same key
        super().__init__(reason)


class WebhookRejected(ConnectorError):
    """A webhook that must not be acted on: bad or missing signature, stale, unreadable."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class CheckoutRequest:
    """What the debtor is asked to pay, for which case, and where to send them afterwards."""

    idempotency_key: str  # <= 255 characters (Stripe's limit), written before the call
    case_ref: str  # our reference for the case (or the debtor, for several items)
    amount_minor: int  # > 0, in the currency's minor units (cents)
    currency: str  # ISO 4217, upper case
    description: str  # shown on the provider's page and the debtor's statement
    return_url: str  # the portal page the debtor comes back to
    cancel_url: str
    methods: tuple[PaymentMethod, ...] = ("card",)
    locale: str = "de"
    customer_email: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Checkout:
    """A checkout the provider made: where to send the debtor, and its payment's id."""

    provider: str
    payment_id: str  # the provider's id of the payment (or checkout) to fetch later
    redirect_url: str


@dataclass(frozen=True)
class PaymentStatus:
    """The provider's current truth about one payment, as fetched (never as a webhook said)."""

    provider: str
    payment_id: str
    state: PaymentState
    amount_minor: int
    currency: str
    amount_refunded_minor: int = 0
    method: str | None = None
    failure_reason: str | None = None  # the provider's words for a decline or a returned debit
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def final(self) -> bool:
        """True when nothing more will happen to this payment without a refund or chargeback."""
        return self.state in FINAL_STATES


@dataclass(frozen=True)
class ProviderEvent:
    """A verified webhook: stored once per (provider, event_id), then acted on after a fetch."""

    provider: str
    event_id: str  # unique per provider; a replay carries the same id
    kind: str  # the provider's event type, e.g. "payment_intent.succeeded"
    payment_id: str | None  # the payment to fetch, if the event is about one
    body: bytes  # the raw body as received, kept for the audit trail


@dataclass(frozen=True)
class RefundRequest:
    """Give money back; amount None refunds what is left."""

    idempotency_key: str
    payment_id: str
    amount_minor: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Refund:
    """A refund the provider accepted."""

    provider: str
    refund_id: str
    payment_id: str
    amount_minor: int
    state: Literal["pending", "succeeded", "failed"]


@runtime_checkable
class PaymentProvider(Protocol):
    """One payment provider: checkout, webhook, status, refund."""

    channel: Literal["payment"]
    name: str  # "sandbox", "stripe", "mollie", "gocardless", ...
    methods: tuple[PaymentMethod, ...]  # what this provider can take

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        """Create (or, for a known idempotency key, return again) a checkout for the debtor."""
        ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> ProviderEvent:
        """Verify a webhook's signature and freshness; raise WebhookRejected if it fails."""
        ...

    def fetch_payment(self, payment_id: str) -> PaymentStatus:
        """Ask the provider for the payment's current state."""
        ...

    def refund(self, request: RefundRequest) -> Refund:
        """Give (part of) a payment back."""
        ...


def parse_webhooks(
    provider: PaymentProvider, headers: Mapping[str, str], body: bytes
) -> list[ProviderEvent]:
    """Every event in one webhook: GoCardless batches several, the others send one."""
    batch = getattr(provider, "parse_webhooks", None)
    if callable(batch):
        return list(batch(headers, body))
    return [provider.parse_webhook(headers, body)]
