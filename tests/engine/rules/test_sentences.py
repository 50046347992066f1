"""Compiled rules as sentences a compliance reviewer reads."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from engine import journey_sentences, policy_sentences
from engine.journey.document import load_journey
from engine.nodes.base import Clause
from engine.rules import policy
from engine.rules.compiler import compile_journey
from engine.rules.sentences import clause_words, rule_sentence
from tests.factories import edge, example_doc, journey_doc, node


def sentences(doc: dict[str, Any]) -> list[str]:
    journey = load_journey(doc)
    return journey_sentences(compile_journey(journey, 1), journey)


LABELS = {
    "start": "Overdue invoice",
    "wait_7": "Wait until D+7",
    "reminder": "Friendly reminder",
    "wait_pay": "Wait for payment",
    "big": "Large amount?",
    "second": "Second reminder",
    "wait_14": "Wait 14 days",
    "closed": "Manual follow-up",
}


def labelled_minimal() -> dict[str, Any]:
    """minimal.json with these labels, so the test reads the engine, not the example's words."""
    doc = example_doc("minimal")
    for n in doc["nodes"]:
        n["label"] = LABELS.get(n["id"], n["id"])
    doc["edges"] = [e for e in doc["edges"] if e["from"] != "wait_pay"] + [
        edge("wait_pay", "closed", "payment_received"),
        edge("wait_pay", "big", "timeout"),
    ]
    return doc


def test_the_minimal_example_reads_node_by_node() -> None:
    assert sentences(labelled_minimal()) == [
        "When a case arrives at 'Overdue invoice', go to 'Wait until D+7'.",
        "When a case is at 'Wait until D+7' and it is 7 days after the due date (D+7) at "
        "09:00, go to 'Friendly reminder'.",
        "When a case arrives at 'Friendly reminder' and the email 'reminder' has been queued, "
        "go to 'Wait for payment'.",
        "When a case is at 'Wait for payment' and a payment arrives, go to 'Manual follow-up'.",
        "When a case is at 'Wait for payment' and 10 days passed without that, "
        "go to 'Large amount?'.",
        "When a case arrives at 'Large amount?' and the open amount is above 100 EUR, "
        "go to 'Second reminder'.",
        "When a case arrives at 'Large amount?' and no way above applies, "
        "go to 'Manual follow-up'.",
        "When a case arrives at 'Second reminder' and the email 'reminder' has been queued, "
        "go to 'Wait 14 days'.",
        "When a case is at 'Wait 14 days' and 14 days have passed, go to 'Manual follow-up'.",
    ]


def test_sentences_follow_document_order_not_rule_order() -> None:
    doc = labelled_minimal()
    doc["nodes"].reverse()

    assert sentences(doc)[0].startswith("When a case is at 'Wait 14 days'")


def test_an_entry_filter_reads_as_its_tests_and_an_ineligible_ending() -> None:
    doc = labelled_minimal()
    doc["nodes"][0]["params"]["filter"] = [{"field": "country", "op": "in", "value": ["DE", "AT"]}]

    assert sentences(doc)[:2] == [
        "When a case arrives at 'Overdue invoice' and the debtor's country is one of 'DE', 'AT', "
        "go to 'Wait until D+7'.",
        "When a case arrives at 'Overdue invoice' and no way above applies, "
        "end the journey as not eligible.",
    ]


def test_a_node_without_a_label_is_named_by_its_id() -> None:
    doc = journey_doc()
    doc["nodes"][2]["label"] = ""

    assert "go to 'wait'." in sentences(doc)[1]


def test_a_split_reads_as_arms() -> None:
    arms = [{"name": "A", "weight": 50}, {"name": "B", "weight": 50}]
    doc = journey_doc(
        nodes=[
            node("start", "start"),
            node("ab", "split", experiment="x", arms=arms),
            node("done", "end", outcome="closed"),
        ],
        edges=[edge("start", "ab"), edge("ab", "done", "A"), edge("ab", "done", "B")],
        templates={},
    )

    assert sentences(doc)[1] == (
        "When a case arrives at 'ab' and the case is in arm 'A', go to 'done'."
    )


@pytest.mark.parametrize(
    ("clause", "words"),
    [
        (Clause("amount_open", "gte", 50.5), "the open amount is at least 50.5 EUR"),
        (Clause("days_overdue", "gt", 30), "the days overdue is above 30 days"),
        (Clause("attributes.segment", "ne", "b2b"), "the attribute 'segment' is not 'b2b'"),
        (Clause("has_promise", "eq", True), "there is a promise"),
        (Clause("promise_kept", "eq", False), "the promise is not met"),
    ],
)
def test_clause_words(clause: Clause, words: str) -> None:
    assert clause_words(clause, "EUR") == words


@pytest.mark.parametrize("value", [True, False])
def test_a_boolean_field_reads_as_a_plain_statement(value: bool) -> None:
    words = clause_words(Clause("has_email", "eq", value), "EUR")

    assert not words.endswith((" is yes", " is no"))


def test_there_is_one_policy_sentence_per_policy_rule() -> None:
    assert len(policy_sentences()) == len(policy.RULES)


def test_policy_sentences_say_they_apply_at_any_step() -> None:
    assert policy_sentences()[0] == (
        "At any step, when a payment leaves nothing open, end the journey as paid."
    )


