"""SMS over HTTP: a Twilio-compatible Messages API and a generic signed JSON webhook."""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, Literal

from connectors.base import InvalidAddressError, SendResult, SmsMessage, permanent, temporary
from connectors.http_post import (
    HttpAnswer,
    HttpClient,
    TransportError,
    failure_for_status,
    json_object,
    post_with,
)
from connectors.phone import to_e164, to_sender_id
from connectors.settings import as_decimal, from_settings
from connectors.signing import HEADER as SIGNATURE_HEADER
from connectors.signing import sign
from connectors.sms_encoding import SmsEncoding, analyse

USER_AGENT = "mahnwerk-connectors/1"


@dataclass(frozen=True)
class PreparedSms:
    """A message that passed the checks: normalised numbers and its encoding."""

    to: str
    sender: str | None
    encoding: SmsEncoding


def prepare(
    msg: SmsMessage, default_sender: str | None, default_region: str | None, max_segments: int
) -> PreparedSms:
    """Normalise numbers and refuse empty or over-long bodies; raises InvalidAddressError."""
    to = to_e164("to", msg.to, default_region)
    sender_raw = msg.sender or default_sender
    sender = to_sender_id("sender", sender_raw, default_region) if sender_raw else None
    if not msg.body.strip():
        raise InvalidAddressError("body", msg.body, "the text is empty")
    encoding = analyse(msg.body)
    if encoding.segments > max_segments:
        # A runaway template must not turn one reminder into a bill for twenty segments.
        raise InvalidAddressError(
            "body",
            f"{encoding.units} {encoding.encoding} units",
            f"it needs {encoding.segments} segments, the profile allows {max_segments}",
        )
    return PreparedSms(to=to, sender=sender, encoding=encoding)


class _HttpSmsConnector:
    """What both HTTP providers share: limits, price, and one kept-alive HTTP client."""

    channel: ClassVar[Literal["sms"]] = "sms"

    def __init__(
        self,
        url: str,
        timeout: float,
        default_region: str | None,
        price_per_segment: Decimal | str | None,
        max_segments: int,
        keep_alive: bool,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.default_region = default_region
        self.price_per_segment = as_decimal("price_per_segment", price_per_segment)
        self.max_segments = max_segments
        self._http = HttpClient() if keep_alive else None

    def close(self) -> None:
        """Close the kept-alive connections (the dispatcher calls this when it stops)."""
        if self._http is not None:
            self._http.close()

    def _post(self, body: bytes, headers: dict[str, str]) -> HttpAnswer:
        return post_with(self._http, self.url, body, headers, self.timeout)


class TwilioSmsConnector(_HttpSmsConnector):
    """POSTs to {base_url}/2010-04-01/Accounts/{sid}/Messages.json with basic auth."""

    provider: ClassVar[str] = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        base_url: str = "https://api.twilio.com",
        timeout: float = 15.0,
        default_region: str | None = "DE",
        price_per_segment: Decimal | str | None = None,
        max_segments: int = 10,
        keep_alive: bool = True,
    ) -> None:
        if not (from_number or messaging_service_sid):
            raise ValueError("set from_number or messaging_service_sid")
        super().__init__(
            f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json",
            timeout,
            default_region,
            price_per_segment,
            max_segments,
            keep_alive,
        )
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid

    def send(self, msg: SmsMessage) -> SendResult:
        """Create one Message resource and map the answer to a SendResult."""
        try:
            sms = prepare(msg, self.from_number, self.default_region, self.max_segments)
        except InvalidAddressError as exc:
            return permanent(f"SMS not sent: {exc}")
        try:
            answer = self._post(self._form(msg, sms), self._headers(msg))
        except TransportError as exc:
            return temporary(f"SMS provider at {self.url} could not be reached: {exc}")
        return self._result(answer, sms)

    def _form(self, msg: SmsMessage, sms: PreparedSms) -> bytes:
        fields = {"To": sms.to, "Body": msg.body}
        if msg.sender or not self.messaging_service_sid:
            fields["From"] = sms.sender or ""
        else:
            fields["MessagingServiceSid"] = self.messaging_service_sid
        if msg.status_callback_url:
            fields["StatusCallback"] = msg.status_callback_url
        return urllib.parse.urlencode(fields).encode()

    def _headers(self, msg: SmsMessage) -> dict[str, str]:
        token = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return {
            "Authorization": f"Basic {token}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "I-Twilio-Idempotency-Token": msg.idempotency_key,
        }

    def _result(self, answer: HttpAnswer, sms: PreparedSms) -> SendResult:
        data = json_object(answer.body)
        if not 200 <= answer.status < 300:
            detail = data.get("message") or answer.body[:200].decode("utf-8", "replace")
            code = f", error {data['code']}" if data.get("code") else ""
            reason = f"SMS provider refused the message (HTTP {answer.status}{code}): {detail}"
            return failure_for_status(answer.status, reason)
        segments = int(data.get("num_segments") or sms.encoding.segments)
        return SendResult(
            status="accepted",
            provider_message_id=data.get("sid"),
            segments=segments,
            cost=None if self.price_per_segment is None else self.price_per_segment * segments,
        )


