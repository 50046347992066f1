"""GSM-7 vs UCS-2 detection and segment counting, which is what SMS providers bill."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

# GSM 03.38 default alphabet (without the escape character itself).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each costs an escape septet plus its own, so it counts double.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

# Per-segment capacity: a single message vs. each part of a concatenated one (the UDH
# header that glues parts together eats 7 septets / 3 UCS-2 units).
_LIMITS: dict[str, tuple[int, int]] = {"GSM-7": (160, 153), "UCS-2": (70, 67)}


@dataclass(frozen=True)
class SmsEncoding:
    """How a body would travel: its encoding, its length in units and how many segments."""

    encoding: Literal["GSM-7", "UCS-2"]
    units: int
    segments: int

    def cost(self, price_per_segment: Decimal | None) -> Decimal | None:
        """Estimated price: segments times the profile's price per segment."""
        return None if price_per_segment is None else price_per_segment * self.segments


def is_gsm7(text: str) -> bool:
    """True when every character fits the GSM-7 default alphabet or its extension."""
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def analyse(text: str) -> SmsEncoding:
    """Pick the encoding and count segments the way the handset will split the text."""
    if is_gsm7(text):
        costs = [2 if c in GSM7_EXTENSION else 1 for c in text]
        encoding: Literal["GSM-7", "UCS-2"] = "GSM-7"
    else:
        # UCS-2 is really UTF-16 on the wire: characters outside the BMP (emoji) take two.
        costs = [2 if ord(c) > 0xFFFF else 1 for c in text]
        encoding = "UCS-2"
    single, part = _LIMITS[encoding]
    units = sum(costs)
    segments = 1 if units <= single else _pack(costs, part)
    return SmsEncoding(encoding=encoding, units=units, segments=segments)


def _pack(costs: list[int], capacity: int) -> int:
    """Count parts when an escape pair or surrogate pair may not be split across two."""
    parts, used = 1, 0
    for cost in costs:
        if used + cost > capacity:
            parts, used = parts + 1, 0
        used += cost
    return parts
