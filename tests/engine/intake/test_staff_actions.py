"""Staff actions through the one event intake: the event, the actor's audit row, once per key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from engine import (
    Database,
    StaffActionError,
    StaffActor,
    hold_kinds,
    record_staff_action,
    release_event,
)
from engine.delivery.webhooks import EVENT_TYPES, map_audit
from engine.storage.models import AuditRow, CaseRow, EventRow
from tests.factories import example_doc, make_case, publish

NOW = datetime(2026, 3, 10, 9, tzinfo=UTC)
ACTOR = StaffActor("ann@example.org", "collector")
KEY = "a" * 16


def test_hold_kinds_are_read_from_the_policy_rules() -> None:
    kinds = hold_kinds()
    assert kinds["dispute"] == ("dispute_opened", "dispute_resolved", False)
    assert kinds["cease_contact"] == ("cease_contact", "contact_resumed", False)
    assert kinds["insolvency"] == ("insolvency", None, True)
    assert release_event("breathing_space") == "breathing_space_ended"
    assert release_event("insolvency") is None and release_event(None) is None


def test_an_action_is_stored_once_with_its_actor(db: Database) -> None:
    with db.transaction() as session:
        case = make_case(session, publish(session, example_doc("minimal"), NOW), NOW)
        first = record_staff_action(
            session, case.id, "promise", {"date": "2026-03-20"}, KEY, ACTOR, NOW
        )
        again = record_staff_action(
            session, case.id, "promise", {"date": "2026-03-20"}, KEY, ACTOR, NOW
        )
        assert first.created and not again.created and first.event_id == again.event_id
        assert session.scalars(select(EventRow.type)).all() == ["promise_to_pay"]
        (audit,) = session.scalars(select(AuditRow).where(AuditRow.kind == "staff_action"))
        assert audit.detail["by"] == "ann@example.org" and audit.detail["event"] == "promise_to_pay"


def test_refusals_name_the_field(db: Database) -> None:
    with db.transaction() as session:
        case = make_case(session, publish(session, example_doc("minimal"), NOW), NOW)
        with pytest.raises(StaffActionError) as bad_kind:
            record_staff_action(session, case.id, "hold", {"kind": "holiday"}, KEY, ACTOR, NOW)
        assert bad_kind.value.field == "kind"
        with pytest.raises(StaffActionError) as not_held:
            record_staff_action(session, case.id, "release", {}, KEY, ACTOR, NOW)
        assert not_held.value.field == "case"
        with pytest.raises(StaffActionError) as bad_key:
            record_staff_action(session, case.id, "close", {}, "x", ACTOR, NOW)
        assert bad_key.value.field == "key"
        session.get(CaseRow, case.id).status = "closed"
        with pytest.raises(StaffActionError) as closed:
            record_staff_action(session, case.id, "close", {}, KEY, ACTOR, NOW)
        assert closed.value.reason == "closed"
        assert session.scalars(select(EventRow)).all() == []


@pytest.mark.parametrize(
    ("kind", "detail", "webhook"),
    [
        ("event", {"event": "promise_to_pay"}, "case.promised"),
        ("event", {"event": "dispute_opened"}, "case.disputed"),
        ("event", {"event": "case_closed"}, "case.closed"),
        ("policy", {"action": "hold:cease_contact"}, "case.held"),
        ("closed", {"outcome": "paid"}, "case.paid"),
    ],
)
def test_the_applied_staff_events_reach_host_webhooks(
    kind: str, detail: dict[str, str], webhook: str
) -> None:
    assert map_audit(kind, detail, None) == webhook and webhook in EVENT_TYPES
