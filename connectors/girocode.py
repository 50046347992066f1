"""GiroCode: the EPC069-12 QR payload (version 002, UTF-8, SCT) and its SVG image."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from functools import lru_cache

import segno

from connectors.base import GiroPayment, InvalidAddressError

_IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")
_BIC = re.compile(r"^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$")
_MAX_AMOUNT = Decimal("999999999.99")
_MAX_PAYLOAD_BYTES = 331  # EPC069-12 section 3.5


def compact(value: str) -> str:
    """Upper-case and drop spaces, as IBANs and BICs are printed in groups."""
    return value.replace(" ", "").upper()


def is_valid_iban(iban: str) -> bool:
    """Shape plus the ISO 7064 mod-97 check digits."""
    iban = compact(iban)
    return bool(_IBAN.match(iban)) and _mod97(iban[4:] + iban[:4]) == 1


def is_creditor_reference(reference: str) -> bool:
    """ISO 11649 'RF' reference, which the EPC code carries in its structured field."""
    ref = compact(reference)
    ok_shape = re.match(r"^RF[0-9]{2}[A-Z0-9]{1,21}$", ref) is not None
    return ok_shape and _mod97(ref[4:] + ref[:4]) == 1


def epc_payload(payment: GiroPayment) -> str:
    """Build the QR text; raises InvalidAddressError naming the offending field."""
    iban, bic = compact(payment.iban), compact(payment.bic or "")
    _check(payment, iban, bic)
    structured = is_creditor_reference(payment.reference)
    lines = [
        "BCD",  # service tag
        "002",  # version: BIC optional inside the EEA
        "1",  # character set 1 = UTF-8
        "SCT",  # SEPA credit transfer
        bic,
        payment.beneficiary.strip(),
        iban,
        f"EUR{payment.amount:.2f}",
        "",  # purpose code, unused
        compact(payment.reference) if structured else "",
        "" if structured else payment.reference.strip(),
    ]
    # The last populated element must not be followed by empty lines (EPC069-12 3.4).
    payload = "\n".join(lines).rstrip("\n")
    if len(payload.encode()) > _MAX_PAYLOAD_BYTES:
        raise InvalidAddressError("giro", payment, "the QR payload exceeds 331 bytes")
    return payload


def girocode_svg_data_uri(payment: GiroPayment) -> str:
    """The QR code as an SVG data: URI, error correction M as EPC069-12 prescribes."""
    return _svg_data_uri(epc_payload(payment))


def girocode_svg(payment: GiroPayment) -> bytes:
    """The QR code as an SVG document (the portal serves it as an image of its own)."""
    return _svg(epc_payload(payment))


@lru_cache(maxsize=512)
def _svg_data_uri(payload: str) -> str:
    return _qr(payload).svg_data_uri(scale=4, border=4)


@lru_cache(maxsize=512)
def _svg(payload: str) -> bytes:
    # Kept per payload: encoding (segno's choice of the best of 8 masks) takes about 15 ms.
    buffer = io.BytesIO()
    _qr(payload).save(buffer, kind="svg", scale=4, border=4, xmldecl=False)
    return buffer.getvalue()


def _qr(payload: str) -> segno.QRCode:
    # No ECI header: several banking apps refuse codes that carry one.
    return segno.make(payload, error="m", encoding="utf-8", micro=False, boost_error=False)


def _check(payment: GiroPayment, iban: str, bic: str) -> None:
    if payment.currency != "EUR":
        raise InvalidAddressError("giro.currency", payment.currency, "SEPA transfers are EUR")
    if not is_valid_iban(iban):
        raise InvalidAddressError("giro.iban", payment.iban, "the IBAN check digits are wrong")
    if bic and not _BIC.match(bic):
        raise InvalidAddressError("giro.bic", payment.bic, "a BIC has 8 or 11 characters")
    name = payment.beneficiary.strip()
    if not 1 <= len(name) <= 70:
        raise InvalidAddressError("giro.beneficiary", name, "it must be 1-70 characters")
    if not Decimal("0.01") <= payment.amount <= _MAX_AMOUNT or payment.amount != round(
        payment.amount, 2
    ):
        raise InvalidAddressError("giro.amount", payment.amount, "use 0.01-999999999.99 EUR")
    if len(payment.reference.strip()) > 140 or "\n" in payment.reference:
        raise InvalidAddressError("giro.reference", payment.reference, "at most 140 characters")


def _mod97(rearranged: str) -> int:
    """Letters become 10..35, then the number modulo 97."""
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97
