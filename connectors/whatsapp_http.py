"""WhatsApp over the WhatsApp Business Cloud API: template messages and signed status webhooks.

Send: `POST {base_url}/{api_version}/{phone_number_id}/messages` with `Authorization: Bearer
<access token>` and the JSON body Meta documents for a template message:

    {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "<E.164 digits>",
     "type": "template", "template": {"name": ..., "language": {"code": ...},
     "components": [{"type": "body", "parameters": [{"type": "text", "text": ...}]}]}}

A reminder is business-initiated, so only an approved template may open the conversation; the
rendered Mahnwerk text goes in as its body parameters. The answer carries `messages[0].id` (the
`wamid.` id delivery statuses name). Errors come as `{"error": {"code", "error_subcode",
"message", "type", "fbtrace_id"}}`; `failure_for_error` sorts them into permanent and transient.

Status webhooks: Meta POSTs `entry[].changes[].value.statuses[]` ({id, status: sent | delivered
| read | failed, errors}) signed with `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw
body with the app secret>`; `verify_signature` checks it in constant time and `parse_statuses`
reads the statuses. Secrets (access token, app secret) come from the environment through the
profile, never from the settings file. Plain standard library: no engine, Flask or SQL here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, Literal

from connectors.base import (
    ConnectorError,
    InvalidAddressError,
    SendResult,
    WhatsAppMessage,
    permanent,
    temporary,
)
from connectors.http_post import (
    HttpAnswer,
    HttpClient,
    TransportError,
    json_object,
    post_with,
)
from connectors.phone import to_e164
from connectors.settings import as_decimal, from_settings

USER_AGENT = "mahnwerk-connectors/1"
SIGNATURE_HEADER = "X-Hub-Signature-256"
MAX_PARAMETER = 1024  # characters Meta takes in one body parameter
MAX_PARAMETERS = 10
_TEMPLATE_NAME = re.compile(r"[a-z0-9_]{1,512}")
_LANGUAGE = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?")

# Cloud API error codes that a later attempt can pass: throttling, a busy or failing service.
TRANSIENT_CODES = frozenset(
    {
        1,  # API unknown (temporary)
        2,  # API service: temporarily unavailable
        4,  # API too many calls
        80007,  # rate limit issues
        130429,  # rate limit hit (throughput)
        131000,  # something went wrong (generic)
        131016,  # service unavailable
        131048,  # spam rate limit hit
        131056,  # (business, consumer) pair rate limit
        133004,  # server temporarily unavailable
    }
)
# Codes that mean the number cannot receive WhatsApp: another channel should be tried.
UNREACHABLE_CODES = frozenset({131026, 131021, 131030})  # undeliverable, own number, not allowed


def prepare(msg: WhatsAppMessage, default_region: str | None) -> tuple[str, list[str]]:
    """The recipient as E.164 digits and the body parameters; raises InvalidAddressError."""
    to = to_e164("to", msg.to, default_region).lstrip("+")
    if not _TEMPLATE_NAME.fullmatch(msg.template_name or ""):
        raise InvalidAddressError(
            "template_name", msg.template_name, "use lower-case letters, digits and _ only"
        )
    if not _LANGUAGE.fullmatch(msg.language or ""):
        raise InvalidAddressError("language", msg.language, "use a code such as de or en_US")
    if len(msg.parameters) > MAX_PARAMETERS:
        raise InvalidAddressError(
            "parameters", len(msg.parameters), f"at most {MAX_PARAMETERS} are allowed"
        )
    # Meta refuses new lines, tabs and more than four spaces in a row inside a parameter.
    params = [re.sub(r"\s+", " ", p).strip() for p in msg.parameters]
    for i, text in enumerate(params):
        if not text:
            raise InvalidAddressError(f"parameters.{i}", text, "the text is empty")
        if len(text) > MAX_PARAMETER:
            raise InvalidAddressError(
                f"parameters.{i}", f"{len(text)} characters", f"at most {MAX_PARAMETER} fit"
            )
    return to, params


def payload(msg: WhatsAppMessage, to: str, params: list[str]) -> dict[str, Any]:
    """The Cloud API's JSON for one template message."""
    template: dict[str, Any] = {"name": msg.template_name, "language": {"code": msg.language}}
    if params:
        template["components"] = [
            {"type": "body", "parameters": [{"type": "text", "text": p} for p in params]}
        ]
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        "template": template,
    }


def failure_for_error(status: int, data: Mapping[str, Any]) -> SendResult:
    """Map a refused send: transient codes, 5xx and 429 retry later; everything else is final
    (an invalid recipient reads 'invalid' so the dispatcher tries the next fallback)."""
    found = data.get("error")
    error: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    code = error.get("code")
    detail = str(error.get("message") or "")[:200]
    subcode = f"/{error['error_subcode']}" if error.get("error_subcode") else ""
    reason = f"WhatsApp refused the message (HTTP {status}, error {code}{subcode}): {detail}"
    if code in TRANSIENT_CODES or status >= 500 or status in (408, 429):
        return temporary(reason)
    if code in UNREACHABLE_CODES:
        return permanent(f"invalid recipient: {reason}")
    return permanent(reason)


