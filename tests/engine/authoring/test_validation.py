"""Validation: every problem names the node and the field in a manager's words."""

from __future__ import annotations

from typing import Any

from engine.authoring.validation import validate_document
from engine.nodes import NODE_TYPES
from engine.nodes.base import Problem
from tests.factories import edge, example_doc, journey_doc, node, template


def problems_of(doc: dict[str, Any]) -> list[Problem]:
    """The problems validation finds in a document."""
    return validate_document(doc)[1]


def where(problems: list[Problem]) -> list[tuple[str | None, str | None]]:
    """(node, field) of each problem."""
    return [(p.node, p.field) for p in problems]


def minimal_with(**changes: Any) -> dict[str, Any]:
    doc = example_doc("minimal")
    doc.update(changes)
    return doc


def set_params(doc: dict[str, Any], node_id: str, **params: Any) -> dict[str, Any]:
    for n in doc["nodes"]:
        if n["id"] == node_id:
            n["params"].update(params)
    return doc


def test_the_minimal_example_has_no_problems() -> None:
    assert problems_of(example_doc("minimal")) == []


def test_the_default_factory_journey_has_no_problems() -> None:
    assert problems_of(journey_doc()) == []


def test_a_document_that_is_not_an_object_is_one_problem() -> None:
    assert [p.message for p in problems_of([])] == ["The document must be a JSON object."]  # type: ignore[arg-type]


def test_unknown_node_type_names_node_and_type() -> None:
    doc = example_doc("minimal")
    doc["nodes"][4]["type"] = "teleport"

    found = problems_of(doc)

    assert where(found) == [("big", "type")]
    assert "teleport" in found[0].message


def test_dangling_port_names_node_and_port() -> None:
    doc = example_doc("minimal")
    doc["edges"] = [e for e in doc["edges"] if e["from"] != "wait_pay" or e["port"] != "timeout"]

    assert ("wait_pay", "port.timeout") in where(problems_of(doc))


def test_dangling_port_says_the_way_is_not_connected() -> None:
    doc = example_doc("minimal")
    doc["edges"] = [e for e in doc["edges"] if e["from"] != "reminder"]

    messages = [p.message for p in problems_of(doc) if p.node == "reminder"]

    assert "The 'Next' way is not connected to a next step." in messages


def test_doubly_wired_port_names_node_and_port() -> None:
    doc = example_doc("minimal")
    doc["edges"].append(edge("reminder", "closed"))

    found = [p for p in problems_of(doc) if p.field == "port.next"]

    assert where(found) == [("reminder", "port.next")]
    assert "connected 2 times" in found[0].message


def test_wire_from_a_port_the_node_does_not_have_names_node_and_edges() -> None:
    doc = example_doc("minimal")
    doc["edges"].append(edge("reminder", "closed", port="later"))

    assert ("reminder", "edges") in where(problems_of(doc))


def test_edge_to_unknown_node_names_the_source_node() -> None:
    doc = example_doc("minimal")
    doc["edges"][-1]["to"] = "nowhere"

    found = [p for p in problems_of(doc) if "nowhere" in p.message]

    assert [p.node for p in found] == ["wait_14"]


def test_edge_to_unknown_node_names_the_edges_field() -> None:
    doc = example_doc("minimal")
    doc["edges"][-1]["to"] = "nowhere"

    found = [p for p in problems_of(doc) if "nowhere" in p.message]

    assert where(found) == [("wait_14", "edges")]


def test_unreachable_node_is_named() -> None:
    doc = example_doc("minimal")
    doc["nodes"].append(node("orphan", "send", channel="email", template="reminder"))
    doc["edges"].append(edge("orphan", "closed"))

    found = problems_of(doc)

    assert [(p.node, p.message) for p in found] == [
        ("orphan", "No way from the start leads to this node.")
    ]


def test_node_without_a_path_to_an_end_is_named() -> None:
    doc = example_doc("minimal")
    doc["nodes"].append(node("limbo", "wait", days=1))
    doc["nodes"].append(node("limbo2", "wait", days=1))
    doc["edges"] = [e for e in doc["edges"] if e["from"] != "wait_14"]
    doc["edges"] += [edge("wait_14", "limbo"), edge("limbo", "limbo2"), edge("limbo2", "limbo")]

    found = {p.node for p in problems_of(doc) if "no way to an end" in p.message}

    assert found == {"second", "wait_14", "limbo", "limbo2"}


