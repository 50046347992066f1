"""The channel registry: one entry per channel, read by state, dispatcher, settings and schemas."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from marshmallow import ValidationError

from engine.core import channels
from engine.core.channels import CHANNELS, Channel, ChannelError, channel, register_channel
from engine.core.state import CaseState
from engine.delivery.config import DeliveryConfig
from engine.journey.document import load_journey
from engine.nodes.send import SendParams
from tests.factories import journey_doc, template


@pytest.fixture
def registry() -> Iterator[None]:
    """Whatever a test registers is gone afterwards."""
    saved = dict(channels._CHANNELS)
    yield
    channels._CHANNELS.clear()
    channels._CHANNELS.update(saved)


def state(**kw: Any) -> CaseState:
    values: dict[str, Any] = {
        "id": 1,
        "external_id": "INV-1",
        "version_id": 1,
        "node_id": "start",
        "status": "active",
        "amount_open": Decimal("10.00"),
        "amount_original": Decimal("10.00"),
        "currency": "EUR",
        "due_date": date(2026, 3, 2),
    }
    return CaseState(**(values | kw))


def row(**kw: Any) -> SimpleNamespace:
    """The columns of a case row that channels read."""
    values = {
        "debtor_name": "Erika Mustermann",
        "email": None,
        "phone": None,
        "street": None,
        "postcode": None,
        "city": None,
        "country": "DE",
    }
    return SimpleNamespace(**(values | kw))


def test_the_built_in_channels_in_their_order() -> None:
    assert [(c.name, c.address_field) for c in CHANNELS.values()] == [
        ("email", "email"),
        ("sms", "phone"),
        ("letter", "street"),
        ("whatsapp", "phone"),
    ]


@pytest.mark.parametrize(
    ("name", "filled", "reaches"),
    [
        ("email", {"email": "e@example.org"}, True),
        ("email", {"phone": "+4915112345678"}, False),
        ("sms", {"phone": "+4915112345678"}, True),
        ("letter", {"address": {"street": "Hauptstr. 1", "postcode": "", "city": ""}}, True),
        ("letter", {"address": {"street": "", "postcode": "10115", "city": "Berlin"}}, False),
        ("letter", {}, False),
        ("fax", {"phone": "+4915112345678"}, False),
    ],
)
def test_a_case_state_has_a_channel_when_its_address_field_is_filled(
    name: str, filled: dict[str, Any], reaches: bool
) -> None:
    assert state(**filled).has_channel(name) is reaches


def test_a_case_row_and_a_case_state_answer_alike() -> None:
    letter = CHANNELS["letter"]

    assert letter.reaches(row(street="Hauptstr. 1"))
    assert not letter.reaches(row(street=None))


def test_the_recipient_of_email_and_sms_is_the_address_itself() -> None:
    case = row(email="e@example.org", phone="+4915112345678")

    assert CHANNELS["email"].recipient_of(case) == "e@example.org"
    assert CHANNELS["sms"].recipient_of(case) == "+4915112345678"


def test_the_recipient_of_a_letter_is_the_postal_address_on_one_line() -> None:
    case = row(street="Hauptstr. 1", postcode="10115", city="Berlin")
    line = CHANNELS["letter"].recipient_of(case)

    assert line == "Erika Mustermann, Hauptstr. 1, 10115 Berlin, DE"


def test_an_unknown_channel_is_named_in_the_error() -> None:
    with pytest.raises(ChannelError, match="Unknown channel 'fax'; registered channels: email, "):
        channel("fax")


def test_a_second_different_channel_under_a_taken_name_is_refused(registry: None) -> None:
    with pytest.raises(ChannelError, match="'sms' is already registered"):
        register_channel(Channel("sms", "email"))


def test_registering_the_same_channel_again_changes_nothing(registry: None) -> None:
    register_channel(CHANNELS["sms"])

    assert list(CHANNELS) == ["email", "sms", "letter", "whatsapp"]


def test_a_registered_channel_is_valid_everywhere_a_channel_is_named(registry: None) -> None:
    register_channel(Channel("fax", "phone"))

    assert state(phone="+4930123456").has_channel("fax")
    assert SendParams().load({"channel": "fax", "template": "t", "fallback_channel": "fax"})
    doc = journey_doc(templates={"reminder": template(), "faxed": template(channel="fax")})
    assert load_journey(doc).templates["faxed"].channel == "fax"
    assert "fax" in DeliveryConfig().profiles


def test_a_channel_that_is_not_registered_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValidationError) as error:
        SendParams().load({"channel": "fax", "template": "t"})

    assert error.value.messages == {"channel": ["Must be one of: email, sms, letter, whatsapp."]}


@pytest.mark.parametrize("name", list(CHANNELS))
def test_the_docs_list_every_built_in_channel_with_its_address_field(name: str) -> None:
    docs = (Path(__file__).resolve().parents[3] / "docs" / "connectors.md").read_text("utf-8")

    assert f"| {name} | `{CHANNELS[name].address_field}` |" in docs
