"""Turn an EmailMessage into a MIME message with stable Message-ID and unsubscribe headers."""

from __future__ import annotations

import hashlib
import re
from email.message import EmailMessage as MimeMessage
from email.utils import formatdate

from connectors.base import EmailMessage
from connectors.validation import email_addr_spec

_SAFE_KEY = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Headers we set ourselves; a template must not be able to override them.
_RESERVED = {"from", "to", "subject", "message-id", "date", "reply-to", "mime-version"}


def message_id_for(idempotency_key: str, domain: str) -> str:
    """Derive the Message-ID from the idempotency key, so a resend carries the same id."""
    if _SAFE_KEY.match(idempotency_key):
        local = f"mahnwerk.{idempotency_key}"
    else:
        local = "mahnwerk." + hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{local}@{domain}>"


def build_mime(msg: EmailMessage, message_id_domain: str | None = None) -> MimeMessage:
    """Build a text (+ HTML alternative) message; raises ValueError on unusable headers."""
    mime = MimeMessage()
    mime["From"] = msg.from_addr
    mime["To"] = msg.to
    mime["Subject"] = msg.subject
    mime["Date"] = formatdate(localtime=False, usegmt=True)
    domain = message_id_domain or email_addr_spec("from_addr", msg.from_addr).split("@")[1]
    mime["Message-ID"] = message_id_for(msg.idempotency_key, domain)
    if msg.reply_to:
        mime["Reply-To"] = msg.reply_to
    if msg.list_unsubscribe:
        _add_unsubscribe(mime, msg.list_unsubscribe)
    for name, value in msg.headers.items():
        if name.lower() in _RESERVED:
            raise ValueError(f"header {name} is set by the connector and cannot be overridden")
        mime[name] = value
    mime.set_content(msg.text)
    if msg.html is not None:
        mime.add_alternative(msg.html, subtype="html")
    return mime


def _add_unsubscribe(mime: MimeMessage, target: str) -> None:
    """Add List-Unsubscribe; one-click (RFC 8058) only applies to an https URL."""
    mime["List-Unsubscribe"] = f"<{target}>"
    if target.startswith("https://"):
        mime["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
