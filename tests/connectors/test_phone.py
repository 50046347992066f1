"""E.164 normalisation and sender ids."""

from __future__ import annotations

import pytest

from connectors.base import InvalidAddressError
from connectors.phone import to_e164, to_sender_id


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("0151 2345 6789", "DE", "+4915123456789"),
        ("+44 7911 123456", "DE", "+447911123456"),
        ("(202) 555-0143", "US", "+12025550143"),
    ],
)
def test_numbers_become_e164(raw: str, region: str, expected: str) -> None:
    assert to_e164("to", raw, region) == expected


@pytest.mark.parametrize("raw", ["12", "hello", "+49 000"])
def test_invalid_numbers_name_the_field(raw: str) -> None:
    with pytest.raises(InvalidAddressError) as caught:
        to_e164("to", raw, "DE")
    assert caught.value.field == "to"


def test_alphanumeric_sender_is_kept() -> None:
    assert to_sender_id("sender", "MusterShop") == "MusterShop"


def test_overlong_alphanumeric_sender_is_refused() -> None:
    with pytest.raises(InvalidAddressError, match="1-11"):
        to_sender_id("sender", "MusterShopGmbH")
