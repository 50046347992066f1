"""CaseSchema's errors: English as marshmallow and the API give them, German from the catalog."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from engine.intake.cases import CaseSchema, case_words

CASE = {
    "external_id": "INV-1",
    "debtor_name": "Erika Mustermann",
    "country": "DE",
    "currency": "EUR",
    "amount": "10.00",
    "due_date": "2026-11-01",
}


def errors_of(**changes: str) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        CaseSchema().load({**CASE, **changes})
    return caught.value.messages  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("field", "value", "english", "german"),
    [
        ("external_id", "A/B", "An id cannot contain '/'.", "Eine ID darf kein '/' enthalten."),
        (
            "currency",
            "XYZ",
            "Not an ISO 4217 currency code, e.g. EUR.",
            "Kein Währungscode nach ISO 4217, z. B. EUR.",
        ),
        (
            "due_date",
            "9999-12-31",
            "Use a due date from 1900-01-01 to 2199-12-31.",
            "Das Fälligkeitsdatum muss zwischen 1900-01-01 und 2199-12-31 liegen.",
        ),
        (
            "debtor_name",
            "a\x00b",
            "This text holds a NUL character (\\u0000), which cannot be stored.",
            "Dieser Text enthält ein NUL-Zeichen (\\u0000), das nicht gespeichert werden kann.",
        ),
    ],
)
def test_the_english_stays_and_reads_back_in_german(
    field: str, value: str, english: str, german: str
) -> None:
    assert errors_of(**{field: value})[field] == [english]
    assert case_words(english).text("de") == german


def test_several_errors_of_a_cell_read_each_in_german() -> None:
    # The importer joins a cell's errors with a space; an unknown one stays as it is.
    joined = "Use a three-letter currency, e.g. EUR. Not an ISO 4217 currency code, e.g. EUR."
    assert case_words(joined).text("de") == (
        "Use a three-letter currency, e.g. EUR. Kein Währungscode nach ISO 4217, z. B. EUR."
    )
