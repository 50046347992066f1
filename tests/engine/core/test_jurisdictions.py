"""The jurisdiction registry: one entry per market, read by documents, policy, simulation."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from marshmallow import ValidationError

from engine.contact_policy import DE, UK, US, US_MA, profile_for, register_profile, tighten
from engine.contact_policy import profiles as policy_profiles
from engine.core import jurisdictions
from engine.core.jurisdictions import (
    COUNTRIES,
    JURISDICTIONS,
    Country,
    Jurisdiction,
    JurisdictionError,
    case_locale,
    case_time_zone,
    jurisdiction,
    jurisdiction_codes,
    jurisdiction_of,
    register_country,
    register_jurisdiction,
)
from engine.delivery.config import ConfigError, DeliveryConfig
from engine.journey.document import load_journey
from engine.simulation import simulate, synthetic_cases
from tests.factories import journey_doc

AUSTRIA = Jurisdiction("AT", COUNTRIES["AT"], profile="DE")


@pytest.fixture
def registry() -> Iterator[None]:
    """Whatever a test registers (jurisdictions, countries, profiles) is gone afterwards."""
    tables = (
        jurisdictions._COUNTRIES,
        jurisdictions._JURISDICTIONS,
        jurisdictions._BY_NAME,
        policy_profiles._PROFILES,
    )
    saved = [dict(table) for table in tables]
    yield
    for table, before in zip(tables, saved, strict=True):
        table.clear()
        table.update(before)  # type: ignore[arg-type]


def test_the_built_in_jurisdictions_and_the_codes_a_journey_may_name() -> None:
    assert [(j.code, j.country.code, j.profile) for j in JURISDICTIONS.values()] == [
        ("DE", "DE", "DE"),
        ("US", "US", "US"),
        ("UK", "GB", "UK"),
    ]
    assert jurisdiction_codes() == ("DE", "US", "UK", "NONE")


def test_the_uk_answers_to_its_country_code_too() -> None:
    assert jurisdiction_of("GB") is jurisdiction_of("UK") is jurisdiction("GB")
    assert jurisdiction("UK").country.code == "GB"


def test_an_unknown_jurisdiction_is_named_in_the_error() -> None:
    assert jurisdiction_of("FR") is None
    with pytest.raises(JurisdictionError, match=r"^Unknown jurisdiction 'FR'; registered: DE, US"):
        jurisdiction("FR")


def test_an_unknown_jurisdiction_in_a_document_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValidationError) as error:
        load_journey(journey_doc(jurisdiction="FR"))

    assert error.value.messages == {"jurisdiction": ["Must be one of: DE, US, UK, NONE."]}


@pytest.mark.parametrize(
    ("country", "time_zone", "locale"),
    [
        ("DE", "Europe/Berlin", "de-DE"),
        ("GB", "Europe/London", "en-GB"),
        ("US", "America/New_York", "en-US"),
        ("AT", "Europe/Vienna", "de-AT"),
        ("CH", "Europe/Zurich", "de-CH"),
        ("FR", "Europe/Paris", "fr-FR"),
        ("UK", "UTC", "en"),  # a case's country is an ISO code: 'UK' is not one
        ("NL", "UTC", "en"),
    ],
)
def test_a_case_takes_its_countrys_time_zone_and_locale(
    country: str, time_zone: str, locale: str
) -> None:
    assert (case_time_zone(country), case_locale(country)) == (time_zone, locale)


@pytest.mark.parametrize(
    ("country", "subdivision", "profile"),
    [("DE", "BY", DE), ("GB", None, UK), ("US", "CA", US), ("US", "MA", US_MA)],
)
def test_the_policy_profile_is_the_covering_jurisdictions(country, subdivision, profile) -> None:
    assert profile_for(country, subdivision) is profile


def test_a_region_keeps_its_own_clock() -> None:
    us = jurisdiction("US").country

    assert (us.zone("CA"), us.zone("NY"), us.zone(None)) == (
        "America/Los_Angeles",
        "America/New_York",
        "America/New_York",
    )


def test_a_registered_jurisdiction_is_valid_in_a_document(registry: None) -> None:
    register_jurisdiction(AUSTRIA)

    assert load_journey(journey_doc(jurisdiction="AT")).jurisdiction == "AT"
    with pytest.raises(ValidationError) as error:
        load_journey(journey_doc(jurisdiction="FR"))
    assert error.value.messages == {"jurisdiction": ["Must be one of: DE, US, UK, AT, NONE."]}


def test_a_registered_jurisdiction_finds_its_contact_policy_profile(registry: None) -> None:
    register_jurisdiction(AUSTRIA)

    assert profile_for("AT") is DE
    assert profile_for("AT", "W") is DE


def test_a_registered_jurisdiction_with_its_own_profile_gets_that_profile(registry: None) -> None:
    austrian = register_profile(tighten(DE, name="AT", min_gap=timedelta(hours=24)))
    register_jurisdiction(Jurisdiction("AT", COUNTRIES["AT"], profile="AT"))

    assert profile_for("AT") is austrian
    section = DeliveryConfig(policy_overrides={"AT": {"min_gap_hours": 36}}, source="x.toml")
    assert section.policy_overrides["AT"].apply(austrian).min_gap == timedelta(hours=36)
    with pytest.raises(ConfigError, match=r"\[policy.AT\] min_gap_hours: .* \(profile AT\)\.$"):
        DeliveryConfig(policy_overrides={"AT": {"min_gap_hours": 12}}, source="x.toml")


def test_a_jurisdiction_naming_a_profile_nobody_registered_fails_naming_it(
    registry: None,
) -> None:
    register_jurisdiction(Jurisdiction("AT", COUNTRIES["AT"], profile="AT"))

    with pytest.raises(LookupError, match="No contact-policy profile called 'AT'"):
        profile_for("AT")


def test_the_simulation_draws_a_registered_jurisdictions_market(registry: None) -> None:
    austria = Country("AT", "Europe/Vienna", "de-AT", subdivisions=("9", "3"))
    register_jurisdiction(Jurisdiction("AT", austria, profile="DE"))
    doc = journey_doc(jurisdiction="AT", locale="")

    cases = synthetic_cases(doc, 20, random.Random(1), date(2026, 3, 2))

    assert {(c["country"], c["timezone"], c["locale"]) for c in cases} == {
        ("AT", "Europe/Vienna", "de-AT")
    }
    assert {c["subdivision"] for c in cases} == {"9", "3"}


def test_a_journey_bound_to_no_jurisdiction_simulates_the_fallbacks_market() -> None:
    cases = synthetic_cases(journey_doc(), 5, random.Random(1), date(2026, 3, 2))

    assert {c["country"] for c in cases} == {"DE"}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (Jurisdiction("NONE", COUNTRIES["AT"], "DE"), "'NONE' cannot name a jurisdiction"),
        (Jurisdiction("GB", COUNTRIES["AT"], "DE"), "'GB' already names the jurisdiction 'UK'"),
        (
            Jurisdiction("XX", Country("DE", "Europe/Berlin", "de-DE"), "DE"),
            "'DE' already names the jurisdiction 'DE'",
        ),
        (
            Jurisdiction("NL", Country("NL", "Europe/Amsterdm", "nl-NL"), "DE"),
            "Unknown time zone 'Europe/Amsterdm' for NL",
        ),
        (
            Jurisdiction("NL", Country("NLD", "Europe/Amsterdam", "nl-NL"), "DE"),
            "ISO code, e.g. 'DE', not 'NLD'",
        ),
    ],
)
def test_a_clashing_or_broken_entry_is_refused(
    registry: None, entry: Jurisdiction, message: str
) -> None:
    with pytest.raises(JurisdictionError, match=message):
        register_jurisdiction(entry)
    assert "NL" not in COUNTRIES and list(JURISDICTIONS) == ["DE", "US", "UK"]


def test_a_jurisdictions_country_replaces_one_registered_for_defaults_alone(
    registry: None,
) -> None:
    austria = Country("AT", "Europe/Vienna", "de-AT", subdivisions=("9", "3"))
    register_jurisdiction(Jurisdiction("AT", austria, profile="DE"))

    assert COUNTRIES["AT"] is austria
    with pytest.raises(JurisdictionError, match="The country 'AT' is already registered"):
        register_country(Country("AT", "Europe/Vienna", "de-AT"))


def test_registering_the_same_entries_again_changes_nothing(registry: None) -> None:
    register_jurisdiction(jurisdiction("UK"))
    register_country(COUNTRIES["FR"])

    assert list(JURISDICTIONS) == ["DE", "US", "UK"]


def test_a_journey_bound_to_a_registered_jurisdiction_simulates_end_to_end(
    registry: None,
) -> None:
    register_jurisdiction(AUSTRIA)

    result = simulate(journey_doc(jurisdiction="AT"), cases=10, days=2, seed=1)

    assert result.messages["email"] > 0
    assert result.outcomes.get("open:stopped", 0) == 0  # no case stopped on an engine error


def test_the_docs_table_has_a_column_for_every_built_in_jurisdiction() -> None:
    docs = (Path(__file__).resolve().parents[3] / "docs" / "contact-policy.md").read_text("utf-8")
    section = docs.split("## Jurisdictions", 1)[1]
    header = section.split("\n| | ", 1)[1].split("\n", 1)[0]

    assert [code.strip() for code in header.strip(" |").split("|")] == list(JURISDICTIONS)
