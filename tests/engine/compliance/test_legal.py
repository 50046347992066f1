"""Legal content checks: for each, a journey that breaks it and one that keeps it; the packs'
own examples; the journey's collector and debtor types; the examples pass clean."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from marshmallow import ValidationError

from engine.authoring.validation import validate_journey
from engine.compliance.legal import debtor_types, legal_findings, validation_timing
from engine.compliance.packs import all_pack_files, load_pack
from engine.compliance.patterns import Words, search
from engine.journey.document import dump_journey, load_journey
from tests.factories import edge, journey_doc, node, template

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "journeys_examples").glob("*.json"))
CHECKS = [(p, c) for p in (load_pack(f) for f in all_pack_files()) for c in p.legal]


def journey(
    *steps: dict[str, Any],
    jurisdiction: str,
    collector: str = "creditor",
    start: dict[str, Any] | None = None,
    **templates: Any,
) -> dict[str, Any]:
    """start -> steps... -> end, wired in a line."""
    nodes = [start or node("start", "start"), *steps, node("done", "end", outcome="closed")]
    ids = [n["id"] for n in nodes]
    edges = [edge(a, b) for a, b in itertools.pairwise(ids)]
    doc = journey_doc(nodes=nodes, edges=edges, templates=templates, jurisdiction=jurisdiction)
    doc["collector"] = collector
    return doc


def send(node_id: str, tpl: str, channel: str = "email", **params: Any) -> dict[str, Any]:
    return node(
        node_id, "send", channel=channel, template=tpl, tone=params.pop("tone", 1), **params
    )


def found(doc: dict[str, Any]) -> list[tuple[str, str, tuple[str, ...], str]]:
    """(check, step, the missing items in the template's language, the forbidden words)."""
    return [
        (f.check.id, f.node, tuple(m.text(f.locale) for m in f.missing), f.excerpt)
        for f in legal_findings(load_journey(doc))
    ]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_the_example_journeys_pass_every_legal_check(path: Path) -> None:
    example = load_journey(json.loads(path.read_text()))
    assert legal_findings(example) == [] and validation_timing(example) == []


@pytest.mark.parametrize(("pack", "check"), CHECKS, ids=[c.id for _, c in CHECKS])
def test_every_legal_check_keeps_to_its_own_examples(pack, check) -> None:
    assert check.examples_match and check.examples_no_match, check.id
    for text, expected in [(t, True) for t in check.examples_match] + [
        (t, False) for t in check.examples_no_match
    ]:
        words = Words(text)
        if check.kind == "forbidden":
            hit = any(search(p, words) for p in check.patterns)
        else:  # a required check's match examples carry every item
            hit = all(any(search(p, words) for p in item.patterns) for item in check.items)
        assert hit is expected, text


# US -----------------------------------------------------------------------------------------

PLEASE = "Hello {{ debtor_name }}, please pay {{ format_money(amount_open) }} at {{ portal_url }}."


def test_an_email_and_a_text_without_an_opt_out_are_findings() -> None:
    doc = journey(
        send("mail", "m"),
        send("text", "s", channel="sms"),
        jurisdiction="US",
        m=template(body=PLEASE),
        s=template(channel="sms", body=PLEASE + " Reply STOP to opt out."),
    )
    assert found(doc) == [("US-06-OPT-OUT", "mail", ("how to opt out",), "")]


def test_an_opt_out_link_variable_counts() -> None:
    body = PLEASE + " Opting out? {{ unsubscribe_url }}"
    assert found(journey(send("mail", "m"), jurisdiction="US", m=template(body=body))) == []
    body = PLEASE + " {{ link(unsubscribe_url) }}"
    assert found(journey(send("mail", "m"), jurisdiction="US", m=template(body=body))) == []


def test_an_agency_says_it_is_a_debt_collector_in_every_message() -> None:
    letter = template(channel="letter", body=PLEASE)
    creditor = journey(send("l", "l", channel="letter"), jurisdiction="US", l=letter)
    assert found(creditor) == []
    agency = journey(
        send("l", "l", channel="letter"), jurisdiction="US", collector="agency", l=letter
    )
    assert found(agency) == [
        ("US-08-DEBT-COLLECTOR", "l", ("that it is from a debt collector",), "")
    ]


NOTICE = (
    "ACME is a debt collector. As of {{ format_date(due_date) }}, you owed: "
    "{{ format_money(amount_original) }}. You were charged this amount in interest: $0. "
    "Total amount of the debt now: {{ format_money(amount_open) }}. Call or write to us by "
    "{{ format_date(due_date) }} to dispute all or part of the debt. Ask us for the name and "
    "address of the original creditor. Go to www.cfpb.gov/debt-collection."
)


def test_a_validation_notice_lacking_model_form_items_blocks() -> None:
    short = NOTICE.replace(" Go to www.cfpb.gov/debt-collection.", "")
    doc = journey(
        send("notice", "n", channel="letter", purpose="validation_notice"),
        jurisdiction="US",
        collector="agency",
        n=template(channel="letter", body=short),
    )
    assert found(doc) == [
        (
            "US-07-VALIDATION-NOTICE",
            "notice",
            ("the CFPB's website (www.cfpb.gov/debt-collection)",),
            "",
        )
    ]
    problems = validate_journey(load_journey(doc))
    assert [(p.node, p.severity) for p in problems if "US-07" in p.message] == [("notice", "error")]
    doc["templates"]["n"] = template(channel="letter", body=NOTICE)
    assert found(doc) == []


def notice_after(days: int) -> dict[str, Any]:
    email = template(body=PLEASE + " This is from a debt collector. Reply STOP to opt out.")
    return journey(
        send("hello", "e"),
        node("w", "wait", mode="duration", days=days),
        send("notice", "n", channel="letter", purpose="validation_notice"),
        jurisdiction="US",
        collector="agency",
        e=email,
        n=template(channel="letter", body=NOTICE),
    )


def test_the_validation_notice_must_follow_the_first_message_within_five_days() -> None:
    assert validation_timing(load_journey(notice_after(3))) == []
    late = load_journey(notice_after(7))
    assert [(n, d.days if d else None) for n, d in validation_timing(late)] == [("hello", 7)]
    problems = [p for p in validate_journey(late) if "US-07-VALIDATION-TIMING" in p.message]
    assert [(p.node, p.severity) for p in problems] == [("hello", "error")]
    assert "after 7 days" in problems[0].text("en") and "fünf Tagen" in problems[0].text("de")


def test_a_path_that_never_reaches_the_notice_fails_and_a_creditor_need_not_send_one() -> None:
    doc = journey(
        send("hello", "e"),
        jurisdiction="US",
        collector="agency",
        e=template(body=PLEASE + " From a debt collector. Reply STOP to opt out."),
    )
    assert validation_timing(load_journey(doc)) == [("hello", None)]
    doc["collector"] = "creditor"
    assert validation_timing(load_journey(doc)) == []


# UK -----------------------------------------------------------------------------------------


def test_a_uk_demand_must_offer_a_plan_or_free_advice() -> None:
    bare = "Dear {{ debtor_name }}, the balance of {{ format_money(amount_open) }} is overdue."
    doc = journey(
        send("remind", "r", purpose="reminder"),
        send("demand", "d", channel="letter", purpose="demand"),
        jurisdiction="UK",
        r=template(body=bare),
        d=template(channel="letter", body=bare),
    )
    assert [(c, n) for c, n, _, _ in found(doc)] == [("UK-01-FORBEARANCE", "demand")]
    doc["templates"]["d"] = template(
        channel="letter", body=bare + " Free debt advice is available from StepChange."
    )
    assert found(doc) == []


# DE -----------------------------------------------------------------------------------------

FIRST_AGENCY = (
    "Guten Tag {{ debtor_name }}, unser Auftraggeber {{ creditor_name }} hat uns beauftragt. "
    "Forderungsgrund: Kaufvertrag vom 3. März. Zinsberechnung: 5 Prozentpunkte über dem "
    "Basiszinssatz. Inkassokosten nach RVG. Die Umsatzsteuer ist nicht als Vorsteuer abziehbar. "
    "Ihre Anschrift wurde nicht ermittelt. Zuständige Aufsichtsbehörde: Landgericht Hamburg."
)


def test_an_agencys_first_demand_carries_the_rdg_items() -> None:
    doc = journey(
        send("first", "f", channel="letter", purpose="demand"),
        jurisdiction="DE",
        collector="agency",
        f=template(channel="letter", body=FIRST_AGENCY, locale="de-DE"),
    )
    assert found(doc) == []
    doc["templates"]["f"] = template(
        channel="letter",
        body=FIRST_AGENCY.replace("Zuständige Aufsichtsbehörde: Landgericht Hamburg.", ""),
        locale="de-DE",
    )
    assert found(doc) == [("DE-07-RDG-13A", "first", ("die zuständige Aufsichtsbehörde",), "")]
    doc["collector"] = "creditor"
    assert found(doc) == []


def test_the_flat_fee_is_for_businesses_only() -> None:
    fee = "Guten Tag, zuzüglich der Verzugspauschale von 40,00 EUR."
    consumer = journey(
        send("m", "m", tone=2),
        jurisdiction="DE",
        m=template(body="Erinnerung.", locale="de-DE"),
    )
    consumer["nodes"].insert(2, send("m2", "m2", tone=2))
    consumer["edges"] = [edge("start", "m"), edge("m", "m2"), edge("m2", "done")]
    consumer["templates"]["m2"] = template(body=fee, locale="de-DE", tone=2)
    assert [(c, n, e) for c, n, _, e in found(consumer)] == [
        ("DE-03-FLAT-FEE", "m2", "verzugspauschale")
    ]
    business = node(
        "start", "start", filter=[{"field": "debtor_type", "op": "eq", "value": "business"}]
    )
    consumer["nodes"][0] = business
    assert found(consumer) == []


def test_no_fee_on_the_first_reminder() -> None:
    fee = "Guten Tag, für diese Erinnerung berechnen wir eine Mahngebühr von 5 Euro."
    doc = journey(
        send("first", "f"),
        send("second", "s", tone=2),
        jurisdiction="DE",
        f=template(body=fee, locale="de-DE"),
        s=template(body=fee, locale="de-DE", tone=2),
    )
    assert [(c, n) for c, n, _, _ in found(doc)] == [("DE-04-FIRST-FEE", "first")]
    doc["templates"]["f"] = template(
        body="Für diese Erinnerung berechnen wir keine Gebühren.", locale="de-DE"
    )
    assert found(doc) == []


# the journey's situation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clauses", "types"),
    [
        ([], {"consumer", "business"}),
        ([{"field": "debtor_type", "op": "eq", "value": "business"}], {"business"}),
        ([{"field": "debtor_type", "op": "neq", "value": "business"}], {"consumer"}),
        ([{"field": "amount_open", "op": "gt", "value": 5}], {"consumer", "business"}),
    ],
)
def test_debtor_types_come_from_the_start_filter(clauses: list, types: set[str]) -> None:
    doc = journey(jurisdiction="DE", start=node("start", "start", filter=clauses))
    assert debtor_types(load_journey(doc)) == types


def test_the_collector_is_kept_and_checked() -> None:
    doc = journey(jurisdiction="US", collector="agency")
    assert dump_journey(load_journey(doc))["collector"] == "agency"
    doc.pop("collector")
    assert "collector" not in dump_journey(load_journey(doc))  # old documents stay the same
    doc["collector"] = "bailiff"
    with pytest.raises(ValidationError) as caught:
        load_journey(doc)
    assert "collector" in caught.value.messages
