"""Waivers: a HIGH compliance finding needs a reviewer's written waiver before approval; each
waiver is one history row naming the finding; wrong requests are refused with a reason."""

from __future__ import annotations

import pytest

from engine import Database, VirtualClock
from engine.authoring.lifecycle import (
    Actor,
    HasProblems,
    LifecycleConflict,
    LifecycleForbidden,
    LifecycleInvalid,
    approve_version,
    high_findings,
    save_draft,
    submit_version,
    unwaived,
    version_history,
    version_waivers,
    waive_finding,
)
from engine.storage import queries
from tests.factories import edge, journey_doc, node, template

KEY = "test-journey"
MANAGER = Actor.user("manager@example.org", "manager")
REVIEWER = Actor.user("reviewer@example.org", "reviewer")
VIEWER = Actor.user("viewer@example.org", "viewer")
# A tone-1 step whose text reads as tone 2: one HIGH finding (COMPLIANCE-TONE).
FIRM = "Dear {{ debtor_name }}, invoice {{ reference }} is still open. Please pay by Friday."


def in_review(db: Database, clock: VirtualClock, body: str = FIRM) -> int:
    nodes = [
        node("start", "start"),
        node("remind", "send", channel="email", template="reminder", tone=1),
        node("done", "end", outcome="closed"),
    ]
    doc = journey_doc(
        nodes=nodes,
        edges=[edge("start", "remind"), edge("remind", "done")],
        templates={"reminder": template(body=body, tone=1)},
    )
    with db.transaction() as session:
        row, _ = save_draft(session, doc, clock.now, MANAGER.name)
        submit_version(session, KEY, row.number, MANAGER, clock.now, "ready")
        return row.number


def findings(db: Database, number: int) -> list[str]:
    with db.transaction() as session:
        row = queries.get_version(session, KEY, number)
        return [p.finding_key for p in high_findings(row)]


def test_approval_waits_for_a_waiver_of_each_high_finding(db, clock) -> None:
    number = in_review(db, clock)
    keys = findings(db, number)
    assert keys == ["COMPLIANCE-TONE||templates.reminder.en-GB.tone1.body"]
    with db.transaction() as session, pytest.raises(HasProblems) as refused:
        approve_version(session, KEY, number, REVIEWER, clock.now)
    assert "1 HIGH compliance findings without a written waiver" in refused.value.text("en")
    assert "ohne schriftlichen Verzicht" in refused.value.text("de")
    assert refused.value.state == "in_review"
    with db.transaction() as session:
        waive_finding(
            session, KEY, number, REVIEWER, clock.now, keys[0], "Friday is a week away: fine."
        )
    with db.transaction() as session:
        row = approve_version(session, KEY, number, REVIEWER, clock.now)
        assert row.status == "approved"
        history = version_history(session, KEY, number)
    waived = [e for e in history if e.action == "waived"]
    assert len(waived) == 1
    assert waived[0].note == "Friday is a week away: fine."
    assert waived[0].detail["finding"] == keys[0]
    assert waived[0].detail["rule"] == "COMPLIANCE-TONE"


def test_a_clean_version_needs_no_waiver(db, clock) -> None:
    calm = (
        "Dear {{ debtor_name }}, invoice {{ reference }} is open. You can pay at {{ portal_url }}."
    )
    number = in_review(db, clock, calm)
    assert findings(db, number) == []
    with db.transaction() as session:
        assert approve_version(session, KEY, number, REVIEWER, clock.now).status == "approved"


@pytest.mark.parametrize(
    ("who", "finding", "note", "error"),
    [
        (VIEWER, None, "ok", LifecycleForbidden),
        (MANAGER, None, "ok", LifecycleForbidden),
        (REVIEWER, None, "   ", LifecycleInvalid),
        (REVIEWER, None, "x" * 2001, LifecycleInvalid),
        (REVIEWER, "NO-SUCH|remind|", "ok", LifecycleInvalid),
    ],
)
def test_a_wrong_waiver_is_refused_with_a_reason(db, clock, who, finding, note, error) -> None:
    number = in_review(db, clock)
    key = finding or findings(db, number)[0]
    with db.transaction() as session, pytest.raises(error) as refused:
        waive_finding(session, KEY, number, who, clock.now, key, note)
    assert refused.value.text("de") != refused.value.text("en")


def test_a_finding_is_waived_once_and_only_while_in_review(db, clock) -> None:
    number = in_review(db, clock)
    key = findings(db, number)[0]
    with db.transaction() as session:
        waive_finding(session, KEY, number, REVIEWER, clock.now, key, "fine")
    with db.transaction() as session, pytest.raises(LifecycleConflict):
        waive_finding(session, KEY, number, REVIEWER, clock.now, key, "again")
    with db.transaction() as session:
        row = queries.get_version(session, KEY, number)
        assert list(version_waivers(session, row)) == [key]
        assert unwaived(session, row) == []
        approve_version(session, KEY, number, REVIEWER, clock.now)
    with db.transaction() as session, pytest.raises(LifecycleConflict):
        waive_finding(session, KEY, number, REVIEWER, clock.now, key, "late")
