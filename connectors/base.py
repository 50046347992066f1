"""Channel contracts: one message dataclass in, one SendResult out, one Protocol per channel."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, Protocol, runtime_checkable

Channel = Literal["email", "sms", "letter"]
SendStatus = Literal["accepted", "temporary_failure", "permanent_failure"]


class ConnectorError(Exception):
    """Base class for every error a connector raises."""


class ConnectorConfigError(ConnectorError):
    """A connector profile's settings are missing, unknown or malformed."""


class InvalidAddressError(ConnectorError, ValueError):
    """An address in a message cannot be used; names the field so callers can show it."""

    def __init__(self, field_name: str, value: object, problem: str) -> None:
        self.field = field_name
        self.value = value
        self.problem = problem
        super().__init__(f"Invalid {field_name} {value!r}: {problem}")


@dataclass(frozen=True)
class PostalAddress:
    """A postal address as printed in the letter window; country is ISO 3166-1 alpha-2."""

    name: str
    street: str
    postcode: str
    city: str
    country: str


@dataclass(frozen=True)
class GiroPayment:
    """What a bank transfer QR code (EPC069-12 GiroCode) asks the debtor to pay."""

    beneficiary: str
    iban: str
    bic: str | None
    amount: Decimal
    currency: str
    reference: str


@dataclass(frozen=True)
class Attachment:
    """A file sent with an email, e.g. the invoice PDF the host supplied or the letter's PDF."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class EmailMessage:
    """One email to one recipient; the outbox row id is the idempotency key."""

    idempotency_key: str
    to: str
    from_addr: str
    subject: str
    text: str
    html: str | None = None
    reply_to: str | None = None
    list_unsubscribe: str | None = None  # https URL (one-click) or mailto:
    portal_url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # Blind copies: envelope recipients only, never a header (an archive, a second reader).
    bcc: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class SmsMessage:
    """One text message to one phone number."""

    idempotency_key: str
    to: str
    body: str
    sender: str | None = None
    status_callback_url: str | None = None


@dataclass(frozen=True)
class WhatsAppMessage:
    """One business-initiated WhatsApp message: an approved template and its body parameters.

    A reminder opens the conversation, so WhatsApp allows only a pre-approved template; the
    rendered Mahnwerk text travels as its body parameter(s). `body` is that text as the debtor
    reads it (kept as evidence).
    """

    idempotency_key: str
    to: str
    template_name: str
    language: str  # the template's language code at Meta, e.g. "de" or "en_US"
    parameters: tuple[str, ...]
    body: str = ""


@dataclass(frozen=True)
class LetterMessage:
    """One printed letter: the body is HTML + CSS, the frame (window, folds, pages) is ours."""

    idempotency_key: str
    recipient: PostalAddress
    sender: PostalAddress
    html: str
    css: str | None
    date: dt.date
    subject: str
    giro: GiroPayment | None = None
    language: str = "de"  # picks "Seite x von y" or "Page x of y" and the date format


@dataclass(frozen=True)
class SendResult:
    """What happened to one send; reason is a sentence a collection manager can read."""

    status: SendStatus
    provider_message_id: str | None = None
    reason: str | None = None
    cost: Decimal | None = None
    segments: int | None = None

    @property
    def ok(self) -> bool:
        """True when the provider took the message."""
        return self.status == "accepted"


def temporary(reason: str) -> SendResult:
    """A failure worth retrying later."""
    return SendResult(status="temporary_failure", reason=reason)


def permanent(reason: str) -> SendResult:
    """A failure that no retry will fix."""
    return SendResult(status="permanent_failure", reason=reason)


@runtime_checkable
class EmailConnector(Protocol):
    """Sends one email."""

    channel: Literal["email"]

    def send(self, msg: EmailMessage) -> SendResult:
        """Hand the message to the provider and report the outcome."""
        ...


@runtime_checkable
class SmsConnector(Protocol):
    """Sends one text message."""

    channel: Literal["sms"]

    def send(self, msg: SmsMessage) -> SendResult:
        """Hand the message to the provider and report the outcome."""
        ...


@runtime_checkable
class WhatsAppConnector(Protocol):
    """Sends one WhatsApp template message."""

    channel: Literal["whatsapp"]

    def send(self, msg: WhatsAppMessage) -> SendResult:
        """Hand the message to the provider and report the outcome."""
        ...


@runtime_checkable
class LetterConnector(Protocol):
    """Hands one letter to a print vendor."""

    channel: Literal["letter"]

    def send(self, msg: LetterMessage) -> SendResult:
        """Hand the letter to the print vendor and report the outcome."""
        ...
