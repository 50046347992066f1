"""Node forms are described from the params schemas: kinds, labels, help, choices, defaults."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from designer.schema_form import describe_schema, palette, ports_of
from engine import NODE_TYPES


@pytest.fixture
def ctx(app: Flask) -> Any:
    with app.test_request_context("/"):
        yield


def _field(type_name: str, name: str) -> dict[str, Any]:
    fields = describe_schema(NODE_TYPES[type_name].params_schema)
    return next(f for f in fields if f["name"] == name)


def test_choices_come_from_one_of(ctx: Any) -> None:
    assert [c["value"] for c in _field("send", "channel")["choices"]] == [
        "email",
        "sms",
        "letter",
        "whatsapp",
    ]


def test_choices_come_from_metadata_with_labels(ctx: Any) -> None:
    assert _field("wait", "mode")["choices"][0] == {"value": "duration", "label": "a duration"}


def test_label_and_help_come_from_metadata(ctx: Any) -> None:
    field = _field("send", "template")
    assert (field["label"], field["required"]) == ("Template", True)


def test_nested_lists_describe_their_items(ctx: Any) -> None:
    branches = _field("condition", "branches")
    assert branches["kind"] == "list_nested"
    assert [f["name"] for f in branches["fields"]] == ["port", "label", "when"]


def test_event_list_is_a_multi_choice(ctx: Any) -> None:
    assert _field("wait_event", "events")["kind"] == "multi_choice"


def test_defaults_are_plain_values(ctx: Any) -> None:
    assert _field("start", "filter")["default"] == []


def test_palette_has_every_node_type_with_label_and_help(ctx: Any) -> None:
    items = palette(lambda words: words.text("en"))
    assert [i["name"] for i in items] == list(NODE_TYPES) and all(i["help"] for i in items)


def test_ports_of_a_half_filled_form_fall_back(ctx: Any) -> None:
    assert [p["name"] for p in ports_of("condition", {"branches": [{}]})] == ["else"]


def test_ports_of_unknown_type_is_empty(ctx: Any) -> None:
    assert ports_of("nope", {}) == []


@pytest.fixture
def ctx_de(app: Flask) -> Any:
    with app.test_request_context("/"):
        from flask import session

        session["lang"] = "de"
        yield


def test_calendar_and_counter_params_render_in_german(ctx_de: Any) -> None:
    weekdays = _field("webhook", "allowed_weekdays")
    assert (weekdays["kind"], weekdays["label"]) == ("multi_choice", "Erlaubte Wochentage")
    assert [c["label"] for c in weekdays["choices"]][:2] == ["Montag", "Dienstag"]
    assert _field("send", "allowed_from")["label"] == "Erlaubt ab"
    assert [c["value"] for c in _field("wait", "mode")["choices"]][-3:] == [
        "weekday",
        "month_day",
        "month_end",
    ]
    assert _field("wait", "shift")["choices"][1] == {
        "value": "before",
        "label": "der Werktag davor",
    }
    assert _field("wait_event", "timeout_business")["kind"] == "boolean"
    assert _field("count", "counter")["label"] == "Zähler"
    purposes = {c["value"]: c["label"] for c in _field("send", "purpose")["choices"]}
    assert purposes["verification_notice"] == "Nachweis nach einem Bestreiten (US)"


# Issue 16, point 13: no raw codes in the forms, in either language.
@pytest.mark.parametrize(
    ("lang", "gt", "payment"),
    [("en", "is above", "a payment arrives"), ("de", "ist über", "eine Zahlung eingeht")],
)
def test_operators_and_events_are_words_not_codes(
    app: Flask, lang: str, gt: str, payment: str
) -> None:
    with app.test_request_context("/"):
        from flask import session

        session["lang"] = lang
        ops = _field("condition", "branches")["fields"][2]["fields"][1]["choices"]
        events = _field("wait_event", "events")["choices"]
    labels = {c["value"]: c["label"] for c in ops}
    assert labels["gt"] == gt and "gt" not in labels.values()
    found = {c["value"]: c["label"] for c in events}
    assert found["payment_received"] == payment
    assert not any(code == label for code, label in found.items())


@pytest.mark.parametrize(
    ("lang", "handed_over", "demand"),
    [("en", "handed over", "demand for payment"), ("de", "abgegeben", "Mahnung")],
)
def test_outcomes_and_purposes_are_words_not_codes(
    app: Flask, lang: str, handed_over: str, demand: str
) -> None:
    with app.test_request_context("/"):
        from flask import session

        session["lang"] = lang
        outcomes = {c["value"]: c["label"] for c in _field("end", "outcome")["choices"]}
        purposes = {c["value"]: c["label"] for c in _field("send", "purpose")["choices"]}
    assert outcomes["handed_over"] == handed_over
    assert purposes["demand"] == demand
    assert "validation_notice" not in purposes.values()


def test_the_fallback_chain_and_blind_copies_render_as_lists_in_german(ctx_de: Any) -> None:
    chain = _field("send", "fallbacks")
    assert (chain["kind"], chain["label"]) == ("list_nested", "Ersatzkette")
    assert [f["name"] for f in chain["fields"]] == ["channel", "template"]
    channels = {c["value"]: c["label"] for c in chain["fields"][0]["choices"]}
    assert channels["whatsapp"] == "WhatsApp" and channels["letter"] == "Brief"
    assert (_field("send", "bcc")["kind"], _field("send", "bcc")["label"]) == (
        "list",
        "Blindkopien",
    )
