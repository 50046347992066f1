"""What staff record on a case for a debtor on the phone: the same events the portal and the
API record, through the one event intake, with the staff member as the actor.

Each action is a case event (`record_event`): a payment is `payment_received`, a promise
`promise_to_pay`, a dispute `dispute_opened`, a hold the event that starts it in the policy
rules (engine.rules.policy.hold_kinds), a release the event that ends it, a close `case_closed`.
The event id is made from the case, the action and the form's one-time key, so a double click
stores the event once; the first storing also writes a `staff_action` audit row naming who did
it. The tick applies the event as it applies any other: the policy rules close, hold or release,
the journey's nodes react, and host webhooks are derived from the audit trail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.case_status import is_open
from engine.core.clock import naive_utc
from engine.intake.events import record_event
from engine.rules.policy import hold_kinds
from engine.storage.models import AuditRow, CaseRow, EventRow

# The form's one-time key (what a double click sends twice): URL-safe, 16 to 43 characters.
STAFF_KEY = re.compile(r"^[A-Za-z0-9_-]{16,43}$")
# Action -> the event it records (hold and release: the event depends on the hold's kind).
STAFF_EVENTS = {
    "payment": "payment_received",
    "promise": "promise_to_pay",
    "dispute": "dispute_opened",
    "hold": None,
    "release": None,
    "close": "case_closed",
}


class StaffActionError(ValueError):
    """An action that cannot be recorded; `field` names the form field at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = field, reason


@dataclass(frozen=True)
class StaffActor:
    """Who records an action: a designer account and its role."""

    email: str
    role: str


@dataclass(frozen=True)
class StaffRecord:
    """What an action stored: its event id and type, and whether it was new (not a replay)."""

    event_id: str
    kind: str
    created: bool


def staff_event_id(case_id: int, action: str, key: str) -> str:
    """The event id of one submitted form: the same for every resend of that form."""
    return f"staff:{case_id}:{action}:{key}"


def release_event(hold_reason: str | None) -> str | None:
    """The event that releases a case held for `hold_reason`; None when no event does."""
    kind = hold_kinds().get(hold_reason or "")
    return kind[1] if kind else None


def record_staff_action(
    session: Session,
    case_id: int,
    action: str,
    payload: dict[str, Any],
    key: str,
    actor: StaffActor,
    now: datetime,
    occurred_at: datetime | None = None,
) -> StaffRecord:
    """Record one staff action as its case event; StaffActionError names what is wrong.

    A hold's payload carries `kind` (one of hold_kinds()); a release needs a held case whose
    hold an event ends. A closed or stopped case takes no action (field 'case').
    """
    if action not in STAFF_EVENTS:
        raise StaffActionError("action", "unknown_action")
    if not STAFF_KEY.match(key or ""):
        raise StaffActionError("key", "bad_key")
    case = session.get(CaseRow, case_id)
    if case is None:
        raise LookupError(f"There is no case with the row id {case_id}.")
    event_id = staff_event_id(case_id, action, key)
    known = session.scalar(select(EventRow.type).where(EventRow.event_id == event_id))
    if known is not None:  # the same form sent again: it was recorded the first time
        return StaffRecord(event_id, known, False)
    if not is_open(case.status):
        raise StaffActionError("case", "closed")
    kind = STAFF_EVENTS[action]
    payload = dict(payload)
    if action == "hold":
        hold = hold_kinds().get(str(payload.get("kind", "")))
        if hold is None:
            raise StaffActionError("kind", "unknown_hold")
        kind = hold[0]
    elif action == "release":
        kind = release_event(case.hold_reason) if case.status == "held" else None
        if kind is None:
            raise StaffActionError("case", "not_held")
        payload.setdefault("kind", case.hold_reason)
    assert kind is not None
    _row, created = record_event(
        session, case.external_id, event_id, kind, payload, now, occurred_at
    )
    if created:
        session.add(
            AuditRow(
                at=naive_utc(now),
                case_id=case.id,
                version_id=case.version_id,
                node_id=case.node_id,
                kind="staff_action",
                detail={
                    "action": action,
                    "event": kind,
                    "event_id": event_id,
                    "by": actor.email,
                    "role": actor.role,
                },
            )
        )
    return StaffRecord(event_id, kind, created)
