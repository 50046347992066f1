"""Checks on email and postal addresses that raise InvalidAddressError naming the field."""

from __future__ import annotations

import re
from email.utils import parseaddr
from typing import Any

from connectors.base import EmailMessage, InvalidAddressError, PostalAddress

# Deliberately stricter than RFC 5322: ASCII only (we do not negotiate SMTPUTF8) and a dotted
# domain, which is what real debtor mailboxes look like and keeps typos out of the outbox.
_ADDR_SPEC = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


MAX_BCC = 10  # blind copies per email: an archive or two, never a mailing list


def email_addr_spec(field_name: str, value: str) -> str:
    """Return the bare address of 'Name <a@b.c>' or 'a@b.c', or raise."""
    if "\r" in value or "\n" in value:
        raise InvalidAddressError(field_name, value, "it contains a line break")
    _, addr = parseaddr(value)
    if not addr or not _ADDR_SPEC.match(addr) or ".." in addr:
        raise InvalidAddressError(field_name, value, "it is not a valid email address")
    return addr


def check_email_message(msg: EmailMessage) -> None:
    """Raise InvalidAddressError for the first unusable address in an email."""
    email_addr_spec("to", msg.to)
    email_addr_spec("from_addr", msg.from_addr)
    if msg.reply_to is not None:
        email_addr_spec("reply_to", msg.reply_to)
    if msg.list_unsubscribe is not None:
        check_unsubscribe("list_unsubscribe", msg.list_unsubscribe)
    if len(msg.bcc) > MAX_BCC:
        raise InvalidAddressError("bcc", len(msg.bcc), f"at most {MAX_BCC} blind copies")
    for i, copy in enumerate(msg.bcc):
        email_addr_spec(f"bcc.{i}", copy)
    check_attachments(msg.attachments)


MAX_ATTACHMENTS = 5
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024  # per file; providers refuse mails much above 20 MB
MAX_ATTACHMENTS_BYTES = 15 * 1024 * 1024  # all files together (base64 adds a third)
_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")
ATTACHMENT_TYPES = ("application/pdf",)


def check_attachments(attachments: tuple[Any, ...]) -> None:
    """Raise InvalidAddressError naming `attachments.<n>.<field>` for an unusable file."""
    if len(attachments) > MAX_ATTACHMENTS:
        raise InvalidAddressError(
            "attachments", len(attachments), f"at most {MAX_ATTACHMENTS} files"
        )
    total = 0
    for i, item in enumerate(attachments):
        where = f"attachments.{i}"
        if not _FILENAME.match(item.filename or ""):
            raise InvalidAddressError(
                f"{where}.filename", item.filename, "use letters, digits, space, . _ - only"
            )
        if item.content_type not in ATTACHMENT_TYPES:
            raise InvalidAddressError(
                f"{where}.content_type", item.content_type, "only application/pdf is sent"
            )
        if not item.data.startswith(b"%PDF-"):  # the magic bytes, not the name, say it is a PDF
            raise InvalidAddressError(f"{where}.data", item.filename, "it is not a PDF file")
        if len(item.data) > MAX_ATTACHMENT_BYTES:
            raise InvalidAddressError(
                f"{where}.data", f"{len(item.data)} bytes", f"at most {MAX_ATTACHMENT_BYTES}"
            )
        total += len(item.data)
    if total > MAX_ATTACHMENTS_BYTES:
        raise InvalidAddressError(
            "attachments", f"{total} bytes", f"at most {MAX_ATTACHMENTS_BYTES} together"
        )


def check_unsubscribe(field_name: str, value: str) -> None:
    """Accept an https URL or a mailto: address, as List-Unsubscribe requires."""
    if value.startswith("mailto:"):
        email_addr_spec(field_name, value.removeprefix("mailto:").split("?", 1)[0])
        return
    if not value.startswith(("https://", "http://")) or any(c in value for c in " \r\n<>"):
        raise InvalidAddressError(field_name, value, "it must be an http(s) URL or a mailto:")


def check_postal_address(field_name: str, address: PostalAddress) -> None:
    """Raise InvalidAddressError when a line the post office needs is missing."""
    for part in ("name", "street", "postcode", "city"):
        if not getattr(address, part).strip():
            raise InvalidAddressError(f"{field_name}.{part}", address, f"the {part} is empty")
    if not _COUNTRY.match(address.country):
        raise InvalidAddressError(
            f"{field_name}.country", address.country, "use an ISO 3166 code such as DE"
        )
