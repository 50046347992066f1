"""EPC069-12 GiroCode payload and image."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
import segno

from connectors.base import GiroPayment, InvalidAddressError
from connectors.girocode import epc_payload, girocode_svg_data_uri, is_valid_iban

PAYMENT = GiroPayment(
    beneficiary="Muster Shop GmbH",
    iban="DE89 3704 0044 0532 0130 00",
    bic="COBADEFFXXX",
    amount=Decimal("89"),
    currency="EUR",
    reference="Rechnung 4711",
)


def test_payload_with_unstructured_reference() -> None:
    assert epc_payload(PAYMENT) == (
        "BCD\n002\n1\nSCT\nCOBADEFFXXX\nMuster Shop GmbH\nDE89370400440532013000\n"
        "EUR89.00\n\n\nRechnung 4711"
    )


def test_creditor_reference_goes_in_the_structured_field() -> None:
    payload = epc_payload(replace(PAYMENT, reference="RF18 5390 0754 7034"))
    assert payload.split("\n")[8:] == ["", "RF18539007547034"]


def test_bic_may_be_empty_in_version_002() -> None:
    assert epc_payload(replace(PAYMENT, bic=None)).split("\n")[4] == ""


def test_payload_keeps_utf8_names() -> None:
    assert "Müller & Söhne" in epc_payload(replace(PAYMENT, beneficiary="Müller & Söhne"))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"iban": "DE89370400440532013001"}, "giro.iban"),
        ({"bic": "COBA"}, "giro.bic"),
        ({"currency": "USD"}, "giro.currency"),
        ({"amount": Decimal("0")}, "giro.amount"),
        ({"amount": Decimal("1.005")}, "giro.amount"),
        ({"beneficiary": "x" * 71}, "giro.beneficiary"),
        ({"reference": "r" * 141}, "giro.reference"),
    ],
)
def test_invalid_payments_name_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidAddressError) as caught:
        epc_payload(replace(PAYMENT, **change))
    assert caught.value.field == field


def test_iban_check_digits() -> None:
    assert (
        is_valid_iban("GB82 WEST 1234 5698 7654 32"),
        is_valid_iban("GB82WEST12345698765433"),
    ) == (
        True,
        False,
    )


def test_svg_encodes_exactly_the_payload_at_level_m() -> None:
    expected = segno.make(epc_payload(PAYMENT), error="m", encoding="utf-8", boost_error=False)
    assert girocode_svg_data_uri(PAYMENT) == expected.svg_data_uri(scale=4, border=4)
    assert expected.error == "M"
