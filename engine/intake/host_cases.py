"""Cases as host systems hand them over: create or update by external id, one or in bulk.

Updating a running case changes its master data directly; contact data (email, phone, address)
goes through a `contact_changed` event instead, because the runtime owns those columns while
it advances the case and applies the event on the next tick. Amounts never change by update:
payments are events.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from marshmallow import ValidationError, missing
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.authoring.lifecycle import JourneyClosed, open_for_cases
from engine.authoring.versions import published_version
from engine.core.case_status import due_now
from engine.core.clock import naive_utc
from engine.intake.cases import CaseSchema, audit_opened, case_values
from engine.intake.debtor_merge import case_moved
from engine.intake.debtors import resolve_debtors
from engine.intake.events import (
    CaseFacts,
    Outcome,
    decide_event,
    event_row,
    mark_due,
    record_event,
)
from engine.storage.db import in_chunks
from engine.storage.models import CaseRow, DebtorRow, EventRow, JourneyRow, VersionRow

MAX_BULK = 10_000
BULK_CHUNK = 1_000  # items per transaction in a bulk request, as engine.intake.importer.CHUNK_SIZE
CONTACT = ("email", "phone", "street", "postcode", "city")
MASTER = ("debtor_name", "debtor_type", "subdivision", "reference", "attributes", "due_date")
CHUNK = 500  # SQLite allows at most 999 bound parameters in one IN (...)


_CASES = CaseRow.__table__
CASES_TABLE = _CASES
# Schemas keep no state between loads: made once, per set of fields a bulk chunk uses.
_SCHEMAS: dict[frozenset[str], CaseSchema] = {}
_FIELD_NAMES = frozenset(CaseSchema().fields)
_REQUIRED = frozenset(n for n, f in CaseSchema().fields.items() if f.required)
_DEFAULTS = {
    n: f.load_default for n, f in CaseSchema().fields.items() if f.load_default is not missing
}


class JourneyNotFound(LookupError):
    """No published journey matches the request."""


@dataclass
class ItemResult:
    """What happened to one case of a request."""

    index: int
    external_id: str | None
    status: str  # created | updated | unchanged | invalid
    errors: dict[str, Any] = field(default_factory=dict)


def choose_version(session: Session, journey: str | None) -> VersionRow:
    """The published version new cases start on: the named journey's, or the only live one.

    JourneyClosed (engine.authoring.lifecycle) when the named journey exists but is not live:
    not published yet, paused or retired.
    """
    if journey:
        version = open_for_cases(session, journey)
        if version is None:
            raise JourneyNotFound(f"There is no published journey '{journey}'.")
        return version
    keys = list(
        session.scalars(
            select(JourneyRow.key)
            .join(VersionRow)
            .where(
                VersionRow.status == "published",
                JourneyRow.paused_at.is_(None),
                JourneyRow.retired_at.is_(None),
            )
            .distinct()
            .limit(2)
        )
    )
    if len(keys) != 1:
        raise JourneyNotFound(
            "Name the journey: there are several published journeys."
            if keys
            else "There is no published journey to start the case on."
        )
    version = published_version(session, keys[0])
    assert version is not None
    return version


def _changes(row: CaseRow, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(master data to set, contact data to send as an event) that differ from the row."""
    master = {k: data[k] for k in MASTER if k in data and getattr(row, k) != data[k]}
    debtor = data.get("debtor_row_id")
    if debtor is not None and row.debtor_id != debtor:  # named a debtor, or another one
        master["debtor_id"] = debtor
    contact = {k: data[k] for k in CONTACT if k in data and getattr(row, k) != data[k]}
    if data["currency"] != row.currency:
        raise ValidationError({"currency": [f"The case is in {row.currency}."]})
    if data["amount"] != row.amount_original:
        raise ValidationError(
            {"amount": ["The amount of a case does not change; report payments as events."]}
        )
    return master, contact


def _update(session: Session, row: CaseRow, data: dict[str, Any], now: datetime) -> str:
    master, contact = _changes(row, data)
    before = row.debtor_id
    if master:
        session.execute(
            update(CaseRow).where(CaseRow.id == row.id).values(**master, updated_at=naive_utc(now))
        )
    if "debtor_id" in master:  # moved to another debtor: audited, their holds reach it
        after = session.get(DebtorRow, master["debtor_id"])
        assert after is not None
        case_moved(session, row, before, after, now)
    if contact:
        payload = {k: v for k, v in contact.items()}
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]
        record_event(
            session, row.external_id, f"update-{row.id}-{digest}", "contact_changed", payload, now
        )
    return "updated" if master or contact else "unchanged"


