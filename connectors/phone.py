"""Phone numbers normalised to E.164 and validated with phonenumbers."""

from __future__ import annotations

import phonenumbers

from connectors.base import InvalidAddressError


def to_e164(field_name: str, number: str, default_region: str | None = "DE") -> str:
    """Return +4915112345678 for '0151 1234 5678' (region DE), or raise InvalidAddressError."""
    try:
        parsed = phonenumbers.parse(number, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidAddressError(field_name, number, f"it is not a phone number ({exc})") from exc
    if not phonenumbers.is_valid_number(parsed):
        hint = f" (numbers without +country code are read as {default_region})"
        raise InvalidAddressError(
            field_name, number, "it is not a valid phone number" + (hint if default_region else "")
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def to_sender_id(field_name: str, sender: str, default_region: str | None = "DE") -> str:
    """A sender is a phone number (E.164) or an alphanumeric id of up to 11 characters."""
    if sender.lstrip("+").replace(" ", "").isdigit():
        return to_e164(field_name, sender, default_region)
    if not (1 <= len(sender) <= 11 and sender.isascii() and sender.replace(" ", "").isalnum()):
        raise InvalidAddressError(
            field_name, sender, "an alphanumeric sender is 1-11 letters, digits or spaces"
        )
    return sender
