"""Statutory rates and fee tables as data (`data/rates.toml`), checked on load, looked up by date.

A base rate holds from its date until the next entry's; the statutory default rate is the base
rate plus the points the law gives a debtor type (§ 288 BGB: consumers + 5, businesses + 9; the
UK's Late Payment Act: businesses + 8). A jurisdiction without an entry for a debtor type has no
statutory rate for it (the US: contract rate only).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

RATES_FILE = Path(__file__).parent / "data" / "rates.toml"
DEBTOR_TYPES = ("consumer", "business")
DAY_COUNTS = {"ACT/365": 365}  # the days a year counts, by convention name


class RatesError(ValueError):
    """A rates file that cannot be used; the message names the jurisdiction, entry and field."""


class NoStatutoryRate(LookupError):
    """The jurisdiction has no statutory rate for this debtor type or day."""


@dataclass(frozen=True)
class FeeBand:
    """One band of a fee table: the amount for claims below `below` (None: any claim)."""

    amount: Decimal
    below: Decimal | None = None


@dataclass(frozen=True)
class FeeTable:
    """A fee a `fee` step can take by name, for some debtor types, by claim band."""

    name: str
    law: str
    debtor_types: tuple[str, ...]
    bands: tuple[FeeBand, ...]

    def amount(self, principal: Decimal) -> Decimal:
        """The fee for a claim of `principal` (the first band it lies below)."""
        for band in self.bands:
            if band.below is None or principal < band.below:
                return band.amount
        return self.bands[-1].amount


@dataclass(frozen=True)
class Statutory:
    """The statutory default rate for one debtor type: base rate plus `points`."""

    points: Decimal
    law: str


@dataclass(frozen=True)
class Jurisdiction:
    """One jurisdiction's rates: base rates by date, statutory points, fee tables and caps."""

    code: str
    name: str
    currency: str
    year_days: int
    base_rate_name: str
    source: str
    base_rates: tuple[tuple[date, Decimal], ...]
    statutory: dict[str, Statutory]
    fees: dict[str, FeeTable]
    caps: dict[str, Any]

    def base_rate(self, day: date) -> Decimal:
        """The base rate in force on `day`; NoStatutoryRate before the first entry."""
        found = None
        for start, rate in self.base_rates:
            if start > day:
                break
            found = rate
        if found is None:
            raise NoStatutoryRate(f"{self.code}: no base rate known for {day.isoformat()}")
        return found


@dataclass(frozen=True)
class RatePeriod:
    """Days [start, end) at one annual rate (percent)."""

    start: date
    end: date
    rate: Decimal

    @property
    def days(self) -> int:
        """The days in the period."""
        return (self.end - self.start).days


def parse_rates(data: dict[str, Any], where: str = "rates") -> dict[str, Jurisdiction]:
    """Jurisdictions from a parsed rates file; RatesError naming what is wrong."""
    out = {}
    for code, raw in data.items():
        if not isinstance(raw, dict):
            raise RatesError(f"{where}: [{code}] must be a table")
        out[code] = _jurisdiction(code, raw, f"{where}: [{code}]")
    return out


def load_rates(path: Path = RATES_FILE) -> dict[str, Jurisdiction]:
    """Read and check a rates file; RatesError names the file, the entry and the field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise RatesError(f"{path.name}: cannot be read ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RatesError(f"{path.name}: not valid TOML ({exc})") from exc
    return parse_rates(data, path.name)


@cache
def rates() -> dict[str, Jurisdiction]:
    """The shipped rates, loaded once."""
    return load_rates()


def jurisdiction(code: str) -> Jurisdiction | None:
    """A jurisdiction's rates (GB is the UK); None when the data has none."""
    return rates().get("UK" if code == "GB" else code)


def statutory(code: str, debtor_type: str) -> Statutory | None:
    """The statutory rule for a debtor type in a jurisdiction, None when there is none."""
    found = jurisdiction(code)
    return None if found is None else found.statutory.get(debtor_type)


def rate_on(code: str, debtor_type: str, day: date) -> Decimal:
    """The statutory annual default rate (percent) on `day`; NoStatutoryRate when none applies."""
    found = jurisdiction(code)
    rule = None if found is None else found.statutory.get(debtor_type)
    if found is None or rule is None:
        raise NoStatutoryRate(f"{code}: no statutory interest for a {debtor_type} debtor")
    return found.base_rate(day) + rule.points


def rate_periods(code: str, debtor_type: str, start: date, end: date) -> list[RatePeriod]:
    """The statutory rate's periods over the days [start, end), split where the base changes."""
    if start >= end:
        return []
    found = jurisdiction(code)
    cuts = [d for d, _ in found.base_rates if start < d < end] if found is not None else []
    bounds = [start, *cuts, end]
    return [RatePeriod(a, b, rate_on(code, debtor_type, a)) for a, b in pairwise(bounds)]


def year_days(code: str) -> int:
    """The days a year counts for interest in a jurisdiction (365 where the data says nothing)."""
    found = jurisdiction(code)
    return 365 if found is None else found.year_days


