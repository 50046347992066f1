"""Static proofs: each with a journey that breaks it (and its counterexample) and one that keeps
it; the examples pass every proof; a 150-step journey is proved in well under a second."""

from __future__ import annotations

import itertools
import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.authoring.compliance import proof_problems
from engine.authoring.validation import validate_journey
from engine.compliance.proofs import PROOFS, Proof, min_delay, prove_journey
from engine.journey.document import Node, load_journey
from tests.factories import edge, journey_doc, node, template

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "journeys_examples").glob("*.json"))
CALM = "Dear {{ debtor_name }}, invoice {{ reference }} is open. You can pay at {{ portal_url }}."


def proof(doc: dict[str, Any], name: str) -> Proof:
    found = {p.name: p for p in prove_journey(load_journey(doc))}
    return found[name]


def chain(*steps: dict[str, Any], jurisdiction: str = "US", **templates: Any) -> dict[str, Any]:
    """start -> steps... -> end, wired through each step's 'next' port."""
    nodes = [node("start", "start"), *steps, node("done", "end", outcome="closed")]
    ids = [n["id"] for n in nodes]
    edges = [edge(a, b) for a, b in itertools.pairwise(ids)]
    tpl = templates or {"t": template(body=CALM), "s": template(channel="sms", body=CALM)}
    return journey_doc(nodes=nodes, edges=edges, templates=tpl, jurisdiction=jurisdiction)


def sms(node_id: str, **params: Any) -> dict[str, Any]:
    return node(node_id, "send", channel="sms", template="s", tone=1, **params)


def wait(node_id: str, **params: Any) -> dict[str, Any]:
    return node(node_id, "wait", **params)


def path_ids(p: Proof) -> list[list[str]]:
    return [[n for n, _ in f.path] for f in p.failures]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_journey_passes_every_proof(path: Path) -> None:
    proofs = prove_journey(load_journey(json.loads(path.read_text())))
    assert [(p.name, [f.node for f in p.failures]) for p in proofs if not p.passed] == []


# caps ---------------------------------------------------------------------------------------


def test_eight_texts_a_day_apart_break_the_us_seven_in_seven() -> None:
    steps: list[dict[str, Any]] = []
    for i in range(8):
        steps += [sms(f"s{i}"), wait(f"w{i}", mode="duration", days=0, hours=20)]
    result = proof(chain(*steps[:-1]), "caps")
    assert not result.passed
    first = result.failures[0]
    assert first.node == "s0"
    assert first.values == {
        "profile": "US",
        "channel": "sms",
        "count": 8,
        "max_count": 7,
        "days": 7.0,
    }
    assert first.path[0] == ("start", "next") and first.path[-1] == ("s7", None)


def test_texts_a_day_apart_keep_the_federal_cap_but_not_massachusetts() -> None:
    steps: list[dict[str, Any]] = []
    for i in range(8):
        steps += [sms(f"s{i}"), wait(f"w{i}", mode="duration", days=1)]
    result = proof(chain(*steps[:-1]), "caps")
    # A US journey also serves debtors in Massachusetts: 2 texts in 7 days (US-13 overlay).
    assert {f.values["profile"] for f in result.failures} == {"US-MA"}
    assert result.failures[0].values["count"] == 3


def test_a_loop_that_takes_time_is_counted_to_the_window_edge() -> None:
    nodes = [
        node("start", "start"),
        sms("s"),
        wait("w", mode="duration", days=0, hours=12),
        node("done", "end", outcome="closed"),
    ]
    edges = [edge("start", "s"), edge("s", "w"), edge("w", "s")]
    doc = journey_doc(
        nodes=nodes, edges=edges, templates={"s": template(channel="sms")}, jurisdiction="US"
    )
    result = proof(doc, "caps")
    assert not result.passed  # 12 hours apart: 14 texts in 7 days
    assert result.failures[0].values["count"] == 8


