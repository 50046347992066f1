"""Compliance findings in validation: BLOCK is an error that refuses submit, HIGH/MED warn."""

from __future__ import annotations

import pytest

from engine import Database, VirtualClock
from engine.authoring.lifecycle import Actor, HasProblems, save_draft, submit_version
from engine.authoring.validation import blocking, validate_document
from tests.factories import journey_doc, template

MANAGER = Actor.user("manager@example.org", "manager")
THREAT = "Dear {{ debtor_name }}, otherwise we will have you ARRESTED."
PRESSURE = "Dear {{ debtor_name }}, please ACT NOW: your invoice {{ reference }} is open."


def test_a_block_finding_is_an_error_naming_the_variant_and_the_rule() -> None:
    _, problems = validate_document(journey_doc(templates={"reminder": template(body=THREAT)}))
    (problem,) = problems
    assert problem.blocks and problem.severity == "error"
    assert problem.field == "templates.reminder.en-GB.tone1.body"
    assert (
        "Template 'reminder' (email, en-GB, tone 1), body: EN-TONE-ARREST (BLOCK)" in problem.text()
    )
    assert "Vorlage 'reminder' (email, en-GB, Ton 1)" in problem.text("de")


def test_a_high_finding_is_a_warning_that_blocks_nothing() -> None:
    _, problems = validate_document(journey_doc(templates={"reminder": template(body=PRESSURE)}))
    assert [p.severity for p in problems] == ["warning"]
    assert blocking(problems) == []
    assert problems[0].line().startswith("warning: journey, field 'templates.reminder.en-GB")
    assert "EN-TONE-FINAL (HIGH)" in problems[0].text()


def test_the_ladder_finding_names_the_step() -> None:
    doc = journey_doc(templates={"reminder": template(tone=3)})
    doc["nodes"][1]["params"]["tone"] = 3
    _, problems = validate_document(doc)
    ladder = [p for p in problems if "COMPLIANCE-LADDER" in p.text()]
    assert [(p.node, p.severity) for p in ladder] == [("remind", "warning")]


def test_wording_is_not_checked_while_the_journey_has_errors() -> None:
    doc = journey_doc(templates={"reminder": template(body=THREAT)})
    doc["nodes"][2]["params"]["days"] = "seven"
    _, problems = validate_document(doc)
    assert all("EN-TONE" not in p.text() for p in problems)


def test_submit_refuses_a_block_finding_and_accepts_warnings(
    db: Database, clock: VirtualClock
) -> None:
    with db.transaction() as session:
        row, problems = save_draft(
            session,
            journey_doc(templates={"reminder": template(body=THREAT)}),
            clock.now,
            MANAGER.name,
        )
        assert [p.severity for p in problems] == ["error"]
    with db.transaction() as session, pytest.raises(HasProblems) as caught:
        submit_version(session, "test-journey", row.number, MANAGER, clock.now)
    assert "EN-TONE-ARREST" in caught.value.problems[0].text()
    with db.transaction() as session:
        row, problems = save_draft(
            session,
            journey_doc(templates={"reminder": template(body=PRESSURE)}),
            clock.now,
            MANAGER.name,
        )
        assert [p.severity for p in problems] == ["warning"]
        submit_version(session, "test-journey", row.number, MANAGER, clock.now)
        assert row.status == "in_review"
