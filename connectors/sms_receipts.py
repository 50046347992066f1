"""Parse SMS delivery receipts (Twilio status callbacks and the generic JSON) into one shape."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from connectors.base import ConnectorError

ReceiptStatus = Literal["delivered", "failed", "undelivered", "sent"]
RECEIPT_STATUSES: frozenset[str] = frozenset({"delivered", "failed", "undelivered", "sent"})

# Twilio reports in-flight states too; for the journey they all mean "sent, outcome pending".
_TWILIO_STATUS: dict[str, ReceiptStatus] = {
    "accepted": "sent",
    "scheduled": "sent",
    "queued": "sent",
    "sending": "sent",
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}


class ReceiptError(ConnectorError, ValueError):
    """A delivery receipt is malformed or has an unknown status."""


@dataclass(frozen=True)
class DeliveryReceipt:
    """What the provider says became of one message."""

    provider_message_id: str
    status: ReceiptStatus
    error: str | None = None


def parse_twilio_status(form: Mapping[str, str]) -> DeliveryReceipt:
    """Read Twilio's status callback form fields (MessageSid, MessageStatus, ErrorCode)."""
    sid = form.get("MessageSid") or form.get("SmsSid")
    raw_status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    if not sid:
        raise ReceiptError("Twilio status callback without MessageSid")
    if raw_status not in _TWILIO_STATUS:
        raise ReceiptError(f"Twilio status callback with unknown status {raw_status!r}")
    code, text = form.get("ErrorCode"), form.get("ErrorMessage")
    error = " ".join(p for p in (f"error {code}" if code else None, text) if p) or None
    return DeliveryReceipt(provider_message_id=sid, status=_TWILIO_STATUS[raw_status], error=error)


def parse_generic_receipt(body: bytes | str | Mapping[str, object]) -> DeliveryReceipt:
    """Read {"id": ..., "status": "delivered|failed|undelivered|sent", "error": ...}."""
    data = _as_mapping(body)
    message_id = data.get("id") or data.get("message_id")
    status = str(data.get("status", "")).lower()
    if not message_id:
        raise ReceiptError("delivery receipt without id")
    if status not in RECEIPT_STATUSES:
        raise ReceiptError(f"delivery receipt with unknown status {status!r}")
    error = data.get("error")
    return DeliveryReceipt(
        provider_message_id=str(message_id),
        status=status,  # type: ignore[arg-type]  # checked against RECEIPT_STATUSES above
        error=str(error) if error else None,
    )


def twilio_signature(auth_token: str, url: str, form: Mapping[str, str]) -> str:
    """X-Twilio-Signature: base64 HMAC-SHA1 of the URL followed by the sorted form pairs."""
    payload = url + "".join(key + form[key] for key in sorted(form))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def verify_twilio_signature(
    auth_token: str, url: str, form: Mapping[str, str], signature: str | None
) -> bool:
    """Constant-time check that a status callback really came from the Twilio account."""
    expected = twilio_signature(auth_token, url, form)
    return signature is not None and hmac.compare_digest(expected, signature)


def _as_mapping(body: bytes | str | Mapping[str, object]) -> Mapping[str, object]:
    if isinstance(body, Mapping):
        return body
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ReceiptError(f"delivery receipt is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ReceiptError("delivery receipt must be a JSON object")
    return data
