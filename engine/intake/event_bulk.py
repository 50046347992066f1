"""Many host events at once (a day's payments from a bank file): each item gets its own result.

Each item is decided by the rule of a single event POST (engine.intake.events.decide_event),
as the items one after another would be: a new event id is stored and makes its case due; a
repeated id (stored before, or by an earlier item of the same request) for the same case and
type is `replayed`; a repeated id for another case or type, an unknown case, a payload that its
type's schema refuses or a currency that is not the case's make the item `invalid` with the
field named; an event for a closed or stopped case is stored as seen, with an `event_ignored`
audit row (engine.intake.events.record_event). Bad items do not stop the others.

Items are checked outside any transaction, then written in chunks of CHUNK, one transaction
each: one read of the chunk's cases, one of its known event ids, one multi-row insert of the
new events and one update making their cases due.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.core import event_types
from engine.core.case_status import due_now
from engine.core.inputs import storable_errors
from engine.intake.events import (
    EVENT_ID_LENGTH,
    CaseFacts,
    KnownEvent,
    Outcome,
    api_errors,
    clean_payload,
    decide_event,
    event_row,
    mark_due,
    record_event,
)
from engine.storage.db import in_chunks
from engine.storage.models import CaseRow, EventRow

MAX_BULK_EVENTS = 10_000
CHUNK = 1_000  # items per transaction, so single events from other clients get in between
IN_LIMIT = 500  # SQLite allows at most 999 bound parameters in one IN (...)
_EVENTS = EventRow.__table__
_CASES = CaseRow.__table__


class EventItemSchema(Schema):
    """One event of a bulk request: an event as POST /cases/{case}/events takes it, and its case."""

    case = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "The external id of the case."},
    )
    event_id = fields.String(
        required=True,
        validate=EVENT_ID_LENGTH,
        metadata={"description": "The host's id of the event; a repeat is stored once."},
    )
    type = fields.String(required=True, validate=validate.OneOf(event_types.ALL))
    payload = fields.Dict(keys=fields.String(), load_default=dict)
    occurred_at = fields.AwareDateTime(load_default=None, allow_none=True)

    @validates_schema(skip_on_field_errors=False)
    def _storable_text(self, data: dict[str, Any], **_: Any) -> None:
        """No lone surrogate, no NUL (PostgreSQL text cannot hold it): named by field."""
        errors = storable_errors(data)
        if errors:
            raise ValidationError(errors)


_ITEM = EventItemSchema()


@dataclass
class EventItemResult:
    """What happened to one event of a bulk request."""

    index: int
    event_id: str | None
    case: str | None
    status: str  # created | replayed | invalid
    errors: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Item:
    """A checked item on its way to the database."""

    result: EventItemResult
    data: dict[str, Any]
    clean: dict[str, Any] | ValidationError


def bulk_record_events(
    transaction: Callable[[], AbstractContextManager[Session]],
    items: list[Any],
    now: datetime,
    chunk_size: int = CHUNK,
) -> list[EventItemResult]:
    """Store many events; one result per item, in the order given."""
    results: list[EventItemResult] = []
    for start in range(0, len(items), chunk_size):
        checked = [
            _check(start + i, raw, results)
            for i, raw in enumerate(items[start : start + chunk_size])
        ]
        chunk = [item for item in checked if item is not None]
        if not chunk:
            continue
        try:
            with transaction() as session:
                _write_chunk(session, chunk, now)
        except IntegrityError:
            # Another request stored some of these ids meanwhile: decide the chunk again, once.
            with transaction() as session:
                _write_chunk(session, chunk, now)
    return results


def _check(index: int, raw: Any, results: list[EventItemResult]) -> _Item | None:
    """Validate one item; appends its result (valid ones as 'created' for now)."""
    ids = raw if isinstance(raw, dict) else {}
    event_id = ids.get("event_id") if isinstance(ids.get("event_id"), str) else None
    case = ids.get("case") if isinstance(ids.get("case"), str) else None
    result = EventItemResult(index, event_id, case, "invalid")
    results.append(result)
    if not isinstance(raw, dict):
        result.errors = {"_schema": ["Each event must be an object."]}
        return None
    try:
        data = _ITEM.load(raw)
    except ValidationError as exc:
        result.errors = _messages(exc)
        return None
    result.status = "created"
    try:
        clean: dict[str, Any] | ValidationError = clean_payload(data["type"], data["payload"])
    except ValidationError as exc:
        clean = exc  # reported unless the event id turns out to be known already
    return _Item(result, data, clean)


def _write_chunk(session: Session, chunk: list[_Item], now: datetime) -> None:
    """Decide each item (events.decide_event) and write the chunk in the caller's transaction."""
    stamp = due_now(now)
    cases = _cases(session, {item.data["case"] for item in chunk})
    known = _known_events(session, [item.data["event_id"] for item in chunk])
    rows: list[dict[str, Any]] = []
    due: set[int] = set()
    for item in chunk:
        data, case = item.data, cases.get(item.data["case"])
        facts = None if case is None else CaseFacts(case.id, case.currency, case.status)
        decision = decide_event(
            facts,
            data["case"],
            data["type"],
            data["payload"],
            known.get(data["event_id"]),
            item.clean,
        )
        item.result.status, item.result.errors = _STATUS[decision.outcome], {}
        if decision.outcome in (Outcome.CONFLICT, Outcome.UNKNOWN_CASE):
            item.result.errors = decision.errors
        elif decision.outcome is Outcome.INVALID:
            item.result.errors = api_errors(data["type"], decision.errors)
        elif decision.outcome is Outcome.IGNORE:
            # As a single event: stored as seen, with the audit row saying why it changed nothing.
            record_event(
                session,
                data["case"],
                data["event_id"],
                data["type"],
                data["payload"],
                now,
                data["occurred_at"],
            )
        elif decision.outcome is Outcome.STORE:
            assert facts is not None
            rows.append(
                event_row(
                    facts.id, data["event_id"], data["type"], decision, now, data["occurred_at"]
                )
            )
            due.add(facts.id)
        if item.result.status == "created":  # later items with this id are repeats of it
            known[data["event_id"]] = KnownEvent(data["case"], data["type"])
    if rows:
        session.execute(insert(_EVENTS), rows)
    ids = sorted(due)
    for chunk in in_chunks(ids, IN_LIMIT):
        session.execute(mark_due(_CASES.c.id.in_(chunk), due=stamp))


