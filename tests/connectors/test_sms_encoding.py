"""GSM-7 / UCS-2 detection and segment counting."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.sms_encoding import analyse, is_gsm7


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hallo Frau Müller, bitte zahlen Sie 89,00 EUR.", True),
        ("Preis: 5€ {Rechnung}", True),
        ("Zahlung fällig ✅", False),
        ("Ça coûte 5 €", False),  # ç is not in GSM-7 (only upper-case Ç is)
    ],
)
def test_gsm7_detection(text: str, expected: bool) -> None:
    assert is_gsm7(text) is expected


@pytest.mark.parametrize(
    ("length", "segments"), [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3)]
)
def test_gsm7_segments_use_160_then_153(length: int, segments: int) -> None:
    assert analyse("a" * length).segments == segments


def test_gsm7_extension_characters_count_double() -> None:
    result = analyse("€" * 80)
    assert (result.encoding, result.units, result.segments) == ("GSM-7", 160, 1)


def test_escape_pair_is_not_split_across_segments() -> None:
    # 152 plain septets + '€' (2) = 154 > 153: the pair moves whole to part 2.
    assert analyse("a" * 152 + "€" + "a" * 10).segments == 2
    assert analyse("a" * 152 + "€" + "a" * 152).segments == 3


@pytest.mark.parametrize(("length", "segments"), [(70, 1), (71, 2), (134, 2), (135, 3)])
def test_ucs2_segments_use_70_then_67(length: int, segments: int) -> None:
    result = analyse("ж" * length)
    assert (result.encoding, result.segments) == ("UCS-2", segments)


def test_emoji_take_two_ucs2_units() -> None:
    assert analyse("😀" * 35).units == 70


def test_cost_is_segments_times_price() -> None:
    assert analyse("a" * 161).cost(Decimal("0.075")) == Decimal("0.150")


def test_cost_is_unknown_without_a_price() -> None:
    assert analyse("a").cost(None) is None
