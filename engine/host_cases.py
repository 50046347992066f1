"""Cases as host systems hand them over: create or update by external id, one or in bulk.

Updating a running case changes its master data directly; contact data (email, phone, address)
goes through a `contact_changed` event instead, because the runtime owns those columns while
it advances the case and applies the event on the next tick. Amounts never change by update:
payments are events.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from engine.cases import CaseSchema, case_values
from engine.clock import naive_utc
from engine.events import record_event
from engine.journeys import published_version
from engine.models import CaseRow, JourneyRow, VersionRow

MAX_BULK = 10_000
CONTACT = ("email", "phone", "street", "postcode", "city")
MASTER = ("debtor_name", "debtor_type", "subdivision", "reference", "attributes", "due_date")
CHUNK = 500  # SQLite allows at most 999 bound parameters in one IN (...)


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
    """The published version new cases start on: the named journey's, or the only one there is."""
    if journey:
        version = published_version(session, journey)
        if version is None:
            raise JourneyNotFound(f"There is no published journey '{journey}'.")
        return version
    keys = list(
        session.scalars(
            select(JourneyRow.key)
            .join(VersionRow)
            .where(VersionRow.status == "published")
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
    if master:
        session.execute(
            update(CaseRow).where(CaseRow.id == row.id).values(**master, updated_at=naive_utc(now))
        )
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
    if row is None:
        version = choose_version(session, journey)
        row = CaseRow(**case_values(data, version, now))
        session.add(row)
        session.flush()
        return row, "created"
    status = _update(session, row, data, now)
    session.refresh(row)
    return row, status


def bulk_upsert(
    session: Session, items: list[Any], journey: str | None, now: datetime
) -> list[ItemResult]:
    """Create or update many cases; each item gets its own result, bad items do not stop others."""
    schema = CaseSchema()
    results: list[ItemResult] = []
    loaded: dict[str, tuple[int, dict[str, Any]]] = {}
    for index, raw in enumerate(items):
        ext = raw.get("external_id") if isinstance(raw, dict) else None
        ext = ext if isinstance(ext, str) else None
        try:
            if not isinstance(raw, dict):
                raise ValidationError({"_schema": ["Each case must be an object."]})
            data = schema.load(raw)
        except ValidationError as exc:
            results.append(ItemResult(index, ext, "invalid", _messages(exc)))
            continue
        if data["external_id"] in loaded:
            results.append(
                ItemResult(index, ext, "invalid", {"external_id": ["Repeated in this request."]})
            )
            continue
        loaded[data["external_id"]] = (index, data)
        results.append(ItemResult(index, data["external_id"], "created"))
    existing = _existing(session, list(loaded))
    new_rows: list[dict[str, Any]] = []
    version: VersionRow | None = None
    for ext, (index, data) in loaded.items():
        row = existing.get(ext)
        try:
            if row is None:
                version = version or choose_version(session, journey)
                new_rows.append(case_values(data, version, now))
            else:
                results[index].status = _update(session, row, data, now)
        except (ValidationError, JourneyNotFound) as exc:
            errors = _messages(exc) if isinstance(exc, ValidationError) else {"journey": [str(exc)]}
            results[index].status, results[index].errors = "invalid", errors
    for start in range(0, len(new_rows), CHUNK):
        session.execute(insert(CaseRow), new_rows[start : start + CHUNK])
    return results


def _existing(session: Session, external_ids: list[str]) -> dict[str, CaseRow]:
    found: dict[str, CaseRow] = {}
    for start in range(0, len(external_ids), CHUNK):
        chunk = external_ids[start : start + CHUNK]
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
    row.due_at, row.updated_at = naive_utc(now), naive_utc(now)
    session.flush()
    return row, version