def _jurisdiction(code: str, raw: dict[str, Any], where: str) -> Jurisdiction:
    known = {"name", "currency", "day_count", "base_rate_name", "source", "base_rates"}
    known |= {"statutory", "fees", "caps"}
    unknown = sorted(set(raw) - known)
    if unknown:
        names = ", ".join(sorted(known))
        raise RatesError(f"{where}: unknown field '{unknown[0]}' (known: {names})")
    day_count = raw.get("day_count", "ACT/365")
    if day_count not in DAY_COUNTS:
        raise RatesError(f"{where}, field 'day_count': use one of {', '.join(DAY_COUNTS)}")
    return Jurisdiction(
        code=code,
        name=_text(raw, "name", where),
        currency=_text(raw, "currency", where),
        year_days=DAY_COUNTS[day_count],
        base_rate_name=_text(raw, "base_rate_name", where),
        source=_text(raw, "source", where),
        base_rates=tuple(_base_rates(raw.get("base_rates"), where)),
        statutory=_statutory(raw.get("statutory") or {}, where),
        fees=_fees(raw.get("fees") or [], where),
        caps=dict(raw.get("caps") or {}),
    )


def _text(raw: dict[str, Any], name: str, where: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value.strip():
        raise RatesError(f"{where}, field '{name}': give a text")
    return value


def _decimal(value: Any, where: str) -> Decimal:
    """A decimal from a string (never a float: '2.57', not 2.57)."""
    if not isinstance(value, str):
        raise RatesError(f'{where}: give the number as a string, e.g. "2.57"')
    try:
        number = Decimal(value)
    except InvalidOperation as exc:
        raise RatesError(f"{where}: '{value}' is not a number") from exc
    if not number.is_finite():
        raise RatesError(f"{where}: '{value}' is not a finite number")
    return number


def _base_rates(raw: Any, where: str) -> Iterator[tuple[date, Decimal]]:
    if not isinstance(raw, list):
        raise RatesError(f"{where}, field 'base_rates': give a list of {{ from, rate }}")
    last: date | None = None
    for i, entry in enumerate(raw):
        at = f"{where}, base_rates[{i}]"
        if not isinstance(entry, dict) or set(entry) != {"from", "rate"}:
            raise RatesError(f'{at}: give exactly {{ from = YYYY-MM-DD, rate = "x.xx" }}')
        start = entry["from"]
        if not isinstance(start, date) or isinstance(start, datetime):
            raise RatesError(f"{at}, field 'from': give a date, e.g. 2025-07-01")
        if last is not None and start <= last:
            raise RatesError(f"{at}, field 'from': {start} is not after {last} (keep date order)")
        last = start
        yield start, _decimal(entry["rate"], f"{at}, field 'rate'")


def _statutory(raw: dict[str, Any], where: str) -> dict[str, Statutory]:
    out = {}
    for debtor_type, rule in raw.items():
        at = f"{where}, statutory.{debtor_type}"
        if debtor_type not in DEBTOR_TYPES:
            raise RatesError(f"{at}: use a debtor type of {', '.join(DEBTOR_TYPES)}")
        if not isinstance(rule, dict):
            raise RatesError(f"{at}: give {{ points, law }}")
        out[debtor_type] = Statutory(
            _decimal(rule.get("points"), f"{at}, field 'points'"), _text(rule, "law", at)
        )
    return out


def _fees(raw: Any, where: str) -> dict[str, FeeTable]:
    if not isinstance(raw, list):
        raise RatesError(f"{where}, field 'fees': give a list of [[fees]] tables")
    out: dict[str, FeeTable] = {}
    for i, table in enumerate(raw):
        at = f"{where}, fees[{i}]"
        if not isinstance(table, dict):
            raise RatesError(f"{at}: give a table")
        name = _text(table, "name", at)
        types = table.get("debtor_types")
        if not isinstance(types, list) or not types or not set(types) <= set(DEBTOR_TYPES):
            raise RatesError(f"{at}, field 'debtor_types': use {', '.join(DEBTOR_TYPES)}")
        bands = table.get("bands")
        if not isinstance(bands, list) or not bands:
            raise RatesError(f"{at}, field 'bands': give at least one {{ amount = \"x.xx\" }}")
        parsed = []
        for j, band in enumerate(bands):
            b_at = f"{at}, bands[{j}]"
            if not isinstance(band, dict):
                raise RatesError(f"{b_at}: give {{ below, amount }}")
            below = band.get("below")
            parsed.append(
                FeeBand(
                    _decimal(band.get("amount"), f"{b_at}, field 'amount'"),
                    None if below is None else _decimal(below, f"{b_at}, field 'below'"),
                )
            )
        if parsed[-1].below is not None:
            raise RatesError(f"{at}, field 'bands': the last band must have no 'below'")
        out[name] = FeeTable(name, _text(table, "law", at), tuple(types), tuple(parsed))
    return out