class WebhookSmsConnector(_HttpSmsConnector):
    """POSTs the message as JSON with an Idempotency-Key and an optional HMAC signature."""

    provider: ClassVar[str] = "webhook"

    def __init__(
        self,
        url: str,
        secret: str | None = None,
        token: str | None = None,
        sender: str | None = None,
        timeout: float = 15.0,
        default_region: str | None = "DE",
        price_per_segment: Decimal | str | None = None,
        max_segments: int = 10,
        keep_alive: bool = True,
    ) -> None:
        super().__init__(url, timeout, default_region, price_per_segment, max_segments, keep_alive)
        self.secret = secret
        self.token = token
        self.sender = sender

    def send(self, msg: SmsMessage) -> SendResult:
        """Post one message; a 2xx answer may carry {"id": ...} as the provider's id."""
        try:
            sms = prepare(msg, self.sender, self.default_region, self.max_segments)
        except InvalidAddressError as exc:
            return permanent(f"SMS not sent: {exc}")
        body = json.dumps(_payload(msg, sms), ensure_ascii=False).encode()
        try:
            answer = self._post(body, self._headers(msg, body))
        except TransportError as exc:
            return temporary(f"SMS webhook {self.url} could not be reached: {exc}")
        if not 200 <= answer.status < 300:
            detail = answer.body[:200].decode("utf-8", "replace")
            reason = f"SMS webhook refused the message (HTTP {answer.status}): {detail}"
            return failure_for_status(answer.status, reason)
        data = json_object(answer.body)
        return SendResult(
            status="accepted",
            provider_message_id=str(data.get("id") or msg.idempotency_key),
            segments=sms.encoding.segments,
            cost=sms.encoding.cost(self.price_per_segment),
        )

    def _headers(self, msg: SmsMessage, body: bytes) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": msg.idempotency_key,
        }
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, body)
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers


def _payload(msg: SmsMessage, sms: PreparedSms) -> dict[str, Any]:
    return {
        "idempotency_key": msg.idempotency_key,
        "to": sms.to,
        "sender": sms.sender,
        "body": msg.body,
        "encoding": sms.encoding.encoding,
        "segments": sms.encoding.segments,
        "status_callback_url": msg.status_callback_url,
    }


def twilio_from_profile(settings: Mapping[str, Any]) -> TwilioSmsConnector:
    """Registry factory for provider "twilio"."""
    return from_settings(TwilioSmsConnector, settings)


def webhook_from_profile(settings: Mapping[str, Any]) -> WebhookSmsConnector:
    """Registry factory for provider "webhook"."""
    return from_settings(WebhookSmsConnector, settings)