def test_due_date_waits_count_from_a_case_that_enters_when_due() -> None:
    # D+1, D+4, ... D+22: three days apart from the due date on (a late case is the guard's),
    # so at most 3 texts in any 7 days: the UK's cap.
    steps: list[dict[str, Any]] = []
    for i in range(8):
        steps += [wait(f"d{i}", mode="due_date", days=1 + 3 * i), sms(f"s{i}")]
    assert proof(chain(*steps, jurisdiction="UK"), "caps").passed
    # The same texts one day apart break it.
    steps = []
    for i in range(8):
        steps += [wait(f"d{i}", mode="due_date", days=1 + i), sms(f"s{i}")]
    assert not proof(chain(*steps, jurisdiction="UK"), "caps").passed


def test_replies_to_the_debtors_own_actions_are_not_the_journeys_contacts() -> None:
    nodes = [
        node("start", "start"),
        node("ask", "wait_event", events=["payment_received"], timeout_days=30),
        sms("thanks"),
        node("done", "end", outcome="paid"),
    ]
    edges = [
        edge("start", "ask"),
        edge("ask", "thanks", "payment_received"),
        edge("ask", "done", "timeout"),
        edge("thanks", "ask"),
    ]
    doc = journey_doc(
        nodes=nodes, edges=edges, templates={"s": template(channel="sms")}, jurisdiction="US"
    )
    assert proof(doc, "caps").passed
    assert proof(doc, "time").passed


def test_without_a_jurisdiction_there_are_no_caps_to_prove() -> None:
    result = proof(chain(sms("a"), sms("b"), jurisdiction="NONE"), "caps")
    assert result.passed and not result.applies


# gaps ---------------------------------------------------------------------------------------


def test_two_emails_at_once_break_the_german_minimum_gap() -> None:
    doc = chain(
        node("a", "send", channel="email", template="t", tone=1),
        node("b", "send", channel="email", template="t", tone=1),
        jurisdiction="DE",
    )
    result = proof(doc, "gaps")
    assert path_ids(result) == [["start", "a", "b"]]
    assert result.failures[0].values == {"profile": "DE", "hours": 0.0, "gap_hours": 12.0}


def test_a_letter_right_after_an_email_is_no_second_contact_moment() -> None:
    doc = chain(
        node("a", "send", channel="email", template="t", tone=1),
        node("b", "send", channel="letter", template="t", tone=1),
        jurisdiction="DE",
    )
    assert proof(doc, "gaps").passed


def test_a_letter_that_may_fall_back_to_email_is_a_contact_moment() -> None:
    doc = chain(
        node("a", "send", channel="email", template="t", tone=1),
        node("b", "send", channel="letter", template="t", tone=1, fallback_channel="email"),
        jurisdiction="DE",
    )
    assert not proof(doc, "gaps").passed


# hours --------------------------------------------------------------------------------------


def test_a_text_at_22_00_is_outside_german_contact_hours() -> None:
    doc = chain(wait("late", mode="duration", days=2, at_time="22:00"), sms("s"), jurisdiction="DE")
    result = proof(doc, "hours")
    assert [f.node for f in result.failures] == ["s"]
    assert result.failures[0].values["time"] == "22:00"
    assert [n for n, _ in result.failures[0].path] == ["start", "late", "s"]


def test_a_due_date_wait_without_a_time_sends_at_midnight() -> None:
    doc = chain(wait("d", mode="due_date", days=3), sms("s"), jurisdiction="DE")
    assert proof(doc, "hours").failures[0].values["time"] == "00:00"


def test_a_text_at_nine_is_inside_and_a_letter_at_midnight_is_posted() -> None:
    kept = chain(wait("d", mode="due_date", days=3, at_time="09:00"), sms("s"), jurisdiction="DE")
    assert proof(kept, "hours").passed
    letter = chain(
        wait("d", mode="due_date", days=3),
        node("l", "send", channel="letter", template="t", tone=1),
        jurisdiction="DE",
    )
    assert proof(letter, "hours").passed


# consequences -------------------------------------------------------------------------------

AGENCY = "Dear {{ debtor_name }}, without payment we will pass your account to a collection agency."


