"""Turn an EmailMessage into MIME bytes with a stable Message-ID and unsubscribe headers.

`mime_bytes()` writes the message directly: building it as an `email.message.EmailMessage`
parses every header into a structured object and folds it again on output, about 1.5 ms of CPU
per message, more than the SMTP exchange itself. Here a header that is short printable ASCII
is written as it is; anything else (non-ASCII, long) goes through `email.policy.SMTP`, so it is
RFC 2047-encoded and folded exactly as the email package would. Bodies are 7bit when they are
ASCII with short lines, otherwise quoted-printable, so the message is plain 7-bit data for any
SMTP server. `build_mime()` returns the same message parsed, for callers that want an object.
"""

from __future__ import annotations

import base64
import binascii
import email
import hashlib
import os
import re
from dataclasses import dataclass
from email.message import EmailMessage as MimeMessage
from email.policy import SMTP, default
from email.utils import formataddr, formatdate, parseaddr

from connectors.base import EmailMessage
from connectors.validation import email_addr_spec

_SAFE_KEY = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Headers we set ourselves; a template must not be able to override them.
_RESERVED = {
    "from",
    "to",
    "subject",
    "message-id",
    "date",
    "reply-to",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
}
_FIELD_NAME = re.compile(r"^[!-9;-~]+$")  # RFC 5322 ftext: printable ASCII without ':'
_PLAIN_VALUE = re.compile(r"^[ -~]*$")  # printable ASCII and spaces only
_MAX_LINE = 78


@dataclass(frozen=True)
class MimeBytes:
    """The message as it goes over SMTP (CRLF line ends, 7-bit) and its Message-ID."""

    message_id: str
    data: bytes


def message_id_for(idempotency_key: str, domain: str) -> str:
    """Derive the Message-ID from the idempotency key, so a resend carries the same id."""
    if _SAFE_KEY.match(idempotency_key):
        local = f"mahnwerk.{idempotency_key}"
    else:
        local = "mahnwerk." + hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{local}@{domain}>"


def mime_bytes(msg: EmailMessage, message_id_domain: str | None = None) -> MimeBytes:
    """Build a text (+ HTML alternative) message; raises ValueError on unusable headers."""
    domain = message_id_domain or email_addr_spec("from_addr", msg.from_addr).split("@")[1]
    message_id = message_id_for(msg.idempotency_key, domain)
    lines = [
        _address("From", msg.from_addr),
        _address("To", msg.to),
        _header("Subject", msg.subject),
        _header("Date", formatdate(localtime=False, usegmt=True)),
        _header("Message-ID", message_id),
    ]
    if msg.reply_to:
        lines.append(_address("Reply-To", msg.reply_to))
    if msg.list_unsubscribe:
        lines.append(_header("List-Unsubscribe", f"<{msg.list_unsubscribe}>"))
        if msg.list_unsubscribe.startswith("https://"):  # one-click (RFC 8058) needs https
            lines.append(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n")
    for name, value in msg.headers.items():
        if name.lower() in _RESERVED:
            raise ValueError(f"header {name} is set by the connector and cannot be overridden")
        if not _FIELD_NAME.match(name):
            raise ValueError(f"header name {name!r} is not a valid field name")
        lines.append(_header(name, value))
    lines.append(b"MIME-Version: 1.0\r\n")
    body = _body(msg)
    if msg.attachments:  # multipart/mixed: the text first, then each file as base64
        files = [_attachment(a.filename, a.content_type, a.data) for a in msg.attachments]
        boundary = _boundary(body, *files)
        parts = b"".join(b"--" + boundary + b"\r\n" + p + b"\r\n" for p in (body, *files))
        body = (
            b'Content-Type: multipart/mixed; boundary="'
            + boundary
            + b'"\r\n\r\n'
            + parts
            + b"--"
            + boundary
            + b"--\r\n"
        )
    lines.append(body)
    return MimeBytes(message_id, b"".join(lines))


def _body(msg: EmailMessage) -> bytes:
    """The text part, or text and HTML as multipart/alternative."""
    text = _part("plain", msg.text)
    if msg.html is None:
        return text
    html = _part("html", msg.html)
    boundary = _boundary(text, html)
    return (
        b'Content-Type: multipart/alternative; boundary="' + boundary + b'"\r\n\r\n'
        b"--" + boundary + b"\r\n" + text + b"\r\n"
        b"--" + boundary + b"\r\n" + html + b"\r\n"
        b"--" + boundary + b"--\r\n"
    )


def _attachment(filename: str, content_type: str, data: bytes) -> bytes:
    """A file part: base64 in 76-character lines, named for download (checked names only)."""
    encoded = base64.encodebytes(data).replace(b"\n", b"\r\n")
    name = filename.encode("ascii")
    return (
        b"Content-Type: " + content_type.encode("ascii") + b'; name="' + name + b'"\r\n'
        b'Content-Disposition: attachment; filename="' + name + b'"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded
    )


def build_mime(msg: EmailMessage, message_id_domain: str | None = None) -> MimeMessage:
    """The same message as an `email.message.EmailMessage` (parsed from `mime_bytes`)."""
    data = mime_bytes(msg, message_id_domain).data
    return email.message_from_bytes(data, _class=MimeMessage, policy=default)


def _header(name: str, value: str) -> bytes:
    """One header line (folded if needed), CRLF-terminated; refuses line breaks."""
    if "\r" in value or "\n" in value:
        raise ValueError(f"header {name} contains a line break")
    if _PLAIN_VALUE.match(value) and len(name) + 2 + len(value) <= _MAX_LINE:
        return f"{name}: {value}\r\n".encode("ascii")
    return SMTP.fold_binary(name, SMTP.header_store_parse(name, value)[1])


def _address(name: str, value: str) -> bytes:
    """An address header in canonical form; a non-ASCII display name is RFC 2047-encoded."""
    if "\r" in value or "\n" in value:
        raise ValueError(f"header {name} contains a line break")
    display, addr = parseaddr(value)
    if display and not display.isascii():
        return _header(name, formataddr((display, addr), charset="utf-8"))
    return _header(name, formataddr((display, addr)))


def _part(subtype: str, content: str) -> bytes:
    """Content-Type, Content-Transfer-Encoding, a blank line and the encoded body."""
    body = content.replace("\r\n", "\n").replace("\r", "\n")
    if not body.endswith("\n"):
        body += "\n"
    raw = body.encode("utf-8")
    if raw.isascii() and all(len(line) <= _MAX_LINE for line in raw.split(b"\n")):
        cte, encoded = b"7bit", raw
    else:
        cte, encoded = b"quoted-printable", binascii.b2a_qp(raw, istext=True)
    return (
        b"Content-Type: text/" + subtype.encode() + b'; charset="utf-8"\r\n'
        b"Content-Transfer-Encoding: " + cte + b"\r\n\r\n" + encoded.replace(b"\n", b"\r\n")
    )


def _boundary(*parts: bytes) -> bytes:
    """A random boundary that occurs in no part ('=_' cannot occur in quoted-printable)."""
    while True:
        boundary = b"=_" + os.urandom(12).hex().encode()
        if not any(boundary in part for part in parts):
            return boundary
