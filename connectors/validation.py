"""Checks on email and postal addresses that raise InvalidAddressError naming the field."""

from __future__ import annotations

import re
from email.utils import parseaddr

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