def test_an_announced_agency_needs_a_later_handover() -> None:
    doc = chain(
        node("final", "send", channel="email", template="final", tone=3),
        jurisdiction="UK",
        final=template(body=AGENCY, tone=3),
    )
    result = proof(doc, "consequences")
    assert [f.node for f in result.failures] == ["final"]
    assert result.failures[0].values == {
        "consequence": "agency",
        "excerpt": "collection agency",
        "template": "final",
    }


@pytest.mark.parametrize(
    "doer",
    [
        node("agency", "webhook", event="case.handover"),
        node("agency", "end", outcome="handed_over"),
    ],
)
def test_a_handover_webhook_or_outcome_does_it(doer: dict[str, Any]) -> None:
    nodes = [
        node("start", "start"),
        node("final", "send", channel="email", template="final", tone=3),
        wait("w", mode="duration", days=14),
        doer,
    ]
    edges = [edge("start", "final"), edge("final", "w"), edge("w", "agency")]
    if doer["type"] != "end":
        nodes.append(node("done", "end", outcome="handed_over"))
        edges.append(edge("agency", "done"))
    doc = journey_doc(
        nodes=nodes,
        edges=edges,
        templates={"final": template(body=AGENCY, tone=3)},
        jurisdiction="UK",
    )
    assert proof(doc, "consequences").passed


def test_a_german_schufa_notice_needs_a_step_that_can_report() -> None:
    body = (
        "Guten Tag {{ debtor_name }}, bleibt die Forderung unbestritten offen, kann sie der "
        "SCHUFA gemeldet werden. Wenn Sie die Forderung bestreiten, findet keine Meldung statt."
    )
    tpl = template(body=body, tone=2, locale="de-DE")
    doc = chain(node("m", "send", channel="email", template="m", tone=2), jurisdiction="DE", m=tpl)
    assert proof(doc, "consequences").failures[0].values["consequence"] == "credit_report"


# holds --------------------------------------------------------------------------------------


def opt_out_journey(purpose: str, resume: bool = False) -> dict[str, Any]:
    events = ["opted_out", "consent_changed"] if resume else ["opted_out"]
    nodes = [
        node("start", "start"),
        node("listen", "wait_event", events=events, timeout_days=10),
        node("again", "wait_event", events=["consent_changed"], timeout_days=10),
        node("notice", "send", channel="email", template="t", tone=1, purpose=purpose),
        node("done", "end", outcome="closed"),
    ]
    edges = [
        edge("start", "listen"),
        edge("listen", "again" if resume else "notice", "opted_out"),
        edge("listen", "done", "timeout"),
        edge("again", "notice", "consent_changed"),
        edge("again", "done", "timeout"),
        edge("notice", "done"),
    ]
    if resume:
        edges.append(edge("listen", "notice", "consent_changed"))
    return journey_doc(nodes=nodes, edges=edges, templates={"t": template()}, jurisdiction="US")


def test_a_reminder_after_an_opt_out_breaks_the_hold() -> None:
    result = proof(opt_out_journey("reminder"), "holds")
    assert [f.node for f in result.failures] == ["notice"]
    assert result.failures[0].path[-2] == ("listen", "opted_out")


def test_a_remedy_notice_or_a_new_consent_keeps_it() -> None:
    assert proof(opt_out_journey("termination_notice"), "holds").passed
    assert proof(opt_out_journey("reminder", resume=True), "holds").passed


# promises -----------------------------------------------------------------------------------


def promise_journey(broken_to: str) -> dict[str, Any]:
    nodes = [
        node("start", "start"),
        node("p", "promise", grace_days=2),
        sms("chase"),
        node("paid", "end", outcome="paid"),
        node("done", "end", outcome="closed"),
    ]
    edges = [
        edge("start", "p"),
        edge("p", "paid", "kept"),
        edge("p", broken_to, "broken"),
        edge("chase", "done"),
    ]
    return journey_doc(nodes=nodes, edges=edges, templates={"s": template(channel="sms")})


def test_a_broken_promise_that_ends_as_paid_fails() -> None:
    result = proof(promise_journey("paid"), "promises")
    assert [(f.node, f.values["problem"]) for f in result.failures] == [("p", "paid")]
    assert proof(promise_journey("chase"), "promises").passed