def test_journey_without_end_node_is_one_problem() -> None:
    doc = journey_doc(
        nodes=[node("start", "start"), node("w", "wait", days=1)],
        edges=[edge("start", "w"), edge("w", "w")],
    )

    assert [p.message for p in problems_of(doc)] == [
        "The journey has no end node; every case needs a way to finish."
    ]


def instant_loop_doc(with_wait: bool) -> dict[str, Any]:
    """minimal.json where the second reminder leads back to the amount check."""
    doc = example_doc("minimal")
    doc["edges"] = [e for e in doc["edges"] if e["from"] not in ("second", "wait_14")]
    if with_wait:
        doc["edges"] += [edge("second", "wait_14"), edge("wait_14", "big")]
    else:
        doc["nodes"] = [n for n in doc["nodes"] if n["id"] != "wait_14"]
        doc["edges"].append(edge("second", "big"))
    return doc


def test_loop_without_a_wait_names_its_steps() -> None:
    found = problems_of(instant_loop_doc(with_wait=False))

    assert [(p.node, p.message) for p in found] == [
        ("big", "These steps form a loop without a wait: 'big', 'second'. Add a wait.")
    ]


def test_loop_with_a_wait_is_fine() -> None:
    assert problems_of(instant_loop_doc(with_wait=True)) == []


def test_send_with_unknown_template_names_node_and_template() -> None:
    doc = set_params(example_doc("minimal"), "second", template="final_demand")

    found = problems_of(doc)

    assert where(found) == [("second", "template")]
    assert "final_demand" in found[0].message


def test_send_without_a_template_names_node_and_template_param() -> None:
    doc = example_doc("minimal")
    del doc["nodes"][2]["params"]["template"]

    assert where(problems_of(doc)) == [("reminder", "params.template")]


def test_template_for_another_channel_names_node_and_template() -> None:
    doc = set_params(example_doc("minimal"), "second", channel="sms")

    assert where(problems_of(doc)) == [("second", "template")]


def test_template_with_unknown_variable_names_template_variant_and_part() -> None:
    doc = example_doc("minimal")
    doc["templates"]["reminder"]["variants"][1]["body"] += " {{ iban }}"

    found = problems_of(doc)

    assert where(found) == [(None, "templates.reminder.en-GB.tone2.body")]
    assert "unknown variable 'iban'" in found[0].message


def test_template_syntax_error_names_template_and_line() -> None:
    doc = example_doc("minimal")
    doc["templates"]["reminder"]["variants"][0]["subject"] = "Invoice {{ reference "

    found = problems_of(doc)

    assert where(found) == [(None, "templates.reminder.en-GB.tone1.subject")]
    assert "syntax error on line 1" in found[0].message


def test_templates_that_go_over_the_render_budget_are_refused_naming_the_variant() -> None:
    # Issue 15, point 2: what static analysis can tell is refused before publishing.
    doc = example_doc("minimal")
    variants = doc["templates"]["reminder"]["variants"]
    variants[0]["body"] += (
        "{% for i in range(300) %}{% for j in range(300) %}.{% endfor %}{% endfor %}"
    )
    variants[1]["subject"] = "{{ reference|center(10**9) }}"
    variants[1]["body"] += "{{ '=' * 1000000 }}"

    found = problems_of(doc)

    assert where(found) == [
        (None, "templates.reminder.en-GB.tone1.body"),
        (None, "templates.reminder.en-GB.tone2.subject"),
        (None, "templates.reminder.en-GB.tone2.body"),
    ]
    assert found[0].message == (
        "Template 'reminder' (email, en-GB, tone 1) would go over the render budget: "
        "loops on line 7 run 90000 times, more than the 20000 steps a message may take."
    )
    assert "'center' on line 1 builds a text of 1000000000 characters" in found[1].message
    assert "'*' on line" in found[2].message
    assert (
        found[0]
        .text("de")
        .startswith("Die Vorlage 'reminder' (email, en-GB, Ton 1) ginge über das Render-Budget")
    )


