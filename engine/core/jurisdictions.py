"""Jurisdictions and countries: what varies by market, each defined once.

A *jurisdiction* is the law a journey is bound to, named by the code the journey document
writes ("DE", "US", "UK"). It covers the debtors of one country (ISO 3166-1 "GB" for "UK"),
names the contact-policy profile that carries its rules (engine.contact_policy.profiles) and,
where a region has stricter rules, that region's overlay profile (US-13: "MA" -> "US-MA").
A *country* is where a debtor lives: the time zone and locale a case takes when the host does
not give them, and the regions the simulation draws its debtors from.

Readers: the journey document (which codes are valid), the dispatcher and the contact-policy
lookup (`profile_for`: country and region -> profile), the delivery settings ([policy.X]
sections by code or country), the simulation (its synthetic portfolio) and case intake
(`case_values`: default time zone and locale).

A jurisdiction answers to its own code and to its country's code: `jurisdiction_of("GB")` is
the "UK" jurisdiction. That alias is made in `register_jurisdiction` and nowhere else.

Extension point
---------------
``register_jurisdiction(Jurisdiction(...))`` adds a jurisdiction (and its country);
``register_country(Country(...))`` adds a country that only needs case defaults. The built-ins
at the end of this module are registered through them, exactly as a plugin registers its own
when it is imported. A jurisdiction whose rules are not an existing profile's also needs that
profile: ``engine.contact_policy.register_profile(ContactPolicy(name=..., ...))``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# A journey bound to no jurisdiction: each debtor's country decides.
NONE = "NONE"
# Debtors of a country no jurisdiction covers get this jurisdiction's contact policy (the
# strictest hours), and a journey bound to none is simulated with a portfolio of its country.
FALLBACK = "DE"


class JurisdictionError(LookupError):
    """A jurisdiction or country cannot be registered as given, or a code is not registered."""


@dataclass(frozen=True, slots=True)
class Country:
    """Where debtors live: the defaults a case takes when the host does not give them."""

    code: str  # ISO 3166-1 alpha-2, e.g. 'GB'
    time_zone: str  # IANA name, e.g. 'Europe/London'
    locale: str  # e.g. 'en-GB'
    # The regions the simulation draws debtors from (None: the country as a whole).
    subdivisions: tuple[str | None, ...] = (None,)
    # Regions whose clock is not the country's time zone, e.g. {'CA': 'America/Los_Angeles'}.
    zones: Mapping[str, str] = field(default_factory=dict)

    def zone(self, subdivision: str | None) -> str:
        """The time zone of a region of this country (the country's own without one)."""
        return self.zones.get(subdivision or "", self.time_zone)


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    """The law a journey can be bound to, the country it covers and its contact policy."""

    code: str  # as the journey document writes it, e.g. 'UK'
    country: Country
    profile: str  # the contact-policy profile's name, e.g. 'UK'
    # Regions with a stricter profile of their own (US-13), e.g. {'MA': 'US-MA'}.
    overlays: Mapping[str, str] = field(default_factory=dict)

    def profile_name(self, subdivision: str | None = None) -> str:
        """The contact-policy profile for a debtor in this region (None: the whole country)."""
        if subdivision is None:
            return self.profile
        return self.overlays.get(subdivision, self.profile)

    def profile_names(self) -> tuple[str, ...]:
        """Every profile a debtor under this jurisdiction can meet: base, then overlays."""
        return (self.profile, *self.overlays.values())


_COUNTRIES: dict[str, Country] = {}
_JURISDICTIONS: dict[str, Jurisdiction] = {}
_BY_NAME: dict[str, Jurisdiction] = {}  # by its code and by its country's code

# code -> Jurisdiction, in registration order; read-only and live (later registrations show).
JURISDICTIONS: Mapping[str, Jurisdiction] = MappingProxyType(_JURISDICTIONS)
# ISO code -> Country, every country with case defaults (those of jurisdictions included).
COUNTRIES: Mapping[str, Country] = MappingProxyType(_COUNTRIES)


def register_country(country: Country) -> Country:
    """Add a country's case defaults; refuse a different entry for a country already known."""
    existing = _COUNTRIES.get(country.code)
    if existing is not None and existing != country:
        raise JurisdictionError(f"The country {country.code!r} is already registered.")
    _COUNTRIES[country.code] = _checked(country)
    return country


def register_jurisdiction(jurisdiction: Jurisdiction) -> Jurisdiction:
    """Add a jurisdiction and its country; it answers to its code and its country's code.

    Its country entry replaces one registered for case defaults alone (with `register_country`),
    since the jurisdiction now says what that market is.
    """
    code, country = jurisdiction.code, jurisdiction.country.code
    if code == NONE or not code.isupper():
        raise JurisdictionError(f"{code!r} cannot name a jurisdiction; use capitals, not NONE.")
    for name in (code, country):
        taken = _BY_NAME.get(name)
        if taken is not None and taken != jurisdiction:
            raise JurisdictionError(f"{name!r} already names the jurisdiction {taken.code!r}.")
    _COUNTRIES[country] = _checked(jurisdiction.country)
    _JURISDICTIONS[code] = jurisdiction
    _BY_NAME[code] = _BY_NAME[country] = jurisdiction
    return jurisdiction


def _checked(country: Country) -> Country:
    """The country, once its code and time zones are known to be real."""
    code = country.code
    if not (len(code) == 2 and code.isascii() and code.isupper()):
        raise JurisdictionError(f"A country is named by its ISO code, e.g. 'DE', not {code!r}.")
    for zone in (country.time_zone, *country.zones.values()):
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise JurisdictionError(f"Unknown time zone {zone!r} for {code}.") from None
    return country


def jurisdiction_of(name: str) -> Jurisdiction | None:
    """The jurisdiction a code names, its own ('UK') or its country's ('GB'); None if none."""
    return _BY_NAME.get(name)


def jurisdiction(name: str) -> Jurisdiction:
    """As `jurisdiction_of`, but an unknown code is an error naming it and the known ones."""
    found = _BY_NAME.get(name)
    if found is None:
        known = ", ".join(_JURISDICTIONS)
        raise JurisdictionError(f"Unknown jurisdiction {name!r}; registered: {known}.")
    return found


def jurisdiction_codes() -> tuple[str, ...]:
    """The codes a journey document may name: every registered jurisdiction, then NONE."""
    return (*_JURISDICTIONS, NONE)


def case_time_zone(country: str) -> str:
    """The time zone a case in this country takes when the host gives none (else UTC)."""
    found = _COUNTRIES.get(country)
    return found.time_zone if found is not None else "UTC"


def case_locale(country: str) -> str:
    """The locale a case in this country takes when the host gives none (else English)."""
    found = _COUNTRIES.get(country)
    return found.locale if found is not None else "en"


# -- built-ins, registered as a plugin would register its own --------------------------------

register_jurisdiction(
    Jurisdiction(
        "DE",
        Country("DE", "Europe/Berlin", "de-DE", subdivisions=("BY", "NW", "BE", "HH")),
        profile="DE",
    )
)
register_jurisdiction(
    Jurisdiction(
        "US",
        Country(
            "US",
            "America/New_York",
            "en-US",
            subdivisions=("CA", "NY", "TX", "IL"),
            zones={
                "CA": "America/Los_Angeles",
                "NY": "America/New_York",
                "TX": "America/Chicago",
                "IL": "America/Chicago",
            },
        ),
        profile="US",
        overlays={"MA": "US-MA"},  # US-13: Massachusetts caps calls and texts harder
    )
)
register_jurisdiction(Jurisdiction("UK", Country("GB", "Europe/London", "en-GB"), profile="UK"))
register_country(Country("AT", "Europe/Vienna", "de-AT"))
register_country(Country("CH", "Europe/Zurich", "de-CH"))
register_country(Country("FR", "Europe/Paris", "fr-FR"))