def upsert_case(
    session: Session, data: dict[str, Any], journey: str | None, now: datetime
) -> tuple[CaseRow, str]:
    """Create or update a case (data as CaseSchema loads it); returns (row, what happened)."""
    row = session.scalar(select(CaseRow).where(CaseRow.external_id == data["external_id"]))
    resolve_debtors(session, [data], now, "api")
    if row is None:
        version = choose_version(session, journey)
        row = CaseRow(**case_values(data, version, now))
        session.add(row)
        session.flush()
        audit_opened(session, [row.external_id], now, "api")
        return row, "created"
    status = _update(session, row, data, now)
    session.refresh(row)
    return row, status


def bulk_upsert(
    session: Session, items: list[Any], journey: str | None, now: datetime
) -> list[ItemResult]:
    """Create or update many cases in the caller's transaction (see bulk_upsert_chunked)."""
    return bulk_upsert_chunked(lambda: nullcontext(session), items, journey, now)


def bulk_upsert_chunked(
    transaction: Callable[[], AbstractContextManager[Session]],
    items: list[Any],
    journey: str | None,
    now: datetime,
    chunk_size: int = BULK_CHUNK,
) -> list[ItemResult]:
    """Create or update many cases; each item gets its own result, bad items do not stop others.

    As engine.intake.importer does it: chunks of `chunk_size` items, each loaded with CaseSchema
    many=True (outside any transaction), then one `transaction()` per chunk that looks up the
    chunk's existing external ids and inserts the new cases with one Core multi-row insert.
    """
    results: list[ItemResult] = []
    seen: set[str] = set()
    target = _Target(journey)
    for start in range(0, len(items), chunk_size):
        loaded = _load_chunk(items[start : start + chunk_size], start, results, seen)
        if not loaded:
            continue
        try:
            with transaction() as session:
                _write_chunk(session, loaded, results, target, now)
        except IntegrityError:
            # Another request inserted some of these ids meanwhile: look again, once.
            with transaction() as session:
                _write_chunk(session, loaded, results, target, now)
    return results


@dataclass
class _Target:
    """The journey new cases start on, chosen once per request."""

    journey: str | None
    version: VersionRow | None = None
    error: JourneyNotFound | JourneyClosed | None = None

    def version_for(self, session: Session) -> VersionRow:
        if self.version is None and self.error is None:
            try:
                self.version = choose_version(session, self.journey)
            except (JourneyNotFound, JourneyClosed) as exc:
                self.error = exc
        if self.version is None:
            raise self.error or JourneyNotFound(self.journey)
        return self.version


def _schema_for(chunk: list[dict[str, Any]]) -> tuple[CaseSchema, dict[str, Any]]:
    """CaseSchema limited to the fields the chunk uses, and the defaults of the others.

    Fields nobody sent cost a third of a load for nothing; their load_default values are put
    in afterwards, so the loaded data is what the full schema would give.
    """
    given = set().union(*(raw.keys() for raw in chunk)) & _FIELD_NAMES
    only = frozenset(given | _REQUIRED)
    schema = _SCHEMAS.get(only)
    if schema is None:
        schema = CaseSchema(only=sorted(only))
        if len(_SCHEMAS) < 256:  # a few shapes in practice; odd ones are not kept
            _SCHEMAS[only] = schema
    defaults = {n: d for n, d in _DEFAULTS.items() if n not in only}
    return schema, defaults


