"""RF creditor references per case: valid ISO 11649, one per case, read back exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest
from stdnum import iso11649

from engine.delivery.config import Company
from engine.payments.references import (
    ReferencePrefixError,
    bank_transfer,
    case_id_of_reference,
    find_references,
    giro_payment,
    rf_reference,
)


def test_a_reference_is_valid_iso_11649_and_names_its_case() -> None:
    ref = rf_reference(1, "MW")

    assert ref == "RF95MW1"
    assert iso11649.is_valid(ref)
    assert case_id_of_reference(ref, "MW") == 1


def test_references_are_collision_free_over_many_cases() -> None:
    refs = {rf_reference(i, "MW") for i in range(1, 20_001)}

    assert len(refs) == 20_000
    assert all(case_id_of_reference(r, "MW") == int(r[6:]) for r in list(refs)[:500])


@pytest.mark.parametrize(
    "reference",
    ["RF96MW1", "RF95MW1X", "RF95XY1", "RF18539007547034", "RF00MW01", "nonsense"],
)
def test_a_reference_of_someone_else_or_mistyped_names_no_case(reference: str) -> None:
    assert case_id_of_reference(reference, "MW") is None


def test_the_prefix_must_be_short_letters_and_digits() -> None:
    with pytest.raises(ReferencePrefixError, match="at most 8 letters and digits"):
        rf_reference(1, "MW-1")
    assert rf_reference(7, "") == f"RF{rf_reference(7, '')[2:4]}7"


def test_references_are_found_in_text_grouped_or_joined() -> None:
    assert "RF41MW3" in find_references("Zahlung zu RF41 MW3 danke")
    assert "RF95MW1" in find_references("EREF+NOTPROVIDEDSVWZ+rf95mw1 Rechnung")
    assert find_references("no reference here") == []


def test_the_girocode_carries_the_rf_reference_as_structured_remittance() -> None:
    company = Company()
    giro = giro_payment(12, Decimal("10.00"), "EUR", company)

    assert giro is not None and giro.reference == rf_reference(12)
    assert giro_payment(12, Decimal("10.00"), "USD", company) is None
    shown = bank_transfer(12, Decimal("10.00"), "EUR", company)
    assert shown is not None and shown.girocode_svg.startswith("data:image/svg+xml")
    assert shown.reference == rf_reference(12) and shown.iban == company.iban
    assert bank_transfer(12, Decimal("10.00"), "EUR", Company(iban=None)) is None
