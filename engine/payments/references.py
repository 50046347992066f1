"""RF creditor references (ISO 11649) per case, and the bank transfer details around them.

A case's reference is `RF` + two check digits + the installation's prefix
(MAHNWERK_RF_PREFIX, default `MW`) + the case's row id in decimals: made from the case alone,
so no table keeps it, and two cases never share one (their ids differ and the prefix is
fixed). A statement line that carries it names its case exactly; `case_id_of_reference` reads
it back, refusing wrong check digits, another prefix and anything after the id.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from stdnum import iso11649
from stdnum.iso7064 import mod_97_10

from connectors import GiroPayment, InvalidAddressError
from connectors.girocode import epc_payload, girocode_svg, girocode_svg_data_uri
from engine.core.settings import rf_prefix_setting
from engine.delivery.config import Company

_PREFIX = re.compile(r"^[A-Z0-9]{0,8}$")
_CANDIDATE = re.compile(r"RF[0-9]{2}", re.IGNORECASE)
MAX_BODY = 21  # ISO 11649: at most 25 characters with RF and the check digits


class ReferencePrefixError(ValueError):
    """MAHNWERK_RF_PREFIX is not 0-8 letters and digits."""


def reference_prefix(prefix: str | None = None) -> str:
    """The prefix given, else MAHNWERK_RF_PREFIX, upper case; ReferencePrefixError if unusable."""
    value = (rf_prefix_setting() if prefix is None else prefix).strip().upper()
    if not _PREFIX.match(value):
        raise ReferencePrefixError(
            f"MAHNWERK_RF_PREFIX {value!r} must be at most 8 letters and digits (A-Z, 0-9)."
        )
    return value


def rf_reference(case_id: int, prefix: str | None = None) -> str:
    """The case's RF creditor reference, e.g. RF95MW1 for case 1 with prefix MW."""
    body = f"{reference_prefix(prefix)}{int(case_id)}"
    if len(body) > MAX_BODY:
        raise ValueError(f"case id {case_id} is too long for an RF reference")
    return f"RF{mod_97_10.calc_check_digits(body + 'RF')}{body}"


def case_id_of_reference(reference: str, prefix: str | None = None) -> int | None:
    """The case row id an RF reference of ours names, or None (not ours, or not valid)."""
    ref = iso11649.compact(reference)
    if not iso11649.is_valid(ref):
        return None
    own = reference_prefix(prefix)
    body = ref[4:]
    digits = body[len(own) :]
    if not body.startswith(own) or not digits.isdigit() or digits.startswith("0"):
        return None
    return int(digits)


def find_references(text: str, ours: Callable[[str], bool] | None = None) -> list[str]:
    """The RF references a payer's text holds: one per "RF" + two digits, the best reading.

    People write references in groups of four ("RF95 MW1"), and banks join remittance lines
    without a space ("RF95MW1Rechnung"), so from each start the readings over single spaces are
    tried: first those ending where a group ends, then the others, each longest first. The
    first with valid check digits (and, with `ours`, that `ours` accepts) is taken. Taking one
    reading per start matters: a shorter reading of a valid reference is itself valid by chance
    one time in 97, and would name a second case.
    """
    found: list[str] = []
    for match in _CANDIDATE.finditer(text):
        chars: list[str] = []
        group_ends: set[int] = set()
        previous = ""
        for ch in text[match.end() :]:
            if ch.isascii() and ch.isalnum():
                chars.append(ch.upper())
            elif ch != " " or previous == " ":  # one space between groups, no more
                break
            else:
                group_ends.add(len(chars))
            previous = ch
            if len(chars) == MAX_BODY:
                break
        group_ends.add(len(chars))
        head = match.group().upper()
        lengths = sorted(range(1, len(chars) + 1), key=lambda n: (n not in group_ends, -n))
        for length in lengths:
            candidate = head + "".join(chars[:length])
            if iso11649.is_valid(candidate) and (ours is None or ours(candidate)):
                if candidate not in found:
                    found.append(candidate)
                break
    return found


@dataclass(frozen=True)
class BankTransfer:
    """What a debtor needs to pay a case by bank transfer, and its GiroCode (None outside EUR)."""

    beneficiary: str
    iban: str
    bic: str | None
    amount: Decimal
    currency: str
    reference: str
    girocode_svg: str | None  # an SVG data: URI (None when asked without the image)
    has_girocode: bool = False  # a GiroCode can be made (`girocode_image` serves it)

    @property
    def iban_grouped(self) -> str:
        """The IBAN in groups of four, as people copy it from paper."""
        iban = self.iban.replace(" ", "").upper()
        return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def giro_payment(
    case_id: int | None, amount: Decimal, currency: str, company: Company
) -> GiroPayment | None:
    """The GiroCode's contents for a case (its RF reference as the structured remittance);
    None where a GiroCode cannot work: no company IBAN, not EUR, nothing open."""
    if currency != "EUR" or not company.iban or amount <= 0:
        return None
    return GiroPayment(
        beneficiary=company.name,
        iban=company.iban,
        bic=company.bic,
        amount=Decimal(amount),
        currency="EUR",
        reference=rf_reference(case_id or 0),
    )


def bank_transfer(
    case_id: int, amount: Decimal, currency: str, company: Company, image: bool = True
) -> BankTransfer | None:
    """The transfer details the portal shows for a case; None without a company IBAN.

    `image=False` leaves the QR image out (the portal links to `girocode_image` instead, so
    its encoding, most of a page's time, is not part of the page).
    """
    if not company.iban:
        return None
    giro = giro_payment(case_id, amount, currency, company)
    svg, has = None, False
    if giro is not None:
        try:
            svg = girocode_svg_data_uri(giro) if image else None
            has = image or bool(epc_payload(giro))
        except InvalidAddressError:  # a malformed company IBAN: the details still show
            svg, has = None, False
    return BankTransfer(
        beneficiary=company.name,
        iban=company.iban,
        bic=company.bic,
        amount=Decimal(amount),
        currency=currency,
        reference=rf_reference(case_id),
        girocode_svg=svg,
        has_girocode=has,
    )


def girocode_image(case_id: int, amount: Decimal, currency: str, company: Company) -> bytes | None:
    """The case's GiroCode as an SVG document; None where there can be none."""
    giro = giro_payment(case_id, amount, currency, company)
    if giro is None:
        return None
    try:
        return girocode_svg(giro)
    except InvalidAddressError:
        return None