# German: the same rules as a German reviewer reads them.


def sentences_de(doc: dict[str, Any]) -> list[str]:
    journey = load_journey(doc)
    return journey_sentences(compile_journey(journey, 1), journey, "de")


def test_the_minimal_example_reads_in_german() -> None:
    assert sentences_de(labelled_minimal()) == [
        "Wenn ein Fall bei 'Overdue invoice' ankommt, geht er weiter zu 'Wait until D+7'.",
        "Wenn ein Fall bei 'Wait until D+7' wartet und es 7 Tage nach Fälligkeit (T+7) ist "
        "und es 09:00 Uhr ist, geht er weiter zu 'Friendly reminder'.",
        "Wenn ein Fall bei 'Friendly reminder' ankommt und die Nachricht 'reminder' per E-Mail "
        "in den Postausgang gestellt ist, geht er weiter zu 'Wait for payment'.",
        "Wenn ein Fall bei 'Wait for payment' wartet und eine Zahlung eingeht, "
        "geht er weiter zu 'Manual follow-up'.",
        "Wenn ein Fall bei 'Wait for payment' wartet und die Frist von 10 Tagen ohne ein solches "
        "Ereignis abgelaufen ist, geht er weiter zu 'Large amount?'.",
        "Wenn ein Fall bei 'Large amount?' ankommt und der offene Betrag über 100,00\xa0€ liegt, "
        "geht er weiter zu 'Second reminder'.",
        "Wenn ein Fall bei 'Large amount?' ankommt und keiner der Wege darüber zutrifft, "
        "geht er weiter zu 'Manual follow-up'.",
        "Wenn ein Fall bei 'Second reminder' ankommt und die Nachricht 'reminder' per E-Mail "
        "in den Postausgang gestellt ist, geht er weiter zu 'Wait 14 days'.",
        "Wenn ein Fall bei 'Wait 14 days' wartet und die Wartezeit von 14 Tagen abgelaufen ist, "
        "geht er weiter zu 'Manual follow-up'.",
    ]


def test_an_ineligible_ending_reads_in_german() -> None:
    doc = labelled_minimal()
    doc["nodes"][0]["params"]["filter"] = [{"field": "country", "op": "in", "value": ["DE", "AT"]}]

    assert sentences_de(doc)[:2] == [
        "Wenn ein Fall bei 'Overdue invoice' ankommt und das Land des Schuldners einer der Werte "
        "'DE', 'AT' ist, geht er weiter zu 'Wait until D+7'.",
        "Wenn ein Fall bei 'Overdue invoice' ankommt und keiner der Wege darüber zutrifft, "
        "endet die Strecke mit dem Ergebnis 'nicht zulässig'.",
    ]


def test_a_promise_reads_in_german() -> None:
    doc = example_doc("de-shop-b2c")

    found = sentences_de(doc)

    assert any("das zugesagte Datum plus 2 Tage verstrichen ist" in s for s in found)
    assert any("eine Zahlung den zugesagten Betrag deckt" in s for s in found)


@pytest.mark.parametrize(
    ("clause", "words"),
    [
        (Clause("amount_open", "gte", 50.5), "der offene Betrag mindestens 50,50\xa0€ beträgt"),
        (Clause("days_overdue", "gt", 30), "die Tage im Verzug über 30 Tage liegen"),
        (Clause("days_overdue", "lte", 1), "die Tage im Verzug höchstens 1 Tag betragen"),
        (Clause("attributes.segment", "ne", "b2b"), "das Merkmal 'segment' nicht 'b2b' ist"),
        (Clause("has_promise", "eq", True), "eine Zahlungszusage vorliegt"),
        (Clause("promise_kept", "eq", False), "die Zusage nicht eingehalten ist"),
        (Clause("has_email", "eq", False), "keine E-Mail-Adresse bekannt ist"),
        (Clause("has_phone", "ne", False), "eine Mobilnummer bekannt ist"),
        (Clause("arm", "eq", "B"), "der Fall im Zweig 'B' ist"),
    ],
)
def test_clause_words_in_german(clause: Clause, words: str) -> None:
    assert clause_words(clause, "EUR", "de") == words


def test_policy_sentences_read_in_german() -> None:
    found = policy_sentences("de")

    assert len(found) == len(policy.RULES)
    assert found[0] == (
        "In jedem Schritt: Wenn eine Zahlung nichts mehr offen lässt, "
        "endet die Strecke als bezahlt."
    )


def test_a_rule_whose_stored_phrase_no_longer_matches_keeps_its_english_phrase() -> None:
    journey = load_journey(labelled_minimal())
    compiled = compile_journey(journey, 1)
    stale = replace(compiled.rule("wait_14:timer:0"), phrase="a fortnight has passed")

    assert rule_sentence(stale, journey, "de") == (
        "Wenn ein Fall bei 'Wait 14 days' wartet und a fortnight has passed, "
        "geht er weiter zu 'Manual follow-up'."
    )


def test_english_is_still_the_default() -> None:
    journey = load_journey(labelled_minimal())
    compiled = compile_journey(journey, 1)

    assert journey_sentences(compiled, journey) == journey_sentences(compiled, journey, "en")
    assert policy_sentences() == policy_sentences("en")
