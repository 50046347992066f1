"""A hold's last day: when it comes, the schedule records the event that ends the hold.

A hold event (`cease_contact`, `breathing_space_started`, `attorney_represented`) may name its
last day, `until` (staff's hold form, the API, a hold spread to the debtor's other cases); the
tick keeps it on the case (`cases.hold_until`) while the policy rule holds it. Once that day
has begun in the case's own time zone, `release_holds` records the event that ends the hold
(`contact_resumed`, `breathing_space_ended`, `attorney_withdrawn`) through the one event intake,
with `{"kind", "until", "by": "schedule"}`; the tick applies it like a person's release, so the
audit trail and the timeline say who released the case and why, and the journey goes on where
it stood. Insolvency and death stop a case for a person: no day ends them.

Once: the event id is `hold-until:<case row id>:<until>` (a case held again until the same day
after that event was applied takes `...:2`, and so on), so a second run, a second worker or a
run after a crash stores nothing new while the first release is on its way. The newer hold
wins: the tick applies a scheduled release only while the case is still held for the same
reason until the same day (`outdated_release`), so a later hold, with another day or none, or a
person's release in between, is left as it is. A scheduled release ends this case's hold only;
the debtor's other cases carry the same day and are released by their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.intake.events import record_event
from engine.rules.policy import hold_kinds
from engine.storage.db import in_chunks
from engine.storage.models import CaseRow, EventRow

SCHEDULE = "schedule"  # the `by` of a release the schedule recorded
# The local day begins first at UTC+14: no case's day can be later than UTC's day then.
EARLIEST_OFFSET = timedelta(hours=14)
# Re-holds until one day after a scheduled release of it: more is not a hold but a loop.
MAX_SERIES = 50


def hold_until(payload: Mapping[str, Any] | None) -> date | None:
    """The last day a hold event names (its checked `until`), or None."""
    raw = (payload or {}).get("until")
    if not raw:
        return None
    try:
        return date.fromisoformat(str(raw))
    except ValueError:  # stored before `until` was checked: a day no one can read ends nothing
        return None


def is_scheduled(payload: Mapping[str, Any] | None) -> bool:
    """Whether an event is a release the schedule recorded (it ends one case's hold only)."""
    return (payload or {}).get("by") == SCHEDULE


def outdated_release(
    hold_reason: str | None, until: date | None, payload: Mapping[str, Any] | None
) -> bool:
    """Whether a scheduled release no longer fits the case: held for another reason, or until
    another day (or none) since the schedule recorded it. A person's release never is."""
    if not is_scheduled(payload):
        return False
    assert payload is not None
    return payload.get("kind") != hold_reason or payload.get("until") != (
        until.isoformat() if until else None
    )


def local_today(zone: str, now: datetime) -> date:
    """Today in a case's time zone (an unknown zone reads as UTC)."""
    try:
        tz = ZoneInfo(zone)
    except (KeyError, ValueError):
        tz = ZoneInfo("UTC")
    return now.astimezone(tz).date()


def release_event_id(
    case_id: int, until: date, stored: Mapping[str, datetime | None]
) -> str | None:
    """The id of the release to record for this hold, or None while one is on its way.

    `hold-until:<case>:<until>`; when that one was applied and the case is held until the same
    day again, the next of the series (`:2`, `:3` ...). `stored` maps the release ids stored
    for the case to when they were applied (None: not yet)."""
    base = f"hold-until:{case_id}:{until.isoformat()}"
    for n in range(1, MAX_SERIES + 1):
        event_id = base if n == 1 else f"{base}:{n}"
        if event_id not in stored:
            return event_id
        if stored[event_id] is None:
            return None  # stored, not applied yet: the tick releases the case
    return None


def _stored_releases(session: Session, case_ids: list[int]) -> dict[str, datetime | None]:
    """The scheduled releases stored for these cases: event id -> when applied (or None)."""
    found: dict[str, datetime | None] = {}
    for chunk in in_chunks(case_ids):
        found.update(
            session.execute(
                select(EventRow.event_id, EventRow.applied_at).where(
                    EventRow.case_id.in_(chunk), EventRow.event_id.startswith("hold-until:")
                )
            ).all()
        )
    return found


def release_holds(session: Session, now: datetime) -> int:
    """Record the release of every held case whose hold's last day has come; returns how many."""
    releases = {kind: end for kind, (_start, end, stops) in hold_kinds().items() if not stops}
    rows = session.execute(
        select(
            CaseRow.id,
            CaseRow.external_id,
            CaseRow.timezone,
            CaseRow.hold_reason,
            CaseRow.hold_until,
        )
        .where(
            CaseRow.status == "held",
            CaseRow.hold_until <= (now + EARLIEST_OFFSET).date(),
        )
        .order_by(CaseRow.id)
    ).all()
    due = [
        row
        for row in rows
        if (row.hold_reason or "") in releases and local_today(row.timezone, now) >= row.hold_until
    ]
    stored = _stored_releases(session, [row.id for row in due])
    recorded = 0
    for case_id, external_id, _zone, reason, until in due:
        event_id = release_event_id(case_id, until, stored)
        if event_id is None:
            continue
        payload = {"kind": reason, "until": until.isoformat(), "by": SCHEDULE}
        kind = releases[reason]
        _row, created = record_event(session, external_id, event_id, kind, payload, now)
        recorded += created
    return recorded
