"""The engine's messages: gettext msgids rendered per locale, and words kept with their owners.

That every marked text has German with the same placeholders is tests/engine/core/test_catalog.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.authoring.validation import FIELD_ERRORS, READ_BACK
from engine.core.event_types import EVENT_WORDS, WAITABLE
from engine.core.messages import (
    Joined,
    Message,
    Money,
    Verbatim,
    from_english,
    language,
    msg,
    placeholders,
    pmsg,
)
from engine.journey.fields import BUILTIN_FIELDS
from engine.nodes import NODE_TYPES
from engine.nodes.base import OPERATOR_WORDS, Clause
from engine.rules import policy
from engine.rules.sentences import clause_words
from tests.catalog import german


@pytest.mark.parametrize("event", WAITABLE)
def test_every_waitable_event_has_words_in_german(event: str) -> None:
    words = EVENT_WORDS[event]

    assert isinstance(words, Message)
    assert german(words) and placeholders(german(words)) == placeholders(words.id)


@pytest.mark.parametrize("rule", policy.RULES, ids=lambda r: r.id)
def test_every_policy_rule_has_words_in_german_that_say_its_phrase(rule: Any) -> None:
    words = policy.WORDS[rule.id]

    assert words.text("en") == rule.phrase
    assert german(words)


@pytest.mark.parametrize("op", sorted(OPERATOR_WORDS))
def test_operator_words_match_the_rule_sentences(op: str) -> None:
    english = OPERATOR_WORDS[op].text("en")

    assert german(OPERATOR_WORDS[op])
    assert (
        clause_words(Clause("country", op, "DE"), "EUR") == f"the debtor's country {english} 'DE'"
    )
    assert clause_words(Clause("messages_sent", op, 3), "EUR") == (
        f"the messages sent so far {english} 3"
    )


@pytest.mark.parametrize("op", sorted(OPERATOR_WORDS))
def test_plural_fields_take_the_plural_verb_in_german(op: str) -> None:
    singular = clause_words(Clause("amount_paid", op, 3), "EUR", "de")
    plural = clause_words(Clause("messages_sent", op, 3), "EUR", "de")

    assert singular.endswith(("ist", "liegt", "beträgt"))
    assert plural.endswith(("sind", "liegen", "betragen"))


def test_a_boolean_field_reads_as_the_fields_module_says() -> None:
    field = BUILTIN_FIELDS["has_email"]
    holds, fails = Clause("has_email", "eq", True), Clause("has_email", "eq", False)

    assert (clause_words(holds, "EUR"), clause_words(fails, "EUR")) == (
        field.label.text("en"),
        field.fails.text("en"),
    )
    assert (clause_words(holds, "EUR", "de"), clause_words(fails, "EUR", "de")) == (
        "eine E-Mail-Adresse bekannt ist",
        "keine E-Mail-Adresse bekannt ist",
    )


@pytest.mark.parametrize("name", sorted(BUILTIN_FIELDS))
def test_every_case_field_has_a_label_in_german(name: str) -> None:
    field = BUILTIN_FIELDS[name]

    assert german(field.label)
    if field.type == "boolean":
        assert field.holds is not None and field.fails is not None
        assert german(field.holds) and german(field.fails)


def test_a_context_tells_two_german_texts_of_one_english_apart() -> None:
    assert msg("{field} is above {value}", field="x", value=1).text("de") == "x über 1 liegt"
    assert pmsg("plural field", "{field} is above {value}", field="x", value=1).text("de") == (
        "x über 1 liegen"
    )


def test_a_message_renders_in_german_and_english() -> None:
    message = msg("There is no template '{key}' in this journey.", key="mahnung_2")

    assert message.text("en") == "There is no template 'mahnung_2' in this journey."
    assert message.text("de") == "In dieser Strecke gibt es keine Vorlage 'mahnung_2'."


def test_nested_texts_render_in_the_same_language() -> None:
    message = msg("The '{port}' way is not connected to a next step.", port=msg("Next"))

    assert message.text("de") == "Der Ausgang 'Weiter' ist mit keinem nächsten Schritt verbunden."
    assert str(message) == "The 'Next' way is not connected to a next step."


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("de", "de"), ("de-DE", "de"), ("de_AT", "de"), ("en-GB", "en"), ("fr", "en"), (None, "en")],
)
def test_language_codes_reduce_to_a_catalog(lang: str | None, expected: str) -> None:
    assert language(lang) == expected


def test_an_unknown_language_reads_english() -> None:
    assert msg("Two arms have the same name.").text("fr") == "Two arms have the same name."


def test_a_text_the_catalog_lacks_reads_in_english() -> None:
    assert msg("Nobody wrote this down.").text("de") == "Nobody wrote this down."


@pytest.mark.parametrize(
    ("amount", "currency", "en", "de"),
    [
        (100, "EUR", "100 EUR", "100,00\xa0€"),
        (50.5, "EUR", "50.5 EUR", "50,50\xa0€"),
        (1234.5, "USD", "1234.5 USD", "1.234,50\xa0$"),
    ],
)
def test_money_keeps_english_as_it_was_and_uses_the_german_locale(
    amount: float, currency: str, en: str, de: str
) -> None:
    assert Money(amount, currency).text("en") == en
    assert Money(amount, currency).text("de") == de


def test_german_numbers_use_a_decimal_comma() -> None:
    message = msg("The weights add up to {total:g}%, they must add up to 100%.", total=99.5)

    assert message.text("en") == "The weights add up to 99.5%, they must add up to 100%."
    assert message.text("de") == "Die Anteile ergeben zusammen 99,5 %, sie müssen 100 % ergeben."


@pytest.mark.parametrize(("days", "words"), [(1, "von 1 Tag abgelaufen"), (7, "von 7 Tagen")])
def test_german_counts_choose_singular_or_plural(days: int, words: str) -> None:
    assert words in msg("{days:#day has|days have} passed{at}", days=days, at="").text("de")


@pytest.mark.parametrize(
    ("english", "message_id", "params"),
    [
        ("Missing data for required field.", "Missing data for required field.", {}),
        (
            "Must be one of: email, sms, letter.",
            "Must be one of: {choices}.",
            {"choices": "email, sms, letter"},
        ),
        (
            "Must be greater than or equal to 0 and less than or equal to 60.",
            "Must be greater than or equal to {min} and less than or equal to {max}.",
            {"min": "0", "max": "60"},
        ),
        (
            "Must be greater than or equal to 2.",
            "Must be greater than or equal to {min}.",
            {"min": "2"},
        ),
        (
            "Length must be between 1 and 20.",
            "Length must be between {min} and {max}.",
            {"min": "1", "max": "20"},
        ),
    ],
)
def test_marshmallow_english_reads_back_into_its_message(
    english: str, message_id: str, params: dict[str, Any]
) -> None:
    found = from_english(english, FIELD_ERRORS)

    assert found == Message(message_id, params)
    assert found.text("en") == english
    assert found.text("de") != english


def test_text_the_catalog_does_not_know_stays_as_it_is() -> None:
    assert from_english("Something new went wrong.", FIELD_ERRORS) == Verbatim(
        "Something new went wrong."
    )


def test_joined_texts_render_each_part() -> None:
    joined = Joined((msg("Not a valid integer."), Verbatim("x")))

    assert joined.text("de") == "Das ist keine ganze Zahl.; x"


BAD_PARAMS: list[dict[str, Any]] = [
    {},
    {"mode": "weeks", "days": "seven", "hours": -1, "at_time": "9 Uhr"},
    {"channel": "fax", "template": "", "tone": 9, "purpose": "threat"},
    {"branches": []},
    {"branches": [{"port": "Big One", "when": [{"field": "x", "op": "like"}]}]},
    {"experiment": "Bad Key", "arms": [{"name": "A", "weight": 120}], "holdout": 90},
    {"events": ["nothing"], "timeout_days": 99999},
    {"events": ["payment_received"], "timeout_days": 0.5, "wrong": 1},
    {"mode": "duration", "days": -3},
    {"grace_days": 1.5},
    {"grace_days": -3},
    {"event": "Not An Event", "note": 3},
    {"outcome": "won"},
    {"filter": "everyone"},
]


@pytest.mark.parametrize("name", sorted(NODE_TYPES))
def test_every_params_error_of_every_node_type_has_german_words(name: str) -> None:
    schema = NODE_TYPES[name].params_schema()
    english = {text for params in BAD_PARAMS for text in _leaves(schema.validate(params))}

    known = READ_BACK

    assert [t for t in english if isinstance(from_english(t, known), Verbatim)] == []


def _leaves(errors: Any) -> list[str]:
    if isinstance(errors, dict):
        return [t for v in errors.values() for t in _leaves(v)]
    if isinstance(errors, list):
        return [t for v in errors for t in _leaves(v)]
    return [str(errors)]
