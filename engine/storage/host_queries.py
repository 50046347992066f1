"""Reads for host systems: cases by filter with cursor pagination, timelines and messages."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.clock import naive_utc
from engine.storage.models import AuditRow, CaseRow, DebtorRow, JourneyRow, OutboxRow, VersionRow


class BadCursor(ValueError):
    """A cursor this server did not hand out."""


@dataclass(frozen=True)
class CaseFilter:
    """What a case list asks for."""

    status: str | None = None
    journey: str | None = None
    node: str | None = None
    updated_since: datetime | None = None


@dataclass(frozen=True)
class CaseView:
    """A case with the journey and version it is on."""

    case: CaseRow
    journey: str
    version: int
    debtor: str | None = None  # the debtor's customer id, None when the case is its own person


def encode_cursor(last_id: int) -> str:
    """An opaque cursor for the page after `last_id`."""
    return base64.urlsafe_b64encode(f"c{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id a cursor stands for; BadCursor when it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadCursor("Not a cursor this server handed out.") from exc
    if not text.startswith("c") or not text[1:].isdigit() or len(text) > 20:
        raise BadCursor("Not a cursor this server handed out.")
    return int(text[1:])


def _with_journey() -> Any:
    return (
        select(CaseRow, JourneyRow.key, VersionRow.number, DebtorRow.external_id)
        .join(VersionRow, VersionRow.id == CaseRow.version_id)
        .join(JourneyRow, JourneyRow.id == VersionRow.journey_id)
        .outerjoin(DebtorRow, DebtorRow.id == CaseRow.debtor_id)
    )


def list_cases(
    session: Session, filters: CaseFilter, limit: int, after: int | None = None
) -> tuple[list[CaseView], str | None]:
    """A page of cases in id order and the cursor of the next page (None at the end)."""
    query = _with_journey().order_by(CaseRow.id).limit(limit + 1)
    if after is not None:
        query = query.where(CaseRow.id > after)
    if filters.status:
        query = query.where(CaseRow.status == filters.status)
    if filters.journey:
        query = query.where(JourneyRow.key == filters.journey)
    if filters.node:
        query = query.where(CaseRow.node_id == filters.node)
    if filters.updated_since:
        query = query.where(CaseRow.updated_at >= naive_utc(filters.updated_since))
    rows = [CaseView(c, k, n, d) for c, k, n, d in session.execute(query).all()]
    if len(rows) > limit:
        return rows[:limit], encode_cursor(rows[limit - 1].case.id)
    return rows, None


def get_case(session: Session, external_id: str) -> CaseView | None:
    """One case by the host's external id."""
    row = session.execute(_with_journey().where(CaseRow.external_id == external_id)).first()
    return CaseView(*row) if row else None


def timeline(session: Session, case_id: int, limit: int, after: int | None = None) -> list[Any]:
    """Audit rows of a case in order."""
    query = select(AuditRow).where(AuditRow.case_id == case_id).order_by(AuditRow.id).limit(limit)
    if after is not None:
        query = query.where(AuditRow.id > after)
    return list(session.scalars(query))


def messages(session: Session, case_id: int, status: str | None = None) -> list[OutboxRow]:
    """Outbox rows of a case, oldest first."""
    query = select(OutboxRow).where(OutboxRow.case_id == case_id).order_by(OutboxRow.id)
    if status:
        query = query.where(OutboxRow.status == status)
    return list(session.scalars(query))