def test_an_unknown_filter_or_test_names_the_variant_and_the_name() -> None:
    # Issue 15, point 9a: Jinja's code generator raised out of validation (a traceback, a 500).
    doc = example_doc("minimal")
    variants = doc["templates"]["reminder"]["variants"]
    variants[0]["body"] = "{{ amount_open|nosuchfilter }}"
    variants[1]["subject"] = "{% if amount_open is nosuchtest %}x{% endif %}"

    found = problems_of(doc)

    assert where(found) == [
        (None, "templates.reminder.en-GB.tone1.body"),
        (None, "templates.reminder.en-GB.tone2.subject"),
    ]
    assert [p.message for p in found] == [
        "Template 'reminder' (email, en-GB, tone 1) of journey 'minimal': "
        "unknown filter 'nosuchfilter' on line 1.",
        "Template 'reminder' (email, en-GB, tone 2) of journey 'minimal': "
        "unknown test 'nosuchtest' on line 1.",
    ]
    assert found[0].text("de") == (
        "Vorlage 'reminder' (email, en-GB, Ton 1) der Strecke 'minimal': "
        "unbekannter Filter 'nosuchfilter' in Zeile 1."
    )


def test_a_loop_over_a_case_field_is_left_to_the_render_budget() -> None:
    doc = example_doc("minimal")
    doc["templates"]["reminder"]["variants"][0]["body"] += (
        "{% for i in range(days_overdue) %}{% for j in range(3) %}.{% endfor %}{% endfor %}"
        "{{ debtor_name|center(40) }}{{ '-' * 60 }}"
    )

    assert problems_of(doc) == []


def test_unknown_case_field_in_a_condition_names_node_and_clause_field() -> None:
    doc = set_params(
        example_doc("minimal"),
        "big",
        branches=[{"port": "large", "when": [{"field": "credit_score", "op": "gt", "value": 1}]}],
    )

    found = problems_of(doc)

    assert where(found) == [("big", "params.branches.0.when.0.field")]
    assert "credit_score" in found[0].message


def test_declared_attribute_is_a_known_field() -> None:
    doc = set_params(
        example_doc("minimal"),
        "big",
        branches=[
            {"port": "large", "when": [{"field": "attributes.segment", "op": "eq", "value": "b2b"}]}
        ],
    )
    doc["attributes"] = [{"name": "segment", "type": "string"}]

    assert problems_of(doc) == []


def test_value_of_the_wrong_type_names_node_and_value() -> None:
    doc = set_params(
        example_doc("minimal"),
        "big",
        branches=[
            {"port": "large", "when": [{"field": "amount_open", "op": "gt", "value": "a lot"}]}
        ],
    )

    found = problems_of(doc)

    assert where(found) == [("big", "params.branches.0.when.0.value")]
    assert "number" in found[0].message


def test_boolean_is_not_a_number_value() -> None:
    doc = set_params(
        example_doc("minimal"),
        "big",
        branches=[{"port": "large", "when": [{"field": "amount_open", "op": "eq", "value": True}]}],
    )

    assert where(problems_of(doc)) == [("big", "params.branches.0.when.0.value")]


def test_ordering_a_text_field_names_node_and_operator() -> None:
    doc = set_params(
        example_doc("minimal"),
        "big",
        branches=[{"port": "large", "when": [{"field": "country", "op": "gt", "value": "DE"}]}],
    )

    assert where(problems_of(doc)) == [("big", "params.branches.0.when.0.op")]


def split_doc(*weights: float, holdout: float = 0) -> dict[str, Any]:
    arms = [{"name": chr(ord("A") + i), "weight": w} for i, w in enumerate(weights)]
    nodes = [
        node("start", "start"),
        node("ab", "split", experiment="tone-test", arms=arms, holdout=holdout),
        node("done", "end", outcome="closed"),
    ]
    ports = [a["name"] for a in arms] + (["holdout"] if holdout else [])
    edges = [edge("start", "ab")] + [edge("ab", "done", port=p) for p in ports]
    return journey_doc(nodes=nodes, edges=edges, templates={})


def test_split_weights_adding_up_to_100_are_fine() -> None:
    assert problems_of(split_doc(45, 45, holdout=10)) == []


def test_split_weights_not_adding_up_to_100_name_node_and_arms() -> None:
    found = problems_of(split_doc(50, 40))

    assert where(found) == [("ab", "arms")]
    assert "90%" in found[0].message


def test_two_start_nodes_are_one_problem_counting_them() -> None:
    doc = example_doc("minimal")
    doc["nodes"].append(node("start2", "start"))

    assert [p.message for p in problems_of(doc)] == [
        "A journey needs exactly one start node, it has 2."
    ]


def test_two_nodes_with_the_same_id_name_the_id() -> None:
    doc = example_doc("minimal")
    doc["nodes"].append(node("closed", "end", outcome="paid"))

    assert where(problems_of(doc)) == [("closed", "id")]


