"""Why did this debtor get this letter: ticked cases explained step by step, EN and DE."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from engine import (
    Database,
    Runtime,
    SandboxDispatcher,
    VirtualClock,
    explain_case,
    record_event,
)
from engine.journey.document import load_journey
from engine.nodes.base import Clause
from engine.ops.explain import ExplainedStep, holds, variant_reasons
from engine.rules.sentences import rule_sentence
from engine.storage.models import AuditRow, CaseRow
from tests.factories import audit_rows, edge, journey_doc, make_case, node, publish

NIGHT = datetime(2026, 3, 2, 22, 30, tzinfo=UTC)  # Monday 23:30 in Berlin


def branching_doc(**fields: Any) -> dict[str, Any]:
    """start -> condition (open amount above 500: firm letter, else friendly email) -> end."""
    nodes = [
        node("start", "start"),
        node(
            "big",
            "condition",
            branches=[
                {
                    "port": "large",
                    "label": "Large",
                    "when": [{"field": "amount_open", "op": "gt", "value": 500}],
                }
            ],
        ),
        node("firm", "send", channel="email", template="firm", tone=3),
        node("friendly", "send", channel="email", template="friendly", tone=1),
        node("wait", "wait", mode="duration", days=3),
        node("done", "end", outcome="closed"),
    ]
    edges = [
        edge("start", "big"),
        edge("big", "firm", "large"),
        edge("big", "friendly", "else"),
        edge("firm", "wait"),
        edge("friendly", "wait"),
        edge("wait", "done"),
    ]
    templates = {
        # Only an English tone-2 text: a German debtor at tone 3 falls back twice.
        "firm": {
            "channel": "email",
            "variants": [
                {"locale": "en-GB", "tone": 2, "subject": "Invoice", "body": "Please pay."}
            ],
        },
        "friendly": {
            "channel": "email",
            "variants": [
                {"locale": "de-DE", "tone": 1, "subject": "Rechnung", "body": "Bitte zahlen."},
                {"locale": "en-GB", "tone": 1, "subject": "Invoice", "body": "Please pay."},
            ],
        },
    }
    return journey_doc(nodes, edges, templates, **fields)


def ticked(db: Database, when: datetime, **case: Any) -> int:
    """A case opened, ticked once and dispatched at `when`; its id."""
    clock = VirtualClock(when)
    with db.transaction() as session:
        version = publish(session, branching_doc(), clock.now)
        case_id = make_case(session, version, clock.now, **case).id
    Runtime(db).tick(clock.now)
    SandboxDispatcher(db, portal_base_url="https://pay.example").dispatch(clock.now)
    return case_id


def explained(db: Database, case_id: int, lang: str = "en") -> list[ExplainedStep]:
    with db.transaction() as session:
        return explain_case(session, case_id, lang)


def step(steps: list[ExplainedStep], kind: str, node_id: str | None = None) -> ExplainedStep:
    return next(s for s in steps if s.kind == kind and (node_id is None or s.node == node_id))


def test_a_condition_branch_names_its_rule_and_the_value_it_saw(db, clock) -> None:
    case_id = ticked(db, clock.now, amount="612.40", locale="de-DE", timezone="Europe/Berlin")

    steps = explained(db, case_id)
    branch = step(steps, "transition", "big")

    assert branch.rule == "big:enter:0"
    assert (branch.journey, branch.version) == ("test-journey", 1)
    assert branch.summary == "From 'big' the case went on to 'firm'."
    assert branch.reasons == (
        "The open amount was 612.40 EUR, so the condition “the open amount is above 500 EUR” held.",
    )
    assert branch.rule_sentence == (
        "When a case arrives at 'big' and the open amount is above 500 EUR, go to 'firm'."
    )
    german = step(explained(db, case_id, "de"), "transition", "big")
    assert german.reasons == (
        "Der offene Betrag war 612,40\xa0€, also traf die Bedingung „der offene Betrag über"
        " 500,00\xa0€ liegt“ zu.",
    )


def test_the_else_branch_says_which_condition_did_not_hold(db, clock) -> None:
    case_id = ticked(db, clock.now, amount="300.00")

    branch = step(explained(db, case_id), "transition", "big")

    assert branch.summary == "From 'big' the case went on to 'friendly'."
    assert branch.reasons == (
        "The open amount was 300.00 EUR, so the condition “the open amount is above 500 EUR”"
        " did not hold.",
    )
    assert branch.rule_sentence is not None and "no way above applies" in branch.rule_sentence


def test_the_seen_values_are_recorded_only_where_rules_read_fields(db, clock) -> None:
    case_id = ticked(db, clock.now, amount="612.40")

    with db.transaction() as session:
        rows = audit_rows(session, case_id, "transition")
    seen = {r.node_id: r.detail.get("seen") for r in rows}

    assert seen["big"] == {"amount_open": 612.4}
    assert seen["start"] is None and seen["firm"] is None


def test_a_deferral_for_quiet_hours_says_when_in_the_debtors_time_zone(db) -> None:
    case_id = ticked(db, NIGHT, amount="300.00", timezone="Europe/Berlin")

    english = step(explained(db, case_id), "deferral")
    german = step(explained(db, case_id, "de"), "deferral")

    assert english.summary == (
        "The email 'friendly' was deferred to 08:00, Tuesday 3 March 2026: quiet hours in the"
        " debtor's time zone, Europe/Berlin."
    )
    assert german.summary == (
        "Die E-Mail „friendly“ wurde auf 08:00 Uhr, Dienstag, 3. März 2026 verschoben:"
        " Ruhezeit in der Zeitzone des Schuldners, Europe/Berlin."
    )


def test_a_suppression_says_why(db, clock) -> None:
    case_id = ticked(db, clock.now, amount="300.00", email=None, street="Hauptstr. 1")

    suppressed = step(explained(db, case_id), "suppression")

    assert suppressed.summary == (
        "The email 'friendly' was not sent: no address is known for this channel."
    )
    assert step(explained(db, case_id, "de"), "suppression").summary == (
        "Die E-Mail „friendly“ wurde nicht gesendet: für diesen Kanal ist keine Adresse bekannt."
    )


def test_a_sent_message_names_its_variant_and_the_fallbacks(db, clock) -> None:
    case_id = ticked(db, clock.now, amount="612.40", locale="de-DE")

    sent = step(explained(db, case_id), "message")

    assert sent.summary == "The email 'firm' went out (sandboxed)."
    assert sent.reasons == (
        "The variant en-GB, tone 2 was chosen for the debtor's language de-DE and the step's"
        " tone 3.",
        "There is no variant in the debtor's language (de-DE); the en-GB variant was taken.",
        "There is no tone 3 variant in en-GB; the nearest tone, 2, was taken.",
    )
    german = step(explained(db, case_id, "de"), "message")
    assert german.reasons[2] == (
        "In en-GB gibt es keine Variante mit Tonlage 3; die nächste Tonlage, 2, wurde genommen."
    )


def test_an_exact_variant_and_a_regional_fallback() -> None:
    template = load_journey(branching_doc()).templates["friendly"]

    exact = [r.text() for r in variant_reasons(template, "de-DE", 1)]
    regional = [r.text() for r in variant_reasons(template, "de-AT", 1)]

    assert exact[1] == "It is written for exactly that language and region."
    assert regional[1] == "There is no variant for de-AT; one in the same language was taken."
    assert len(exact) == len(regional) == 2  # the tone matched: no tone fallback


def test_the_rule_sentence_is_the_rules_page_sentence(db, clock) -> None:
    case_id = ticked(db, clock.now, amount="612.40")
    journey = load_journey(branching_doc())
    with db.transaction() as session:
        from engine.storage.models import VersionRow

        compiled = session.get(VersionRow, 1).compiled  # type: ignore[union-attr]
    from engine.rules.compiler import CompiledJourney

    rule = CompiledJourney.from_json(compiled).rule("big:enter:0")

    german = step(explained(db, case_id, "de"), "transition", "big")
    assert german.rule_sentence == rule_sentence(rule, journey, "de")


def test_a_condition_on_a_missing_value_holds_for_no_operator() -> None:
    for op in ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in"):
        assert not holds(Clause("amount_open", op, [1] if "in" in op else 1), None)
    assert holds(Clause("country", "in", ["DE", "AT"]), "AT")
    assert not holds(Clause("amount_open", "gt", 500), "a string")


def test_a_closed_case_explains_every_step_without_errors(db, clock) -> None:
    case_id = ticked(db, clock.now, amount="612.40")
    runtime = Runtime(db)
    runtime.tick(clock.now + timedelta(days=4))

    steps = explained(db, case_id, "de")

    assert step(steps, "closed").summary == "Die Strecke endete: geschlossen."
    assert all(s.summary for s in steps)


def test_a_policy_rule_names_its_sentence_and_the_policy_anchor(db, clock) -> None:
    case_id = ticked(db, clock.now, amount="300.00")
    with db.transaction() as session:
        external_id = session.get(CaseRow, case_id).external_id  # type: ignore[union-attr]
        payment = {"amount": "300.00", "currency": "EUR"}
        record_event(session, external_id, "pay-1", "payment_received", payment, clock.now)
    Runtime(db).tick(clock.now + timedelta(minutes=1))

    english = step(explained(db, case_id), "policy")
    german = step(explained(db, case_id, "de"), "policy")

    assert english.summary == "A rule for every journey applied."
    assert english.rule_sentence == (
        "At any step, when a payment leaves nothing open, end the journey as paid."
    )
    assert english.rule_anchor == "policy-rules"
    assert german.summary == "Eine Regel, die für jede Strecke gilt, griff."
    assert german.rule_sentence is not None and german.rule_sentence.startswith("In jedem Schritt")
    assert step(explained(db, case_id), "event").summary == "The event 'payment_received' arrived."


def test_rows_the_explainer_cannot_read_fully_still_explain(db, clock) -> None:
    """Old rows, an unknown rule, a garbled detail: words from what is there, never an error."""
    with db.transaction() as session:
        version = publish(session, branching_doc(), clock.now)
        rows = [
            (1, "transition", "no-such:rule:0", {"port": "next"}),
            (2, "transition", "big:enter:0", {"seen": "not a dict"}),
            (3, "deferral", None, {"reason": "quiet_hours", "until": "not a time", "zone": "Mars"}),
            (4, "suppression", None, {"reason": "a_new_code", "message": "Recorded words."}),
            (5, "message", None, {"template": "gone", "locale": 7, "tone": "x"}),
            (6, "error", None, {"error": "RuntimeError: boom"}),
            (7, "transition", "big:enter:0", None),
        ]
        for audit_id, kind, rule, detail in rows:
            session.add(
                AuditRow(
                    id=audit_id,
                    at=clock.now.replace(tzinfo=None),
                    case_id=4242,
                    version_id=version.id,
                    node_id="big",
                    kind=kind,
                    rule=rule,
                    detail=detail,
                )
            )

    steps = explained(db, 4242, "de")

    assert [s.summary for s in steps] == [
        "Die Regel „no-such:rule:0“ griff.",
        "Von „big“ ging der Fall weiter zu „firm“.",
        "Die Nachricht „?“ wurde auf not a time verschoben: Ruhezeit in der Zeitzone des"
        " Schuldners, Mars.",
        "Die Nachricht „?“ wurde nicht gesendet: Recorded words.",
        "Die Nachricht „gone“ ging hinaus (?).",
        "error: RuntimeError: boom",
        "Von „big“ ging der Fall weiter zu „firm“.",
    ]
    assert steps[1].reasons == () and steps[1].rule_sentence is not None


def test_an_opt_out_suppression_by_the_guard_says_so_in_both_languages(db, clock) -> None:
    with db.transaction() as session:
        version = publish(session, branching_doc(), clock.now)
        case = make_case(session, version, clock.now, amount="300.00")
        case.contact_prefs = {"opted_out": ["email"]}
        case_id = case.id
    Runtime(db).tick(clock.now)
    SandboxDispatcher(db, portal_base_url="https://pay.example").dispatch(clock.now)

    english = step(explained(db, case_id), "suppression")
    german = step(explained(db, case_id, "de"), "suppression")

    assert english.summary == (
        "The email 'friendly' was not sent: the debtor opted out of this channel."
    )
    assert german.summary == (
        "Die E-Mail „friendly“ wurde nicht gesendet: der Schuldner hat diesem Kanal widersprochen."
    )


def test_a_fallback_says_which_hop_of_the_chain_went_out_and_why(db, clock) -> None:
    from sqlalchemy import update

    from tests.engine.nodes.test_send_fallbacks import CHAIN, doc_with

    with db.transaction() as session:
        version = publish(session, doc_with(fallbacks=CHAIN), clock.now)
        address = {"street": "Hauptstr. 1", "postcode": "10115", "city": "Berlin"}
        case = make_case(
            session, version, clock.now, email=None, phone="+49 151 23456789", **address
        )
        case_id = case.id
        session.execute(
            update(CaseRow)
            .where(CaseRow.id == case_id)
            .values(contact_prefs={"opted_out": ["sms"]})
        )
    Runtime(db).tick(clock.now)
    SandboxDispatcher(db, portal_base_url="https://pay.example").dispatch(clock.now)

    steps = explained(db, case_id)
    first, second = [s for s in steps if s.kind == "fallback"]
    assert first.summary == "The fallback channel SMS was queued instead of email."
    assert first.reasons == (
        "It is fallback 1 of the step's chain.",
        "There is no usable address for email.",
    )
    assert second.summary == "The fallback channel letter was queued instead of SMS."
    assert second.reasons == (
        "It is fallback 2 of the step's chain.",
        "The debtor opted out of contact by SMS.",
    )
    german = [s for s in explained(db, case_id, "de") if s.kind == "fallback"][1]
    assert german.reasons[1] == "Der Schuldner hat den Kontakt per SMS abbestellt."