class CloudApiWhatsAppConnector:
    """POSTs template messages to the WhatsApp Business Cloud API (Graph API)."""

    channel: ClassVar[Literal["whatsapp"]] = "whatsapp"
    provider: ClassVar[str] = "cloud_api"

    def __init__(
        self,
        phone_number_id: str,
        access_token: str,
        api_version: str = "v21.0",
        base_url: str = "https://graph.facebook.com",
        timeout: float = 15.0,
        default_region: str | None = "DE",
        price_per_message: Decimal | str | None = None,
        keep_alive: bool = True,
        app_secret: str | None = None,
        template_name: str | None = None,
        verify_token: str | None = None,
    ) -> None:
        if not str(phone_number_id).isdigit():
            raise ValueError("phone_number_id must be the numeric id Meta shows for the number")
        if not re.fullmatch(r"v\d+\.\d+", api_version):
            raise ValueError("api_version must look like v21.0")
        self.url = f"{base_url.rstrip('/')}/{api_version}/{phone_number_id}/messages"
        self.access_token = access_token
        self.timeout = timeout
        self.default_region = default_region
        self.price_per_message = as_decimal("price_per_message", price_per_message)
        self.app_secret = app_secret  # checks status webhooks (api), never sent
        self.verify_token = verify_token  # Meta's webhook subscription handshake (api)
        self.template_name = template_name  # the profile's default approved template
        self._http = HttpClient() if keep_alive else None

    def close(self) -> None:
        """Close the kept-alive connections (the dispatcher calls this when it stops)."""
        if self._http is not None:
            self._http.close()

    def send(self, msg: WhatsAppMessage) -> SendResult:
        """Send one template message and map the answer to a SendResult."""
        try:
            to, params = prepare(msg, self.default_region)
        except InvalidAddressError as exc:
            return permanent(f"WhatsApp not sent: invalid {exc}")
        body = json.dumps(payload(msg, to, params), ensure_ascii=False).encode()
        headers = {
            "Authorization": f"Bearer {self.access_token}",
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        try:
            answer = self._post(body, headers)
        except TransportError as exc:
            return temporary(f"WhatsApp Cloud API at {self.url} could not be reached: {exc}")
        return self._result(answer)

    def _post(self, body: bytes, headers: dict[str, str]) -> HttpAnswer:
        return post_with(self._http, self.url, body, headers, self.timeout)

    def _result(self, answer: HttpAnswer) -> SendResult:
        data = json_object(answer.body)
        if not 200 <= answer.status < 300:
            return failure_for_error(answer.status, data)
        messages = data.get("messages")
        first = messages[0] if isinstance(messages, list) and messages else {}
        wamid = first.get("id") if isinstance(first, Mapping) else None
        if not wamid:  # a 2xx without an id cannot be tracked: say so, do not guess
            return temporary("WhatsApp answered without a message id; sent again later")
        return SendResult(
            status="accepted",
            provider_message_id=str(wamid),
            segments=1,
            cost=self.price_per_message,
        )


class WebhookError(ConnectorError, ValueError):
    """A status webhook is unsigned, wrongly signed or malformed."""


@dataclass(frozen=True)
class WhatsAppStatus:
    """What Meta says became of one message: sent, delivered, read or failed."""

    provider_message_id: str
    status: Literal["sent", "delivered", "read", "failed"]
    detail: str | None = None


def verify_signature(app_secret: str, body: bytes, header: str | None) -> bool:
    """`X-Hub-Signature-256: sha256=<hex>` is the HMAC-SHA256 of the raw body with the secret."""
    if not app_secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256=").strip().lower())


def parse_statuses(body: bytes) -> list[WhatsAppStatus]:
    """Every status of a webhook body (messages from debtors are ignored here)."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise WebhookError("the body is not JSON") from exc
    if not isinstance(data, dict) or data.get("object") != "whatsapp_business_account":
        raise WebhookError("not a whatsapp_business_account notification")
    found = []
    for entry in _list(data.get("entry"), "entry"):
        for change in _list(entry.get("changes"), "entry.changes"):
            value = change.get("value") if isinstance(change.get("value"), dict) else {}
            for item in _list(value.get("statuses") or [], "statuses"):
                status, wamid = item.get("status"), item.get("id")
                if status not in ("sent", "delivered", "read", "failed") or not wamid:
                    raise WebhookError(f"unknown status {status!r} or no message id")
                errors = item.get("errors") or []
                detail = None
                if errors and isinstance(errors[0], dict):
                    detail = f"{errors[0].get('code')}: {errors[0].get('title', '')}"[:200]
                found.append(WhatsAppStatus(str(wamid), status, detail))
    return found


def _list(value: Any, name: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise WebhookError(f"{name} must be a list of objects")
    return value


def from_profile(settings: Mapping[str, Any]) -> CloudApiWhatsAppConnector:
    """Registry factory for provider "cloud_api"."""
    return from_settings(CloudApiWhatsAppConnector, settings)