def test_wait_days_that_are_not_a_number_name_node_and_params_days() -> None:
    doc = set_params(example_doc("minimal"), "wait_7", days="x")

    found = problems_of(doc)

    assert where(found) == [("wait_7", "params.days")]
    assert found[0].message == "Not a valid integer."


def test_wait_at_time_in_a_bad_form_names_node_and_params_at_time() -> None:
    doc = set_params(example_doc("minimal"), "wait_7", at_time="nine")

    assert where(problems_of(doc)) == [("wait_7", "params.at_time")]


def test_nested_params_error_names_the_nested_path() -> None:
    doc = set_params(
        example_doc("minimal"),
        "big",
        branches=[
            {"port": "large", "when": [{"field": "amount_open", "op": "approx", "value": 1}]}
        ],
    )

    assert where(problems_of(doc)) == [("big", "params.branches.0.when.0.op")]


def test_shape_error_in_a_node_names_the_node_by_id() -> None:
    doc = example_doc("minimal")
    doc["nodes"][3]["id"] = "wait pay!"

    assert where(problems_of(doc)) == [("wait pay!", "id")]


def test_problem_reads_as_node_field_and_message() -> None:
    doc = set_params(example_doc("minimal"), "wait_7", days="x")

    assert str(problems_of(doc)[0]) == "node 'wait_7', field 'params.days': Not a valid integer."


def test_template_channel_must_be_known() -> None:
    doc = journey_doc(templates={"reminder": template(channel="pigeon")})

    assert where(problems_of(doc)) == [(None, "templates.reminder.value.channel")]


# German: every problem also reads in the designer's other language, naming node and field.


def lines_de(doc: dict[str, Any]) -> list[str]:
    """The problems of a document as German one-liners."""
    return [p.line("de") for p in problems_of(doc)]


def test_a_broken_journey_reads_in_german_naming_node_and_field() -> None:
    doc = set_params(example_doc("minimal"), "second", template="final_demand")
    doc["edges"] = [e for e in doc["edges"] if e["from"] != "wait_pay" or e["port"] != "timeout"]

    found = lines_de(doc)

    assert (
        "Schritt 'wait_pay', Feld 'port.timeout': "
        "Der Ausgang 'Frist abgelaufen' ist mit keinem nächsten Schritt verbunden."
    ) in found
    assert (
        "Schritt 'second', Feld 'template': In dieser Strecke gibt es keine Vorlage 'final_demand'."
    ) in found


def test_a_params_error_reads_in_german() -> None:
    doc = set_params(example_doc("minimal"), "wait_7", days="x", at_time="nine")

    assert sorted(lines_de(doc)) == [
        "Schritt 'wait_7', Feld 'params.at_time': "
        "Bitte im Format HH:MM angeben, zum Beispiel 09:00.",
        "Schritt 'wait_7', Feld 'params.days': Das ist keine ganze Zahl.",
    ]


def test_a_missing_required_param_reads_in_german() -> None:
    doc = example_doc("minimal")
    del doc["nodes"][2]["params"]["template"]

    assert lines_de(doc) == ["Schritt 'reminder', Feld 'params.template': Diese Angabe fehlt."]


def test_a_value_of_the_wrong_type_reads_in_german() -> None:
    doc = set_params(
        example_doc("minimal"),
        "big",
        branches=[
            {"port": "large", "when": [{"field": "amount_open", "op": "gt", "value": "a lot"}]}
        ],
    )

    assert [p.text("de") for p in problems_of(doc)] == [
        "'amount_open' erwartet eine Zahl; der Wert 'a lot' passt nicht."
    ]


def test_a_journey_wide_problem_names_the_journey_in_german() -> None:
    doc = journey_doc(
        nodes=[node("start", "start"), node("w", "wait", days=1)],
        edges=[edge("start", "w"), edge("w", "w")],
    )

    assert lines_de(doc) == [
        "Strecke: Die Strecke hat kein Ende; jeder Fall braucht einen Weg zum Abschluss."
    ]


def test_a_template_problem_reads_in_german() -> None:
    doc = example_doc("minimal")
    doc["templates"]["reminder"]["variants"][1]["body"] += " {{ iban }}"

    assert [p.text("de") for p in problems_of(doc)] == [
        "Vorlage 'reminder': unbekannte Variable 'iban'."
    ]


