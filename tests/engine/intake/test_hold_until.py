"""A hold's last day: the schedule records the release through the one intake, once, and only
while the case is still held for the same reason until the same day.

Real parts throughout: the schema, the intake, the runtime's tick and policy rules.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from marshmallow import ValidationError
from sqlalchemy import select

from engine import Database, Runtime, VirtualClock, record_event
from engine.intake.hold_until import release_holds
from engine.storage.models import EventRow, VersionRow
from tests.factories import audit_rows, case_row, example_doc, make_case, outbox_rows, publish

UNTIL = date(2026, 3, 5)  # a Thursday; the clock starts on Monday 2 March, 08:00 UTC


class Story:
    """Cases on minimal.json with a runtime, a clock and the hold job."""

    def __init__(self, db: Database, clock: VirtualClock, version: VersionRow) -> None:
        self.db, self.clock, self.version, self.runtime = db, clock, version, Runtime(db)
        self._events = 0

    def case(self, **extra: Any) -> str:
        with self.db.transaction() as session:
            return make_case(session, self.version, self.clock.now, **extra).external_id

    def event(self, external_id: str, type_: str, /, **payload: Any) -> None:
        self._events += 1
        with self.db.transaction() as session:
            record_event(session, external_id, f"e{self._events}", type_, payload, self.clock.now)

    def tick(self) -> None:
        self.runtime.tick(self.clock.now)

    def at(self, moment: datetime) -> None:
        self.clock.advance(moment - self.clock.now)

    def release(self) -> int:
        with self.db.transaction() as session:
            return release_holds(session, self.clock.now)

    def row(self, external_id: str) -> Any:
        with self.db.transaction() as session:
            return case_row(session, external_id)

    def events(self, external_id: str) -> list[tuple[str, str, dict[str, Any]]]:
        with self.db.transaction() as session:
            case_id = case_row(session, external_id).id
            rows = session.scalars(
                select(EventRow).where(EventRow.case_id == case_id).order_by(EventRow.id)
            )
            return [(r.event_id, r.type, r.payload) for r in rows]

    def audit(self, external_id: str, kind: str) -> list[Any]:
        with self.db.transaction() as session:
            return audit_rows(session, case_row(session, external_id).id, kind=kind)

    def sent(self, external_id: str) -> list[str]:
        with self.db.transaction() as session:
            return [r.node_id for r in outbox_rows(session, case_row(session, external_id).id)]


@pytest.fixture
def story(db: Database, clock: VirtualClock, published: VersionRow) -> Story:
    return Story(db, clock, published)


def held_until(story: Story, kind: str = "cease_contact", **extra: Any) -> str:
    """A Berlin case parked at 'Wait until D+7', then held until UNTIL."""
    case = story.case(**extra)
    story.tick()
    story.event(case, kind, until=UNTIL.isoformat(), note="asked", by="staff")
    story.tick()
    return case


def test_a_hold_keeps_its_until_date_on_the_case(story: Story) -> None:
    case = held_until(story)

    row = story.row(case)
    assert (row.status, row.hold_reason, row.hold_until) == ("held", "cease_contact", UNTIL)
    (policy,) = story.audit(case, "policy")
    assert policy.detail == {"action": "hold:cease_contact", "until": "2026-03-05"}


def test_before_the_day_the_job_does_nothing(story: Story) -> None:
    case = held_until(story)
    story.at(datetime(2026, 3, 4, 22, 59, tzinfo=UTC))  # 23:59 on 4 March in Berlin

    assert story.release() == 0
    story.tick()
    assert story.row(case).status == "held"
    assert [kind for _id, kind, _p in story.events(case)] == ["cease_contact"]


def test_on_the_day_the_case_is_released_and_goes_on_where_it_stood(story: Story) -> None:
    case = held_until(story)
    story.at(datetime(2026, 3, 4, 23, 0, tzinfo=UTC))  # midnight of 5 March in Berlin

    assert story.release() == 1
    story.tick()

    row = story.row(case)
    assert (row.status, row.hold_reason, row.hold_until, row.node_id) == (
        "active",
        None,
        None,
        "wait_7",
    )
    event_id, kind, payload = story.events(case)[-1]
    assert (event_id, kind) == (f"hold-until:{row.id}:2026-03-05", "contact_resumed")
    assert payload == {"kind": "cease_contact", "until": "2026-03-05", "by": "schedule"}
    assert [a.rule for a in story.audit(case, "policy")] == ["cease_contact", "contact_resumed"]
    released = story.audit(case, "event")[-1].detail  # the audit trail says why
    assert (released["by"], released["until"]) == ("schedule", "2026-03-05")
    story.at(datetime(2026, 3, 9, 9, tzinfo=UTC))  # D+7 comes: the journey goes on
    story.tick()
    assert (story.row(case).node_id, story.sent(case)) == ("wait_pay", ["reminder"])


def test_a_timer_that_expired_during_the_hold_fires_once_released(story: Story) -> None:
    case = held_until(story)
    story.at(datetime(2026, 3, 10, 8, tzinfo=UTC))  # D+7 passed while held (job not running)
    story.tick()
    assert story.sent(case) == []

    story.release()
    story.tick()

    assert (story.row(case).node_id, story.sent(case)) == ("wait_pay", ["reminder"])


def test_running_the_job_twice_releases_once(story: Story) -> None:
    case = held_until(story)
    story.at(datetime(2026, 3, 5, 6, tzinfo=UTC))

    assert (story.release(), story.release()) == (1, 0)  # the second: on its way already
    story.tick()
    assert story.release() == 0  # released: nothing more
    story.tick()

    releases = [e for e in story.events(case) if e[1] == "contact_resumed"]
    assert len(releases) == 1
    assert [a.rule for a in story.audit(case, "policy")] == ["cease_contact", "contact_resumed"]


def test_a_newer_hold_without_until_is_not_released(story: Story) -> None:
    case = held_until(story)
    story.event(case, "cease_contact", kind="cease_contact", by="host")  # no until
    story.tick()
    assert story.row(case).hold_until is None

    story.at(datetime(2026, 3, 20, 8, tzinfo=UTC))
    assert story.release() == 0
    story.tick()

    assert (story.row(case).status, story.row(case).hold_reason) == ("held", "cease_contact")


def test_a_newer_hold_after_the_release_was_recorded_wins(story: Story) -> None:
    case = held_until(story)
    story.at(datetime(2026, 3, 5, 6, tzinfo=UTC))
    assert story.release() == 1
    # Before the tick applies the release, the debtor asks for a breathing space.
    story.event(case, "breathing_space_started", kind="breathing_space", by="host")
    story.event(case, "cease_contact", kind="cease_contact", until="2026-04-01", by="host")
    story.tick()

    row = story.row(case)
    assert (row.status, row.hold_reason, row.hold_until) == (
        "held",
        "cease_contact",
        date(2026, 4, 1),
    )
    # The stored release applied first and released; the later holds then held the case again.
    assert [a.rule for a in story.audit(case, "policy")] == [
        "cease_contact",
        "contact_resumed",
        "breathing_space",
        "cease_contact",
    ]


def test_a_release_recorded_before_a_changed_hold_is_ignored(story: Story) -> None:
    case = held_until(story)
    story.at(datetime(2026, 3, 5, 6, tzinfo=UTC))
    with story.db.transaction() as session:  # the hold is moved to later before the job's
        case_id = case_row(session, case).id  # release is applied: stored in this order
        record_event(
            session,
            case,
            "later",
            "cease_contact",
            {"kind": "cease_contact", "until": "2026-03-20"},
            story.clock.now,
        )
    story.tick()
    story.event(
        case,
        "contact_resumed",
        kind="cease_contact",
        until="2026-03-05",
        by="schedule",
    )  # as the job recorded it before it saw the new day
    story.tick()

    row = story.row(case)
    assert (row.status, row.hold_until) == ("held", date(2026, 3, 20))
    (ignored,) = story.audit(case, "event_ignored")
    assert ignored.detail["reason"] == "hold changed since its until date"
    assert case_id == row.id


def test_a_manual_release_then_no_scheduled_one(story: Story) -> None:
    case = held_until(story)
    story.event(case, "contact_resumed", by="staff")
    story.tick()

    story.at(datetime(2026, 3, 6, 8, tzinfo=UTC))
    assert story.release() == 0


def test_held_again_until_the_same_day_is_released_again(story: Story) -> None:
    case = held_until(story)
    story.at(datetime(2026, 3, 5, 6, tzinfo=UTC))
    story.release()
    story.tick()
    story.event(case, "cease_contact", kind="cease_contact", until="2026-03-05", by="host")
    story.tick()
    assert story.row(case).status == "held"

    assert story.release() == 1
    story.tick()

    row = story.row(case)
    assert row.status == "active"
    ids = [e[0] for e in story.events(case) if e[1] == "contact_resumed"]
    assert ids == [f"hold-until:{row.id}:2026-03-05", f"hold-until:{row.id}:2026-03-05:2"]


@pytest.mark.parametrize(
    ("start", "reason", "end"),
    [
        ("breathing_space_started", "breathing_space", "breathing_space_ended"),
        ("attorney_represented", "attorney", "attorney_withdrawn"),
    ],
)
def test_each_hold_is_released_by_its_own_event(
    story: Story, start: str, reason: str, end: str
) -> None:
    case = held_until(story, start)
    assert story.row(case).hold_reason == reason
    story.at(datetime(2026, 3, 5, 6, tzinfo=UTC))

    story.release()
    story.tick()

    assert story.row(case).status == "active"
    assert story.events(case)[-1][1:] == (
        end,
        {"kind": reason, "until": "2026-03-05", "by": "schedule"},
    )


@pytest.mark.parametrize("kind", ["insolvency", "deceased"])
def test_insolvency_and_death_are_never_released_by_a_date(story: Story, kind: str) -> None:
    case = held_until(story, kind)
    story.at(datetime(2026, 4, 1, 8, tzinfo=UTC))

    assert story.release() == 0
    story.tick()

    row = story.row(case)
    assert (row.status, row.hold_reason, row.hold_until) == ("stopped", kind, None)


def test_the_day_begins_in_each_case_s_own_time_zone(story: Story) -> None:
    auckland = held_until(story, timezone="Pacific/Auckland")  # UTC+13 in March
    berlin = held_until(story)
    los_angeles = held_until(story, timezone="America/Los_Angeles")  # UTC-8

    story.at(datetime(2026, 3, 4, 10, 59, tzinfo=UTC))  # 23:59 on 4 March in Auckland
    assert story.release() == 0
    story.at(datetime(2026, 3, 4, 11, 0, tzinfo=UTC))  # midnight of 5 March in Auckland
    assert story.release() == 1
    story.at(datetime(2026, 3, 4, 23, 0, tzinfo=UTC))  # midnight in Berlin
    assert story.release() == 1
    story.at(datetime(2026, 3, 5, 7, 59, tzinfo=UTC))  # 23:59 on 4 March in Los Angeles
    assert story.release() == 0
    story.tick()

    statuses = [story.row(c).status for c in (auckland, berlin, los_angeles)]
    assert statuses == ["active", "active", "held"]
    story.at(datetime(2026, 3, 5, 8, 0, tzinfo=UTC))
    assert story.release() == 1


def test_a_hold_on_the_person_is_released_case_by_case(story: Story) -> None:
    home = story.case(debtor_id="CUST-1")
    other = story.case(debtor_id="CUST-1")
    story.tick()
    story.event(home, "cease_contact", kind="cease_contact", until="2026-03-05", by="staff")
    story.tick()  # holds `home`, stores the hold for `other`
    story.tick()
    assert [story.row(c).hold_until for c in (home, other)] == [UNTIL, UNTIL]

    story.at(datetime(2026, 3, 4, 23, 0, tzinfo=UTC))
    assert story.release() == 2
    story.tick()
    story.tick()

    # Each case's release is its own: none is spread to the person's other cases.
    assert [story.row(c).status for c in (home, other)] == ["active", "active"]
    for case in (home, other):
        releases = [e[0] for e in story.events(case) if e[1] == "contact_resumed"]
        assert releases == [f"hold-until:{story.row(case).id}:2026-03-05"]


def test_an_until_that_is_not_a_date_is_refused_naming_it(story: Story) -> None:
    case = story.case()
    with pytest.raises(ValidationError) as refused:
        story.event(case, "cease_contact", until="next week")
    assert "until" in refused.value.messages


def test_a_hold_payload_keeps_its_other_keys(story: Story) -> None:
    case = story.case()
    story.event(case, "attorney_represented", firm="Kanzlei Beispiel", until="2026-03-05")

    assert story.events(case)[0][2] == {"firm": "Kanzlei Beispiel", "until": "2026-03-05"}


def test_the_job_on_postgresql(pg_db: Database) -> None:
    clock = VirtualClock(datetime(2026, 3, 2, 8, tzinfo=UTC))
    with pg_db.transaction() as session:
        version = publish(session, example_doc("minimal"), clock.now)
    story = Story(pg_db, clock, version)
    case = held_until(story)
    assert story.row(case).hold_until == UNTIL

    story.at(datetime(2026, 3, 4, 22, 0, tzinfo=UTC))
    assert story.release() == 0
    story.at(datetime(2026, 3, 4, 23, 0, tzinfo=UTC))
    assert (story.release(), story.release()) == (1, 0)
    story.tick()

    assert (story.row(case).status, story.row(case).hold_until) == ("active", None)
    story.clock.advance(timedelta(days=5))
    story.tick()
    assert story.sent(case) == ["reminder"]
