"""What staff see of a person: their cases, the combined contact history, holds, contact data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.channels import CHANNELS
from engine.intake.debtor_merge import PERSON_HOLDS, active_holds
from engine.intake.debtors import follow_merges
from engine.intake.hold_until import hold_until
from engine.storage.models import CaseRow, DebtorRow, OutboxRow

# The debtor page shows the newest contacts first, this many (a person's history is short;
# a case page shows each case's whole timeline).
HISTORY_LIMIT = 200


@dataclass(frozen=True)
class DebtorContact:
    """One message to the person, with the case it was about."""

    message: OutboxRow
    case_id: int
    case_external_id: str


@dataclass(frozen=True)
class DebtorPage:
    """A debtor with every case, their messages newest first, holds in force, merged ids."""

    debtor: DebtorRow
    cases: list[CaseRow]
    contacts: list[DebtorContact]
    holds: list[str]
    merged: list[str]
    consent: dict[str, Any]
    opted_out: list[str]
    # A hold's last day, where the event that started it named one and a day ends it (not
    # insolvency or death): hold -> day (engine/intake/hold_until.py).
    holds_until: dict[str, date] = field(default_factory=dict)


def debtor_page(session: Session, debtor_id: int) -> DebtorPage | None:
    """The page of a debtor by row id (a merged one: the debtor that stays), or None."""
    row = session.get(DebtorRow, debtor_id)
    if row is None:
        return None
    row = follow_merges(session, row) or row
    cases = list(
        session.scalars(select(CaseRow).where(CaseRow.debtor_id == row.id).order_by(CaseRow.id))
    )
    contacts = [
        DebtorContact(message, case_id, external_id)
        for message, case_id, external_id in session.execute(
            select(OutboxRow, CaseRow.id, CaseRow.external_id)
            .join(CaseRow, CaseRow.id == OutboxRow.case_id)
            .where(CaseRow.debtor_id == row.id, OutboxRow.channel.in_(tuple(CHANNELS)))
            .order_by(OutboxRow.id.desc())
            .limit(HISTORY_LIMIT)
        )
    ]
    merged = list(
        session.scalars(
            select(DebtorRow.external_id)
            .where(DebtorRow.merged_into_id == row.id)
            .order_by(DebtorRow.external_id)
        )
    )
    prefs = row.contact_prefs or {}
    holds = active_holds(session, [case.id for case in cases])
    until = {hold: hold_until(event.payload) for hold, event in holds.items()}
    return DebtorPage(
        debtor=row,
        cases=cases,
        contacts=contacts,
        holds=sorted(holds),
        holds_until={
            hold: day
            for hold, day in until.items()
            if day is not None and PERSON_HOLDS[hold][1] is not None
        },
        merged=merged,
        consent=dict(prefs.get("consent") or {}),
        opted_out=list(prefs.get("opted_out") or []),
    )
