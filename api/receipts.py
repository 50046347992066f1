"""SMS delivery receipts: POST /hooks/sms/<provider>, signature checked, recorded as events.

`twilio` takes Twilio's status callback (form fields, X-Twilio-Signature made with the SMS
profile's auth_token over the callback URL); `webhook` takes the generic JSON receipt
(Mahnwerk-Signature, connectors.signing's timestamped HMAC-SHA256 with the profile's secret).
The provider's status is mapped onto a delivery report (engine.delivery.reports). Every client
mistake gets a 4xx with a sentence saying what is wrong. The host API's app serves them: it
has no session, sign-in or CSRF of its own.

The URL Twilio signs is the one it was given. Behind a proxy that rewrites scheme or host, set
the app's RECEIPTS_BASE_URL (e.g. https://mahnwerk.example.com) to the public origin.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from marshmallow import ValidationError

from connectors.signing import HEADER as SIGNATURE_HEADER
from connectors.signing import verify
from connectors.sms_receipts import (
    DeliveryReceipt,
    ReceiptError,
    parse_generic_receipt,
    parse_twilio_status,
    verify_twilio_signature,
)
from engine import (
    ConfigError,
    DeliveryConfig,
    DeliveryReportError,
    UnknownCase,
    UnknownMessage,
    load_delivery_config,
    record_delivery,
    utcnow,
)
from mahnwerk_web.db import transaction

bp = Blueprint("delivery_receipts", __name__, url_prefix="/hooks")

CONFIG_KEY = "mahnwerk_delivery_config"
# The provider's receipt status -> our delivery report status (None: still in flight, nothing
# to record). 'undelivered' means the network could not deliver to the number: a hard bounce.
REPORT_FOR_RECEIPT: dict[str, str | None] = {
    "sent": None,
    "delivered": "delivered",
    "undelivered": "bounced",
    "failed": "failed",
}
SECRET_FOR_PROVIDER = {"twilio": "auth_token", "webhook": "secret"}


@bp.post("/sms/<provider>")
def sms_receipt(provider: str) -> Any:
    """Check the signature, parse the receipt and record it for the message it names."""
    if provider not in SECRET_FOR_PROVIDER:
        known = ", ".join(SECRET_FOR_PROVIDER)
        return _error(404, f"Unknown SMS provider '{provider}'; receipts are taken for {known}.")
    try:
        profile = _sms_profile(provider)
    except ConfigError as exc:
        return _error(409, f"The delivery settings cannot be read: {exc}")
    if profile is None:
        return _error(404, f"The SMS channel is not configured for provider '{provider}'.")
    secret = profile.get(SECRET_FOR_PROVIDER[provider])
    if not secret:
        key = SECRET_FOR_PROVIDER[provider]
        return _error(403, f"The SMS profile has no {key}, so receipts cannot be verified.")
    try:
        receipt = _verified_receipt(provider, str(secret))
    except PermissionError as exc:
        return _error(403, str(exc))
    except ReceiptError as exc:
        return _error(400, f"The receipt cannot be read: {exc}")
    return _record(receipt)


def _verified_receipt(provider: str, secret: str) -> DeliveryReceipt:
    """Verify before parsing: an unsigned body is never looked at."""
    if provider == "twilio":
        form = {key: request.form[key] for key in request.form}
        url = _public_url()
        signature = request.headers.get("X-Twilio-Signature")
        if not verify_twilio_signature(secret, url, form, signature):
            raise PermissionError(f"X-Twilio-Signature does not match for {url}.")
        return parse_twilio_status(form)
    body = request.get_data(cache=True)
    if not verify(secret, body, request.headers.get(SIGNATURE_HEADER)):
        raise PermissionError(f"{SIGNATURE_HEADER} does not match the body or is too old.")
    return parse_generic_receipt(body)


def _record(receipt: DeliveryReceipt) -> Any:
    status = REPORT_FOR_RECEIPT[receipt.status]
    if status is None:
        return jsonify(recorded=False, status=receipt.status)
    try:
        with transaction() as session:
            event = record_delivery(
                session,
                utcnow(),
                provider_message_id=receipt.provider_message_id,
                status=status,
                detail=receipt.error,
            )
            event_id = event.event_id if event is not None else None
    except (UnknownMessage, UnknownCase) as exc:
        return _error(404, str(exc))
    except (DeliveryReportError, ValidationError) as exc:
        return _error(422, f"The receipt cannot be recorded: {exc}")
    return jsonify(recorded=True, status=status, event_id=event_id)


def _sms_profile(provider: str) -> Mapping[str, Any] | None:
    """The SMS channel's profile when it uses this provider."""
    profile = _config().profiles.get("sms", {})
    return profile if profile.get("provider") == provider else None


def _config() -> DeliveryConfig:
    """DELIVERY_CONFIG from the app config (tests), else the settings file, read once."""
    configured = current_app.config.get("DELIVERY_CONFIG")
    if configured is not None:
        return configured
    if CONFIG_KEY not in current_app.extensions:
        current_app.extensions[CONFIG_KEY] = load_delivery_config()
    return current_app.extensions[CONFIG_KEY]


def _public_url() -> str:
    base = current_app.config.get("RECEIPTS_BASE_URL")
    if not base:
        return request.url
    query = request.query_string.decode()
    return base.rstrip("/") + request.path + (f"?{query}" if query else "")


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify(error=message), status