# The bulk result of each outcome.
_STATUS = {
    Outcome.STORE: "created",
    Outcome.IGNORE: "created",
    Outcome.REPLAY: "replayed",
    Outcome.CONFLICT: "invalid",
    Outcome.UNKNOWN_CASE: "invalid",
    Outcome.INVALID: "invalid",
}


def _cases(session: Session, external_ids: set[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for chunk in in_chunks(sorted(external_ids), IN_LIMIT):
        query = select(_CASES.c.id, _CASES.c.external_id, _CASES.c.currency, _CASES.c.status).where(
            _CASES.c.external_id.in_(chunk)
        )
        found.update({row.external_id: row for row in session.execute(query)})
    return found


def _known_events(session: Session, event_ids: list[str]) -> dict[str, KnownEvent]:
    found: dict[str, KnownEvent] = {}
    for chunk in in_chunks(event_ids, IN_LIMIT):
        query = (
            select(_EVENTS.c.event_id, _EVENTS.c.type, _CASES.c.external_id)
            .join(_CASES, _CASES.c.id == _EVENTS.c.case_id)
            .where(_EVENTS.c.event_id.in_(chunk))
        )
        found.update(
            {row.event_id: KnownEvent(row.external_id, row.type) for row in session.execute(query)}
        )
    return found


def _messages(exc: ValidationError) -> dict[str, Any]:
    messages = exc.messages
    return messages if isinstance(messages, dict) else {"_schema": messages}
