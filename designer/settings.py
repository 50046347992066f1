"""Delivery settings (admins only): the connector profile per channel, and a test send.

The page shows what the dispatcher would use: `engine.delivery.config.load_delivery_config()`
(the TOML file named by MAHNWERK_CONFIG, else instance/mahnwerk.toml, else the sandboxes), one
provider per channel and where the settings come from. Secrets never reach the page: keys that
hold them come only from the environment and are shown as hidden, and so is every setting not
known to be harmless (a webhook URL may carry a token).

"Send test message" builds the configured connectors exactly as the dispatcher does
(`DeliveryConfig.connectors()`), sends one message to the address the admin typed with the
connectors' own message dataclasses, and shows the SendResult: status, reason, provider id.
"""

from __future__ import annotations

import datetime as dt
import html
import uuid
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, render_template, request
from flask_login import current_user

from connectors import (
    ConnectorError,
    EmailMessage,
    LetterMessage,
    PostalAddress,
    SendResult,
    SmsMessage,
    WhatsAppMessage,
)
from designer import htmx
from designer.auth import ADMIN_ROLES, role_required
from designer.i18n import _, current_lang
from engine import CHANNELS, SECRET_KEYS, ConfigError, DeliveryConfig, load_delivery_config

bp = Blueprint("settings", __name__, url_prefix="/settings")

# Profile settings whose values are safe to show; any other value is shown as hidden.
SHOWN = frozenset(
    {
        "host",
        "port",
        "security",
        "timeout",
        "verify_tls",
        "ca_file",
        "local_hostname",
        "message_id_domain",
        "reuse_session",
        "max_messages_per_session",
        "session_idle_seconds",
        "base_url",
        "from_number",
        "sender",
        "default_region",
        "max_segments",
        "keep_alive",
        "price_per_segment",
        "price_per_letter",
        "price_per_page",
        "path",
        "render_pdf",
    }
)
LETTER_FIELDS = ("name", "street", "postcode", "city", "country")


@dataclass
class Setting:
    """One setting of a profile as the page shows it: the value, or why it is hidden."""

    key: str
    value: str | None
    hidden: str | None = None


@dataclass
class Profile:
    """A channel's connector profile without its secrets."""

    channel: str
    provider: str
    settings: list[Setting] = field(default_factory=list)


def describe(config: DeliveryConfig) -> list[Profile]:
    """Each channel's provider and settings, with secrets and unknown values hidden."""
    profiles = []
    for channel in CHANNELS:
        raw = dict(config.profiles.get(channel, {}))
        provider = str(raw.pop("provider", "off"))  # an opt-in channel nobody configured
        shown = []
        for key in sorted(raw):
            if key in SECRET_KEYS:
                shown.append(Setting(key, None, _("hidden, from the environment")))
            elif key in SHOWN:
                shown.append(Setting(key, str(raw[key])))
            else:
                shown.append(Setting(key, None, _("hidden")))
        profiles.append(Profile(channel, provider, shown))
    return profiles


def _load() -> tuple[DeliveryConfig | None, str | None]:
    try:
        return load_delivery_config(), None
    except (ConfigError, OSError) as exc:
        return None, str(exc)


def _page(status: int = 200, **context: Any) -> tuple[str, int]:
    config, error = _load()
    context.setdefault("form", {})
    return (
        render_template(
            "settings/delivery.html",
            config=config,
            profiles=describe(config) if config else [],
            config_error=error,
            channels=CHANNELS,
            letter_fields=LETTER_FIELDS,
            **context,
        ),
        status,
    )


@bp.get("/delivery")
@role_required(ADMIN_ROLES)
def delivery() -> tuple[str, int]:
    """The connector profile per channel and the test-message forms."""
    return _page()


