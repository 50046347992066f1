"""The engine's message catalog: both languages complete, and rendering per locale."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from engine.core.event_types import EVENT_WORDS
from engine.core.message_catalog import DE, EN
from engine.core.messages import (
    Joined,
    Message,
    Money,
    Verbatim,
    from_english,
    language,
    msg,
    placeholders,
)
from engine.journey.fields import BUILTIN_FIELDS
from engine.nodes import NODE_TYPES
from engine.nodes.base import OPERATOR_WORDS
from engine.rules import policy

ROOT = Path(__file__).resolve().parents[3]
# msg("id" ... and f-string ids such as msg(f"clause.op.{op}") are checked by their prefix.
LITERAL_ID = re.compile(r"""\bmsg\(\s*f?["']([a-z_.{}]+)["']""")


def ids_used_in_code() -> set[str]:
    """Every message id the engine names literally (f-string ids up to their first brace)."""
    files = [*(ROOT / "engine").rglob("*.py")]
    return {m for f in files for m in LITERAL_ID.findall(f.read_text("utf-8"))}


def test_every_id_has_both_languages() -> None:
    assert sorted(set(EN) ^ set(DE)) == []


@pytest.mark.parametrize("message_id", sorted(EN))
def test_both_languages_use_the_same_placeholders(message_id: str) -> None:
    assert placeholders(EN[message_id]) == placeholders(DE[message_id])


@pytest.mark.parametrize("message_id", sorted(EN))
def test_no_text_is_empty(message_id: str) -> None:
    assert EN[message_id].strip() and DE[message_id].strip()


def test_every_id_the_engine_names_is_in_the_catalog() -> None:
    used = ids_used_in_code()
    prefixes = {i.split("{")[0] for i in used}  # an f-string id: some entry must start so

    assert len(used) > 40
    assert sorted(i for i in used if "{" not in i and i not in EN) == []
    assert sorted(p for p in prefixes if not any(k.startswith(p) for k in EN)) == []


def test_event_words_match_the_event_types_module() -> None:
    assert {e: EN[f"event.{e}"] for e in EVENT_WORDS} == EVENT_WORDS


def test_policy_words_match_the_policy_rules() -> None:
    assert {r.id: EN[f"policy.{r.id}"] for r in policy.RULES} == {
        r.id: r.phrase for r in policy.RULES
    }


@pytest.mark.parametrize("op", sorted(OPERATOR_WORDS))
def test_operator_words_match_the_node_base(op: str) -> None:
    english = OPERATOR_WORDS[op][0]

    assert EN[f"clause.op.{op}"] == EN[f"clause.op_plural.{op}"] == f"{{field}} {english} {{value}}"


def test_a_boolean_field_reads_as_the_fields_module_says() -> None:
    field = BUILTIN_FIELDS["has_email"]

    assert (EN["clause.has_email.true"], EN["clause.has_email.false"]) == (
        field.label_en,
        field.false_en,
    )


def test_a_message_renders_in_german_and_english() -> None:
    message = msg("send.no_template", key="mahnung_2")

    assert message.text("en") == "There is no template 'mahnung_2' in this journey."
    assert message.text("de") == "In dieser Strecke gibt es keine Vorlage 'mahnung_2'."


def test_nested_texts_render_in_the_same_language() -> None:
    message = msg("port.not_connected", port=msg("port.next"))

    assert message.text("de") == "Der Ausgang 'Weiter' ist mit keinem nächsten Schritt verbunden."
    assert str(message) == "The 'Next' way is not connected to a next step."


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("de", "de"), ("de-DE", "de"), ("de_AT", "de"), ("en-GB", "en"), ("fr", "en"), (None, "en")],
)
def test_language_codes_reduce_to_a_catalog(lang: str | None, expected: str) -> None:
    assert language(lang) == expected


def test_an_unknown_language_reads_english() -> None:
    assert msg("split.duplicate_arm").text("fr") == "Two arms have the same name."


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
    message = msg("split.weights_total", total=99.5)

    assert message.text("en") == "The weights add up to 99.5%, they must add up to 100%."
    assert message.text("de") == "Die Anteile ergeben zusammen 99,5 %, sie müssen 100 % ergeben."


@pytest.mark.parametrize(("days", "words"), [(1, "von 1 Tag abgelaufen"), (7, "von 7 Tagen")])
def test_german_counts_choose_singular_or_plural(days: int, words: str) -> None:
    assert words in msg("rule.wait.days", days=days, at="").text("de")


@pytest.mark.parametrize(
    ("english", "message_id", "params"),
    [
        ("Missing data for required field.", "field.required", {}),
        ("Must be one of: email, sms, letter.", "field.one_of", {"choices": "email, sms, letter"}),
        (
            "Must be greater than or equal to 0 and less than or equal to 60.",
            "field.range",
            {"min": "0", "max": "60"},
        ),
        ("Must be greater than or equal to 2.", "field.range_min", {"min": "2"}),
        ("Length must be between 1 and 20.", "field.length_between", {"min": "1", "max": "20"}),
    ],
)
def test_marshmallow_english_reads_back_into_its_message(
    english: str, message_id: str, params: dict[str, Any]
) -> None:
    found = from_english(english, ("field.",))

    assert found == Message(message_id, params)
    assert found.text("en") == english


def test_text_the_catalog_does_not_know_stays_as_it_is() -> None:
    assert from_english("Something new went wrong.", ("field.",)) == Verbatim(
        "Something new went wrong."
    )


def test_joined_texts_render_each_part() -> None:
    joined = Joined((msg("field.not_integer"), Verbatim("x")))

    assert joined.text("de") == "Das ist keine ganze Zahl.; x"


BAD_PARAMS: list[dict[str, Any]] = [
    {},
    {"mode": "weeks", "days": "seven", "hours": -1, "at_time": "9 Uhr"},
    {"channel": "fax", "template": "", "tone": 9, "purpose": "threat"},
    {"branches": []},
    {"branches": [{"port": "Big One", "when": [{"field": "x", "op": "like"}]}]},
    {"experiment": "Bad Key", "arms": [{"name": "A", "weight": 120}], "holdout": 90},
    {"events": ["nothing"], "timeout_days": 99999},
    {"grace_days": -3},
    {"event": "Not An Event", "note": 3},
    {"outcome": "won"},
    {"filter": "everyone"},
]


@pytest.mark.parametrize("name", sorted(NODE_TYPES))
def test_every_params_error_of_every_node_type_has_german_words(name: str) -> None:
    schema = NODE_TYPES[name].params_schema()
    english = {text for params in BAD_PARAMS for text in _leaves(schema.validate(params))}

    assert [t for t in english if isinstance(from_english(t, ("field.", "wait.")), Verbatim)] == []


def _leaves(errors: Any) -> list[str]:
    if isinstance(errors, dict):
        return [t for v in errors.values() for t in _leaves(v)]
    if isinstance(errors, list):
        return [t for v in errors for t in _leaves(v)]
    return [str(errors)]