def test_a_loop_without_a_wait_reads_in_german() -> None:
    assert [p.text("de") for p in problems_of(instant_loop_doc(with_wait=False))] == [
        "Diese Schritte bilden eine Schleife ohne Warten: 'big', 'second'. "
        "Fügen Sie einen Warteschritt ein."
    ]


def test_the_english_message_stays_what_it_was() -> None:
    doc = set_params(example_doc("minimal"), "second", template="final_demand", channel="sms")
    doc["edges"].append(edge("reminder", "closed"))

    found = problems_of(doc)

    assert found and all(p.message == p.text("en") != p.text("de") for p in found)
    assert "The 'Next' way is connected 2 times; connect it once." in [p.message for p in found]


def test_a_problem_made_from_plain_text_reads_the_same_in_every_language() -> None:
    problem = Problem("Das ist kein JSON.", None, None)

    assert problem.text("de") == problem.text("en") == "Das ist kein JSON."
    assert problem.line("de") == "Strecke: Das ist kein JSON."


# Issue 18 (item 6): numbers a manager mistypes, and errors that say what is expected.


def _params_problem(type_: str, **params: object) -> list[tuple[str | None, str | None, str]]:
    nodes = [node("start", "start"), node("x", type_, **params), node("done", "end")]
    ports = [p.name for p in NODE_TYPES[type_].ports({**params, "events": ["payment_received"]})]
    edges = [edge("start", "x"), *(edge("x", "done", p) for p in ports)]
    _, problems = validate_document(journey_doc(nodes, edges, templates={}))
    return [(p.node, p.field, p.text("de")) for p in problems if p.node == "x"]


def test_half_a_day_of_timeout_is_refused_not_cut_to_zero() -> None:
    problems = _params_problem("wait_event", events=["payment_received"], timeout_days=0.5)

    assert [(n, f) for n, f, _ in problems] == [("x", "params.timeout_days")]
    assert "0.5" in problems[0][2] and "ganze Tage" in problems[0][2]


def test_half_a_grace_day_is_refused() -> None:
    problems = _params_problem("promise", grace_days=1.5)

    assert [(n, f) for n, f, _ in problems] == [("x", "params.grace_days")]


def test_a_whole_day_written_as_a_decimal_is_fine() -> None:
    assert _params_problem("wait", mode="duration", days=2.0) == []


def test_negative_days_are_refused_in_duration_and_business_day_waits() -> None:
    for mode in ("duration", "business_days"):
        problems = _params_problem("wait", mode=mode, days=-3)
        assert [(n, f) for n, f, _ in problems] == [("x", "params.days")], mode
        assert "-3" in problems[0][2] and "Fälligkeit" in problems[0][2]


def test_a_negative_due_date_wait_counts_back() -> None:
    assert _params_problem("wait", mode="due_date", days=-5) == []


def test_an_unknown_param_lists_the_known_ones() -> None:
    problems = _params_problem("wait", mode="duration", days=1, dayz=2)

    assert problems == [
        (
            "x",
            "params.dayz",
            "Unbekanntes Feld; bekannt sind: "
            "at_time, days, hours, mode, month_day, shift, weekday.",
        )
    ]


def test_an_unknown_field_of_the_document_lists_the_known_ones() -> None:
    doc = journey_doc()
    doc["nodes"][0]["colour"] = "red"

    _, problems = validate_document(doc)

    assert [(p.node, p.field, p.message) for p in problems] == [
        (
            "start",
            "colour",
            "Unknown field; the known fields are: id, label, params, position, type.",
        )
    ]


def test_a_bad_name_says_the_pattern_in_words() -> None:
    doc = journey_doc()
    doc["nodes"][1]["id"] = "first reminder"

    _, problems = validate_document(doc)

    assert [(p.field, p.message) for p in problems] == [
        ("id", "Use 1 to 64 letters, digits, '_' or '-', without spaces.")
    ]
    assert problems[0].text("de").startswith("Verwenden Sie 1 bis 64 Buchstaben")


def test_a_bad_webhook_event_says_the_pattern_in_words() -> None:
    problems = _params_problem("webhook", event="Case Handover")

    assert problems[0][:2] == ("x", "params.event") and "case.handover" in problems[0][2]


def test_send_purposes_include_the_notices_us_holds_allow() -> None:
    from engine.contact_policy.profiles import _HOLDS
    from engine.nodes.send import PURPOSES

    allowed = {p for rule in _HOLDS.values() for p in rule.allowed_during_hold}
    assert allowed <= set(PURPOSES)
