"""A send step's fallback chain: validation naming node and field, and its words in EN/DE."""

from __future__ import annotations

from typing import Any

from engine.authoring.validation import validate_document
from engine.journey.document import load_journey
from engine.nodes import NODE_TYPES
from engine.nodes.send import fallback_chain
from engine.rules.compiler import compile_journey
from engine.rules.sentences import rule_sentence
from tests.factories import edge, journey_doc, node, template

TEMPLATES = {
    "reminder": template(channel="email"),
    "short": template(channel="sms", body="Please pay."),
    "paper": template(channel="letter"),
}


def doc_with(**send: Any) -> dict[str, Any]:
    step = node("remind", "send", channel="email", template="reminder", **send)
    pause = node("wait", "wait", mode="duration", days=3)
    nodes = [node("start", "start"), step, pause, node("done", "end", outcome="closed")]
    edges = [edge("start", "remind"), edge("remind", "wait"), edge("wait", "done")]
    return journey_doc(nodes, edges, templates=TEMPLATES)


def problems(**send: Any) -> list[tuple[str | None, str | None, str]]:
    return [(p.node, p.field, p.text("en")) for p in validate_document(doc_with(**send))[1]]


CHAIN = [{"channel": "sms", "template": "short"}, {"channel": "letter", "template": "paper"}]


def test_a_chain_of_fitting_channels_and_texts_validates_clean() -> None:
    assert problems(fallbacks=CHAIN) == []


def test_an_unknown_channel_names_the_hop() -> None:
    (found,) = problems(fallbacks=[{"channel": "pigeon"}])
    assert found[:2] == ("remind", "params.fallbacks.0.channel")


def test_a_channel_tried_twice_is_a_loop_named_at_its_hop() -> None:
    found = problems(fallbacks=[{"channel": "sms", "template": "short"}, {"channel": "email"}])
    assert found == [
        (
            "remind",
            "params.fallbacks.1.channel",
            "Fallback 2 goes back to email, which this step already tries; each channel may "
            "appear once in a chain.",
        )
    ]
    german = validate_document(doc_with(fallbacks=[{"channel": "email"}]))[1][0].text("de")
    assert "Ersatzweg 1" in german and "E-Mail" in german


def test_a_hop_text_for_another_channel_or_missing_is_named() -> None:
    found = problems(
        fallbacks=[
            {"channel": "sms", "template": "paper"},
            {"channel": "letter", "template": "nope"},
        ]
    )
    assert [f[1] for f in found] == ["params.fallbacks.0.template", "params.fallbacks.1.template"]
    assert found[0][2] == "Template 'paper' is for letter, but fallback 1 sends sms."
    assert found[1][2] == "There is no template 'nope' in this journey."


def test_the_single_fallback_and_a_chain_together_are_refused() -> None:
    found = problems(fallback_channel="sms", fallbacks=[{"channel": "letter", "template": "paper"}])
    assert [f[1] for f in found] == ["params.fallbacks"]


def test_a_chain_is_bounded() -> None:
    hops = [{"channel": c} for c in ("sms", "letter", "sms", "letter", "sms")]
    assert any(f[1] and f[1].startswith("params.fallbacks") for f in problems(fallbacks=hops))


def test_the_old_single_fallback_reads_as_a_chain_of_one() -> None:
    assert fallback_chain({"channel": "email", "fallback_channel": "sms"}) == (("sms", None),)
    assert fallback_chain({"channel": "email", "fallback_channel": "email"}) == ()
    assert fallback_chain({"channel": "email", "fallbacks": CHAIN}) == (
        ("sms", "short"),
        ("letter", "paper"),
    )


def test_the_rule_sentence_says_the_chain_in_both_languages() -> None:
    journey = load_journey(doc_with(fallbacks=CHAIN))
    compiled = compile_journey(journey)
    (rule,) = [r for r in compiled.rules if r.node == "remind"]

    assert "queued (by email, else sms, else letter)" in rule_sentence(rule, journey, "en")
    assert "(per E-Mail, sonst SMS, sonst Brief)" in rule_sentence(rule, journey, "de")


def test_a_step_enters_with_its_chain_resolved_to_texts() -> None:
    journey = load_journey(
        doc_with(fallbacks=[{"channel": "sms"}, {"channel": "letter", "template": "paper"}])
    )
    step = journey.nodes_by_id()["remind"]

    entry = NODE_TYPES["send"].enter(step, None, None)  # type: ignore[arg-type]

    assert entry.send is not None
    assert entry.send.fallbacks == (("sms", "reminder"), ("letter", "paper"))
    assert entry.send.fallback_channel == "sms"