# time ---------------------------------------------------------------------------------------


def test_a_message_on_every_delivery_report_loops_without_time() -> None:
    nodes = [
        node("start", "start"),
        sms("s"),
        node("delivered", "wait_event", events=["message_delivered"], timeout_days=3),
        node("done", "end", outcome="closed"),
    ]
    edges = [
        edge("start", "s"),
        edge("s", "delivered"),
        edge("delivered", "s", "message_delivered"),
        edge("delivered", "done", "timeout"),
    ]
    sms_template = {"s": template(channel="sms")}
    doc = journey_doc(nodes=nodes, edges=edges, templates=sms_template)
    result = proof(doc, "time")
    assert [f.values["sends"] for f in result.failures] == [1]
    assert {n for n, _ in result.failures[0].path} >= {"s", "delivered"}
    # The same loop through the timeout takes three days each round.
    edges[2] = edge("delivered", "done", "message_delivered")
    edges[3] = edge("delivered", "s", "timeout")
    assert proof(journey_doc(nodes=nodes, edges=edges, templates=sms_template), "time").passed


# the least time a step takes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "least"),
    [
        ({"mode": "duration", "days": 2}, timedelta(days=2)),
        ({"mode": "duration", "days": 1, "at_time": "09:00"}, timedelta(hours=9)),
        ({"mode": "duration", "days": 0, "hours": 5}, timedelta(hours=5)),
        ({"mode": "business_days", "days": 3}, timedelta(days=3)),
        ({"mode": "business_days", "days": 1, "at_time": "08:00"}, timedelta(hours=8)),
        ({"mode": "due_date", "days": 14}, timedelta(0)),
    ],
)
def test_min_delay_of_a_wait(params: dict[str, Any], least: timedelta) -> None:
    assert min_delay(Node("w", "wait", "w", params), "next") == least


# words and speed ----------------------------------------------------------------------------


def test_a_failed_proof_is_a_warning_on_its_step_in_both_languages() -> None:
    doc = chain(wait("late", mode="duration", days=2, at_time="22:00"), sms("s"), jurisdiction="DE")
    journey = load_journey(doc)
    found = [p for p in validate_journey(journey) if "PROOF" in p.message]
    assert [(p.node, p.severity) for p in found] == [("s", "warning")]
    assert "start → late → s" in found[0].text("en")
    assert "22:00" in found[0].text("de") and "Kontaktzeiten" in found[0].text("de")
    assert proof_problems(journey, prove_journey(journey)) == found


def test_a_150_step_journey_is_proved_in_well_under_a_second() -> None:
    steps: list[dict[str, Any]] = []
    for i in range(74):
        steps += [
            node(f"s{i}", "send", channel=("sms", "email")[i % 2], template="st"[i % 2], tone=1),
            wait(f"w{i}", mode="business_days", days=1 + i % 3),
        ]
    doc = chain(*steps, jurisdiction="US")
    journey = load_journey(doc)
    started = time.perf_counter()
    prove_journey(journey)
    assert time.perf_counter() - started < 1.0


def test_a_due_date_wait_after_an_unbounded_promise_is_proved_without_overflow() -> None:
    # A promise's date is the debtor's: after it nothing has a latest moment (NEVER), and a
    # due-date wait after it must keep it so, not count past the largest timedelta.
    nodes = [
        node("start", "start"),
        node("p", "promise", grace_days=2),
        wait("d", mode="due_date", days=30),
        sms("s"),
        node("done", "end", outcome="closed"),
    ]
    edges = [
        edge("start", "p"),
        edge("p", "d", "kept"),
        edge("p", "d", "broken"),
        edge("p", "d", "none"),
        edge("d", "s"),
        edge("s", "done"),
    ]
    templates = {"s": template(channel="sms")}
    doc = journey_doc(nodes=nodes, edges=edges, templates=templates, jurisdiction="UK")
    assert [p.name for p in prove_journey(load_journey(doc))] == list(PROOFS)
