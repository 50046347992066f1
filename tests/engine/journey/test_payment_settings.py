"""The journey's settings.payments: validated naming the field, kept on dump, absent by default."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from engine import dump_journey, load_journey
from tests.factories import journey_doc


def test_without_settings_the_document_dumps_as_before() -> None:
    journey = load_journey(journey_doc())
    assert journey.settings is None and "settings" not in dump_journey(journey)


def test_payment_settings_get_defaults_and_survive_a_dump() -> None:
    doc = journey_doc(settings={"payments": {"methods": ["sepa_debit", "card"]}})
    journey = load_journey(doc)
    assert journey.settings == {
        "payments": {"provider": "sandbox", "methods": ["sepa_debit", "card"]}
    }
    assert load_journey(dump_journey(journey)).settings == journey.settings


@pytest.mark.parametrize(
    ("payments", "path"),
    [
        ({"methods": ["card", "bitcoin"]}, ("methods", 1)),
        ({"methods": []}, ("methods",)),
        ({"provider": "Not A Name!"}, ("provider",)),
        ({"fee": 1}, ("fee",)),
    ],
)
def test_bad_payment_settings_name_the_field(payments: dict, path: tuple) -> None:
    with pytest.raises(ValidationError) as raised:
        load_journey(journey_doc(settings={"payments": payments}))
    found = raised.value.messages["settings"]["payments"]
    for key in path:
        found = found[key]
    assert found
