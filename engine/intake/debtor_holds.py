"""Holds on the person: an event about the debtor on one case reaches all their open cases.

Insolvency, death, a breathing space, a cease-contact request and attorney representation are
facts about the person, not about one invoice (X-01, US-05, UK-07 in compliance.md), so when
the tick applies one of them (or its end) to a case that has a debtor, the same event is
stored for every other open case of that debtor, naming the case it came from, and those cases
are made due: the same policy rule holds (or releases) each of them in the same tick, with the
event and the policy decision in each case's own audit trail. A dispute is about one invoice
and holds only its case.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from engine.core.case_status import OPEN_STATUSES
from engine.intake.events import record_event
from engine.storage.models import CaseRow

# Events about the person, with the events that end them (engine/rules/policy.py acts on each).
DEBTOR_WIDE = frozenset(
    {
        "insolvency",
        "deceased",
        "breathing_space_started",
        "breathing_space_ended",
        "cease_contact",
        "contact_resumed",
        "attorney_represented",
        "attorney_withdrawn",
    }
)
# The payload key naming the case an event was spread from (such an event is not spread again).
FROM_CASE = "debtor_event_from"


def spread_debtor_events(session: Session, events: Sequence[Any], now: datetime) -> int:
    """Store each event for the other open cases of its case's debtor; returns how many."""
    stored = 0
    source = aliased(CaseRow)
    for event in events:
        siblings = session.execute(
            select(CaseRow.id, CaseRow.external_id)
            .join(source, source.debtor_id == CaseRow.debtor_id)
            .where(
                source.id == event.case_id,
                CaseRow.id != event.case_id,
                CaseRow.status.in_(OPEN_STATUSES),
            )
            .order_by(CaseRow.id)
        ).all()
        digest = hashlib.sha256(event.event_id.encode()).hexdigest()[:32]
        payload = {**event.payload, FROM_CASE: event.external_id}
        for case_id, external_id in siblings:
            record_event(
                session, external_id, f"debtor-{digest}-{case_id}", event.type, payload, now
            )
            stored += 1
    return stored


class NoCases(LookupError):
    """The debtor has no case an event about the person could be stored for."""


def record_debtor_event(
    session: Session,
    debtor_id: int,
    event_id: str,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    occurred_at: datetime | None = None,
) -> list[str]:
    """An event about the person, sent for the debtor: stored once for each of their cases.

    Open cases are made due (the policy rule holds or releases each in the next tick); closed
    and stopped cases keep it as seen, so it is on record when a later case joins the debtor.
    Each copy names no case it came from but the debtor's event id, so the tick does not spread
    it again, and a repeated `event_id` stores nothing twice. Returns the cases' external ids.
    ValidationError naming `type` for an event that is not about the person.
    """
    if kind not in DEBTOR_WIDE:
        allowed = ", ".join(sorted(DEBTOR_WIDE))
        raise ValidationError({"type": [f"Not an event about the person; one of: {allowed}."]})
    cases = session.execute(
        select(CaseRow.id, CaseRow.external_id)
        .where(CaseRow.debtor_id == debtor_id)
        .order_by(CaseRow.id)
    ).all()
    if not cases:
        raise NoCases("The debtor has no cases.")
    digest = hashlib.sha256(event_id.encode()).hexdigest()[:32]
    body = {**payload, FROM_CASE: f"debtor:{event_id}"}
    for case_id, external_id in cases:
        record_event(
            session, external_id, f"person-{digest}-{case_id}", kind, body, now, occurred_at
        )
    return [external_id for _, external_id in cases]
