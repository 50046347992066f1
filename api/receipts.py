"""Delivery receipts: POST /hooks/sms/<provider> and /hooks/whatsapp, signatures checked,
recorded as events.

WhatsApp (Cloud API): GET /hooks/whatsapp answers Meta's subscription handshake with the
profile's verify_token; POST takes status notifications signed X-Hub-Signature-256 with the
profile's app_secret (connectors.whatsapp_http), each status a delivery report.

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
from connectors.whatsapp_http import (
    SIGNATURE_HEADER as WHATSAPP_SIGNATURE,
)
from connectors.whatsapp_http import (
    WebhookError,
    parse_statuses,
    verify_signature,
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
# WhatsApp Cloud API statuses -> delivery report ('read' is the debtor opening it). A failure
# with code 131026 (undeliverable) is a hard bounce: the step's next fallback is queued.
REPORT_FOR_WHATSAPP: dict[str, str | None] = {
    "sent": None,
    "delivered": "delivered",
    "read": "opened",
    "failed": "failed",
}
UNDELIVERABLE = "131026"


@bp.get("/whatsapp")
def whatsapp_subscribe() -> Any:
    """Meta's subscription handshake: echo hub.challenge when hub.verify_token matches."""
    profile = _whatsapp_profile()
    token = str((profile or {}).get("verify_token") or "")
    given = request.args.get("hub.verify_token", "")
    if request.args.get("hub.mode") != "subscribe" or not token or given != token:
        return _error(403, "hub.mode must be subscribe and hub.verify_token must match.")
    return Response(request.args.get("hub.challenge", ""), mimetype="text/plain")


@bp.post("/whatsapp")
def whatsapp_status() -> Any:
    """Check X-Hub-Signature-256 with the profile's app secret, then record each status."""
    try:
        profile = _whatsapp_profile()
    except ConfigError as exc:
        return _error(409, f"The delivery settings cannot be read: {exc}")
    if profile is None:
        return _error(404, "The WhatsApp channel is not configured for the Cloud API.")
    secret = str(profile.get("app_secret") or "")
    if not secret:
        return _error(
            403, "The WhatsApp profile has no app_secret, so statuses cannot be verified."
        )
    body = request.get_data(cache=True)
    if not verify_signature(secret, body, request.headers.get(WHATSAPP_SIGNATURE)):
        return _error(403, f"{WHATSAPP_SIGNATURE} does not match the body.")
    try:
        statuses = parse_statuses(body)
    except WebhookError as exc:
        return _error(400, f"The notification cannot be read: {exc}")
    recorded = []
    for item in statuses:
        status = REPORT_FOR_WHATSAPP[item.status]
        if status == "failed" and (item.detail or "").startswith(UNDELIVERABLE):
            status = "bounced"
        if status is None:
            continue
        answer = _report(item.provider_message_id, status, item.detail)
        if isinstance(answer, tuple):  # an error: say it, the rest of the batch is not lost
            return answer
        recorded.append(answer.get_json())
    return jsonify(recorded=recorded)


def _whatsapp_profile() -> Mapping[str, Any] | None:
    profile = _config().profiles.get("whatsapp", {})
    return profile if profile.get("provider") == "cloud_api" else None


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
    return _report(receipt.provider_message_id, status, receipt.error)


def _report(provider_message_id: str, status: str, detail: str | None) -> Any:
    """Record one delivery report for the message the provider's id names."""
    try:
        with transaction() as session:
            event = record_delivery(
                session,
                utcnow(),
                provider_message_id=provider_message_id,
                status=status,
                detail=detail,
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