def _with_defaults(data: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    for name, default in defaults.items():
        data[name] = default() if callable(default) else default
    return data


def _load_chunk(
    chunk: list[Any], offset: int, results: list[ItemResult], seen: set[str]
) -> list[tuple[int, dict[str, Any]]]:
    """Validate a chunk; appends its results (valid ones as 'created' for now), returns them."""
    objects = [(offset + i, raw) for i, raw in enumerate(chunk) if isinstance(raw, dict)]
    schema, defaults = _schema_for([raw for _, raw in objects])
    outcome: dict[int, dict[str, Any] | ValidationError] = {}
    try:
        datas = schema.load([raw for _, raw in objects], many=True)
        outcome = {
            index: _with_defaults(data, defaults)
            for (index, _), data in zip(objects, datas, strict=True)
        }
    except ValidationError:
        # many=True skips the schema validators of every item once one field fails: load the
        # chunk item by item for the same messages as a request of one.
        for index, raw in objects:
            try:
                outcome[index] = _with_defaults(schema.load(raw), defaults)
            except ValidationError as exc:
                outcome[index] = exc
    loaded: list[tuple[int, dict[str, Any]]] = []
    for index in range(offset, offset + len(chunk)):
        raw = chunk[index - offset]
        ext = raw.get("external_id") if isinstance(raw, dict) else None
        ext = ext if isinstance(ext, str) else None
        found = outcome.get(index)
        if found is None:
            errors: dict[str, Any] = {"_schema": ["Each case must be an object."]}
            results.append(ItemResult(index, ext, "invalid", errors))
        elif isinstance(found, ValidationError):
            results.append(ItemResult(index, ext, "invalid", _messages(found)))
        elif found["external_id"] in seen:
            errors = {"external_id": ["Repeated in this request."]}
            results.append(ItemResult(index, ext, "invalid", errors))
        else:
            seen.add(found["external_id"])
            loaded.append((index, found))
            results.append(ItemResult(index, found["external_id"], "created"))
    return loaded


def _write_chunk(
    session: Session,
    loaded: list[tuple[int, dict[str, Any]]],
    results: list[ItemResult],
    target: _Target,
    now: datetime,
) -> None:
    """One chunk in one transaction: update the cases that exist, insert the others at once."""
    existing = _existing(session, [data["external_id"] for _, data in loaded])
    resolve_debtors(session, [data for _, data in loaded], now, "api")
    new_rows: list[dict[str, Any]] = []
    for index, data in loaded:
        row = existing.get(data["external_id"])
        result = results[index]
        result.status, result.errors = "created", {}
        try:
            if row is None:
                new_rows.append(case_values(data, target.version_for(session), now))
            else:
                result.status = _update(session, row, data, now)
        except (ValidationError, JourneyNotFound, JourneyClosed) as exc:
            errors = _messages(exc) if isinstance(exc, ValidationError) else {"journey": [str(exc)]}
            result.status, result.errors = "invalid", errors
    if new_rows:
        # The table, not the entity: the ORM's bulk path adds work we do not need here.
        session.execute(insert(_CASES), new_rows)
        audit_opened(session, [r["external_id"] for r in new_rows], now, "api")


def _existing(session: Session, external_ids: list[str]) -> dict[str, CaseRow]:
    found: dict[str, CaseRow] = {}
    for chunk in in_chunks(external_ids, CHUNK):
        for row in session.scalars(select(CaseRow).where(CaseRow.external_id.in_(chunk))):
            found[row.external_id] = row
    return found


def _messages(exc: ValidationError) -> dict[str, Any]:
    messages = exc.messages
    return messages if isinstance(messages, dict) else {"_schema": messages}


class CaseStarted(ValueError):
    """The case has already entered its journey and cannot be reassigned here."""


def assign_journey(
    session: Session, row: CaseRow, journey: str, now: datetime
) -> tuple[CaseRow, VersionRow]:
    """Put a case that has not started yet on the published version of another journey."""
    version = choose_version(session, journey)
    if row.version_id == version.id:
        return row, version
    if row.visits > 0 or row.status != "active":
        raise CaseStarted(
            "The case has already started its journey; running cases move when a new version "
            "is published."
        )
    start = next(n["id"] for n in version.document["nodes"] if n["type"] == "start")
    row.version_id, row.node_id = version.id, start
    row.due_at, row.updated_at = due_now(now), naive_utc(now)
    session.flush()
    return row, version


# -- events -------------------------------------------------------------------------------------

EVENTS_TABLE = EventRow.__table__
# Statements built once (building one costs more than running it on SQLite).
CASE_FOR_EVENT = select(_CASES.c.id, _CASES.c.currency, _CASES.c.status).where(
    _CASES.c.external_id == bindparam("external_id")
)
_INSERT_EVENT = {
    name: dialect_insert(EVENTS_TABLE)
    .on_conflict_do_nothing(index_elements=["event_id"])
    .returning(EVENTS_TABLE.c.id)
    for name, dialect_insert in (("sqlite", sqlite.insert), ("postgresql", postgresql.insert))
}
MAKE_DUE = mark_due(_CASES.c.id == bindparam("case_id"))


def record_host_event(
    session: Session,
    case_external_id: str,
    event_id: str,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    occurred_at: datetime | None = None,
) -> tuple[EventRow, bool]:
    """engine.intake.events.record_event for the API's hot path: the same rows, a third of the work.

    The common case (a new event for an open case) is three Core statements: read the case,
    insert the event unless its id exists (ON CONFLICT DO NOTHING, so no savepoint and no race),
    make the case due. Everything else (a repeated id, an unknown or closed case, a bad payload)
    goes to record_event; both ask `decide_event`. The returned row is not in the session (it is
    only read).
    """
    connection = session.connection()
    insert_event = _INSERT_EVENT.get(connection.dialect.name)
    case = connection.execute(CASE_FOR_EVENT, {"external_id": case_external_id}).first()
    facts = None if case is None else CaseFacts(case.id, case.currency, case.status)
    decision = decide_event(facts, case_external_id, kind, payload)
    if insert_event is None or decision.outcome is not Outcome.STORE:
        # record_event answers a repeated id with the stored event before validating.
        return record_event(session, case_external_id, event_id, kind, payload, now, occurred_at)
    values = event_row(facts.id if facts else None, event_id, kind, decision, now, occurred_at)
    new_id = connection.execute(insert_event, values).scalar()
    if new_id is None:  # the id exists: record_event returns the stored event
        return record_event(session, case_external_id, event_id, kind, payload, now, occurred_at)
    connection.execute(MAKE_DUE, {"case_id": values["case_id"], "due": values["received_at"]})
    return EventRow(id=new_id, **values), True
