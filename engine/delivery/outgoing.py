"""Build the connector message for an outbox row from its case and rendered text."""

from __future__ import annotations

import html as html_lib
from datetime import datetime
from typing import Any

from connectors import (
    EmailMessage,
    GiroPayment,
    LetterMessage,
    PostalAddress,
    SmsMessage,
    WhatsAppMessage,
)
from connectors.base import Attachment
from engine.delivery.config import Company
from engine.journey.templating import Rendered
from engine.payments.references import giro_payment

# SMS providers whose delivery receipts api/receipts.py takes (POST
# /hooks/sms/<provider>); others get no callback URL, since nothing would answer it.
RECEIPT_PROVIDERS = ("twilio", "webhook")


def sms_status_callback_url(public_url: str | None, provider: str | None) -> str | None:
    """Where the SMS provider posts delivery receipts, when this host is reachable from outside."""
    if not public_url or provider not in RECEIPT_PROVIDERS:
        return None
    return f"{public_url.rstrip('/')}/hooks/sms/{provider}"


def connector_message(
    channel: str,
    key: str,
    case: Any,
    rendered: Rendered,
    company: Company,
    portal_url: str,
    now: datetime,
    status_callback_url: str | None = None,
    whatsapp_template: str | None = None,
    bcc: tuple[str, ...] = (),
    attachments: tuple[Attachment, ...] = (),
) -> EmailMessage | SmsMessage | WhatsAppMessage | LetterMessage:
    """The dataclass a channel's connector takes; the outbox id is the idempotency key.

    `status_callback_url` goes on an SMS (see `sms_status_callback_url`). A WhatsApp message is
    the approved template the Mahnwerk template's subject names (else the profile's
    `template_name`, `whatsapp_template`), with the rendered text as its body parameter.
    """
    if channel == "email":
        return EmailMessage(
            idempotency_key=key,
            to=case.email,
            from_addr=company.email_from,
            subject=rendered.subject,
            text=rendered.body,
            html=rendered.html,
            list_unsubscribe=f"{portal_url}/contact",
            portal_url=portal_url,
            bcc=bcc,
            attachments=attachments,
        )
    if channel == "whatsapp":
        return WhatsAppMessage(
            idempotency_key=key,
            to=case.phone,
            template_name=(rendered.subject or whatsapp_template or "").strip(),
            language=whatsapp_language(case.locale),
            parameters=(rendered.body,),
            body=rendered.body,
        )
    if channel == "sms":
        return SmsMessage(
            idempotency_key=key,
            to=case.phone,
            body=rendered.body,
            status_callback_url=status_callback_url,
        )
    return LetterMessage(
        idempotency_key=key,
        recipient=PostalAddress(
            case.debtor_name, case.street or "", case.postcode or "", case.city or "", case.country
        ),
        sender=PostalAddress(
            company.name, company.street, company.postcode, company.city, company.country
        ),
        html=rendered.html or _paragraphs(rendered.body),
        css=None,
        date=now.date(),
        subject=rendered.subject,
        giro=_giro(case, company),
        language=case.locale.split("-")[0] if case.locale.startswith(("de", "en")) else "en",
    )


def whatsapp_language(locale: str) -> str:
    """Meta's template language code for a locale: 'de' for de-DE, 'en_US' and 'en_GB' (English
    templates are approved per region), the bare language otherwise."""
    language, _, region = locale.replace("_", "-").partition("-")
    if language == "en" and region.upper() in ("US", "GB"):
        return f"en_{region.upper()}"
    return language.lower() or "en"


def _paragraphs(text: str) -> str:
    """Plain text as HTML paragraphs, escaped."""
    return "".join(
        f"<p>{html_lib.escape(p).replace(chr(10), '<br>')}</p>"
        for p in text.split("\n\n")
        if p.strip()
    )


def _giro(case: Any, company: Company) -> GiroPayment | None:
    """A GiroCode only where it works (euro amounts, a company IBAN), carrying the case's RF
    creditor reference so the bank statement names the case (engine.payments.reconcile)."""
    return giro_payment(getattr(case, "id", None), case.amount_open, case.currency, company)