def sample_message(
    channel: str, form: dict[str, str], config: DeliveryConfig, key: str
) -> EmailMessage | SmsMessage | WhatsAppMessage | LetterMessage:
    """The message a test send hands to the channel's connector."""
    note = _(
        "Sent by %(user)s from Mahnwerk to check this connection. No action is needed.",
        user=current_user.email,
    )
    if channel == "email":
        return EmailMessage(
            idempotency_key=key,
            to=form["to"],
            from_addr=config.company.email_from,
            subject=_("Mahnwerk test message"),
            text=note,
        )
    if channel == "sms":
        return SmsMessage(idempotency_key=key, to=form["to"], body=f"Mahnwerk: {note}")
    if channel == "whatsapp":  # the profile's approved template, else Meta's test template
        template = config.profiles.get("whatsapp", {}).get("template_name")
        return WhatsAppMessage(
            idempotency_key=key,
            to=form["to"],
            template_name=str(template or "hello_world"),
            language="en_US" if not template else whatsapp_test_language(),
            parameters=(f"Mahnwerk: {note}",) if template else (),
            body=note,
        )
    company = config.company
    return LetterMessage(
        idempotency_key=key,
        recipient=PostalAddress(*(form[f] for f in LETTER_FIELDS)),
        sender=PostalAddress(
            company.name, company.street, company.postcode, company.city, company.country
        ),
        html=f"<p>{html.escape(note)}</p><p>{html.escape(company.name)}</p>",
        css=None,
        date=dt.date.today(),
        subject=_("Mahnwerk test letter"),
        language=current_lang(),
    )


def whatsapp_test_language() -> str:
    """The approved template's language code for the page's language (de, en_US)."""
    return "de" if current_lang() == "de" else "en_US"


def send_test(channel: str, message: Any, config: DeliveryConfig) -> SendResult:
    """Build the configured connectors, send through the channel's one, close them all."""
    connectors = config.connectors()
    try:
        return connectors[channel].send(message)
    except Exception as exc:  # a connector bug shows on the page, as the dispatcher logs it
        return SendResult(
            status="temporary_failure", reason=f"connector error: {type(exc).__name__}: {exc}"
        )
    finally:
        for connector in connectors.values():
            close = getattr(connector, "close", None)
            if callable(close):
                close()


def _form(channel: str) -> tuple[dict[str, str], str | None]:
    """The typed address, and a problem when something needed is missing."""
    if channel == "letter":
        form = {f: request.form.get(f, "").strip() for f in LETTER_FIELDS}
        form["country"] = form["country"].upper()
        missing = [f for f in LETTER_FIELDS if not form[f]]
        return form, _("Fill in the whole address.") if missing else None
    form = {"to": request.form.get("to", "").strip()}
    if not form["to"]:
        return form, _("Type the address to send the test to.")
    return form, None


@bp.post("/delivery/test")
@role_required(ADMIN_ROLES)
def send() -> tuple[str, int]:
    """Send one test message on a channel through its configured connector."""
    channel = request.form.get("channel", "")
    if channel not in CHANNELS:
        return _page(400, error_channel=None, error=_("Choose a channel."))
    form, problem = _form(channel)
    config, config_error = _load()
    status, context = 200, {"form": {channel: form}}
    if problem:
        status, context = 400, {**context, "error": problem, "error_channel": channel}
    elif config is None:
        status, context = 503, {**context, "error": config_error, "error_channel": channel}
    elif channel not in config.profiles:
        off = _("This channel is off: name a profile for it under [channels] in mahnwerk.toml.")
        status, context = 400, {**context, "error": off, "error_channel": channel}
    else:
        key = f"test-{uuid.uuid4().hex[:24]}"
        try:
            message = sample_message(channel, form, config, key)
            result = send_test(channel, message, config)
        except ConnectorError as exc:  # a profile that does not build
            status, context = 503, {**context, "error": str(exc), "error_channel": channel}
        else:
            context = {**context, "result": result, "result_channel": channel, "key": key}
    if htmx and not htmx.boosted:  # htmx swaps only 2xx answers: the partial carries the error
        return render_template("settings/_result.html", channel=channel, **context), 200
    return _page(status, **context)
