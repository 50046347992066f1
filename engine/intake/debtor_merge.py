"""A debtor merged into another, a case moved between debtors, holds on the person kept.

The host finds that two customer ids are one person and merges one debtor into the other
(`merge_debtors`): every case of the merged debtor moves to the debtor that stays, so their
contact history (the outbox rows of those cases) counts for that person from then on, the
person's holds reach the cases of both, and the contact data of the debtor that stays reaches
the moved open cases. The merged row stays behind pointing at the debtor that stays, so a case
or import naming the old id lands there and the same merge asked again is answered again
(idempotent). A case naming another debtor in an upsert moves the same way (`case_moved`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.core.case_status import OPEN_STATUSES
from engine.core.clock import naive_utc
from engine.intake.debtor_holds import FROM_CASE
from engine.intake.debtors import CONTACT, UnknownDebtor, change_debtor, follow_merges, get_debtor
from engine.intake.events import record_event
from engine.storage.models import AuditRow, CaseRow, DebtorRow, EventRow

# Holds on the person, each with the event that starts it and the one that ends it (None: it
# never ends; such a case was handed to a person). The latest of the two decides.
PERSON_HOLDS: dict[str, tuple[str, str | None]] = {
    "insolvency": ("insolvency", None),
    "deceased": ("deceased", None),
    "breathing_space": ("breathing_space_started", "breathing_space_ended"),
    "cease_contact": ("cease_contact", "contact_resumed"),
    "attorney": ("attorney_represented", "attorney_withdrawn"),
}
_FAMILY = {
    kind: family for family, kinds in PERSON_HOLDS.items() for kind in kinds if kind is not None
}


class MergeRefused(ValueError):
    """A merge that cannot be: into itself, a cycle, or a debtor merged elsewhere already."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class MergeResult:
    """What a merge did: the debtor that stays, the cases moved, holds carried, a repeat."""

    debtor: str
    into: str
    cases: tuple[str, ...]
    holds: tuple[str, ...]
    replayed: bool


def surviving(session: Session, row: DebtorRow) -> DebtorRow:
    """The debtor a row stands for now: itself, or the end of its chain of merges."""
    stays = follow_merges(session, row)
    if stays is None:
        raise MergeRefused("into", "The debtor's merges form a cycle.")
    return stays


def active_holds(session: Session, case_ids: Sequence[int]) -> dict[str, EventRow]:
    """The holds on the person in force among these cases: hold -> the event that started it.

    One query over the cases' events; the latest start or end of each hold decides.
    """
    if not case_ids:
        return {}
    rows = session.scalars(
        select(EventRow)
        .where(EventRow.case_id.in_(list(case_ids)), EventRow.type.in_(list(_FAMILY)))
        .order_by(EventRow.occurred_at, EventRow.id)
    )
    found: dict[str, EventRow | None] = {}
    for row in rows:
        family = _FAMILY[row.type]
        found[family] = row if row.type == PERSON_HOLDS[family][0] else None
    return {family: row for family, row in found.items() if row is not None}


def carry_holds(
    session: Session, holds: dict[str, EventRow], cases: Sequence[Any], now: datetime
) -> list[str]:
    """Store each hold's starting event for these cases (open ones only); returns the holds.

    The event names the case it came from, so the tick does not spread it again; its id is
    made of the original event's id and the case's, so carrying it twice stores it once.
    """
    open_cases = [case for case in cases if case.status in OPEN_STATUSES]
    if not holds or not open_cases:
        return []
    origin = {
        case_id: external_id
        for case_id, external_id in session.execute(
            select(CaseRow.id, CaseRow.external_id).where(
                CaseRow.id.in_([row.case_id for row in holds.values()])
            )
        )
    }
    for _, event in sorted(holds.items()):
        payload = dict(event.payload or {})
        payload.setdefault(FROM_CASE, origin.get(event.case_id, ""))
        digest = hashlib.sha256(event.event_id.encode()).hexdigest()[:32]
        for case in open_cases:
            if case.id != event.case_id:
                record_event(
                    session, case.external_id, f"held-{digest}-{case.id}", event.type, payload, now
                )
    return sorted(holds)


def merge_debtors(
    session: Session, external_id: str, into: str, now: datetime, source: str = "api"
) -> MergeResult:
    """Merge the debtor `external_id` into the debtor `into`; audited, idempotent.

    UnknownDebtor naming the id when either is unknown; MergeRefused (with the field) for a
    merge into itself, one that would close a cycle, or a debtor already merged elsewhere.
    """
    row, target = get_debtor(session, external_id), get_debtor(session, into)
    if row is None:
        raise UnknownDebtor(f"There is no debtor with the id '{external_id}'.")
    if target is None:
        raise UnknownDebtor(f"There is no debtor with the id '{into}'.")
    if row.id == target.id:
        raise MergeRefused("into", "A debtor cannot be merged into itself.")
    stays = surviving(session, target)
    if stays.id == row.id:
        raise MergeRefused("into", f"'{into}' was merged into '{external_id}': that is a cycle.")
    if row.merged_into_id is not None:
        if surviving(session, row).id == stays.id:
            return MergeResult(external_id, stays.external_id, (), (), replayed=True)
        raise MergeRefused("debtor", f"'{external_id}' was merged into another debtor already.")
    moving = list(
        session.scalars(select(CaseRow).where(CaseRow.debtor_id == row.id).order_by(CaseRow.id))
    )
    staying = list(
        session.scalars(select(CaseRow).where(CaseRow.debtor_id == stays.id).order_by(CaseRow.id))
    )
    # Holds in force on either side reach the other side's open cases.
    holds = carry_holds(session, active_holds(session, [c.id for c in moving]), staying, now)
    holds += carry_holds(session, active_holds(session, [c.id for c in staying]), moving, now)
    _consent(session, row, stays, now)
    moved = move_cases(session, moving, row, stays, now, source)
    row.merged_into_id, row.merged_at = stays.id, naive_utc(now)
    row.updated_at = naive_utc(now)
    session.add(
        AuditRow(
            at=naive_utc(now),
            case_id=None,
            kind="debtor_merged",
            detail={
                "debtor": external_id,
                "into": stays.external_id,
                "cases": moved,
                "holds": sorted(set(holds)),
                "source": source,
            },
        )
    )
    session.flush()
    carried = tuple(sorted(set(holds)))
    return MergeResult(external_id, stays.external_id, tuple(moved), carried, False)


def move_cases(
    session: Session,
    cases: Sequence[CaseRow],
    source: DebtorRow | None,
    target: DebtorRow,
    now: datetime,
    how: str,
) -> list[str]:
    """Give these cases to `target`, each audited (`case_moved`), its data the debtor's.

    The open ones take the target's name, locale and time zone in one UPDATE and its contact
    data and preferences as events (as a debtor's change reaches their cases).
    """
    if not cases:
        return []
    ids = [case.id for case in cases]
    session.execute(update(CaseRow).where(CaseRow.id.in_(ids)).values(debtor_id=target.id))
    open_ids = [case.id for case in cases if case.status in OPEN_STATUSES]
    if open_ids:
        session.execute(
            update(CaseRow)
            .where(CaseRow.id.in_(open_ids))
            .values(
                debtor_name=target.name,
                locale=target.locale,
                timezone=target.timezone,
                updated_at=naive_utc(now),
            )
        )
    for case in cases:
        session.add(_moved(case, source, target, how, now))
        if case.status in OPEN_STATUSES:
            _align(session, case, target, now)
    session.flush()
    return [case.external_id for case in cases]


def _align(session: Session, case: CaseRow, target: DebtorRow, now: datetime) -> None:
    """The target's contact data, consent and opt-outs for a moved open case, as events."""
    stamp = naive_utc(now).isoformat()
    events: list[tuple[str, dict[str, Any]]] = []
    # What the debtor that stays knows replaces the case's data; what it lacks (None) leaves
    # the case's own value, rather than erasing an address the person still has.
    contact = {
        name: getattr(target, name)
        for name in CONTACT
        if getattr(target, name) is not None and getattr(case, name) != getattr(target, name)
    }
    if contact:
        events.append(("contact_changed", contact))
    prefs, own = target.contact_prefs or {}, case.contact_prefs or {}
    for channel, granted in sorted((prefs.get("consent") or {}).items()):
        if (own.get("consent") or {}).get(channel) is not granted:
            events.append(("consent_changed", {"channel": channel, "granted": granted}))
    for channel in sorted(set(prefs.get("opted_out") or []) - set(own.get("opted_out") or [])):
        events.append(("opted_out", {"channel": channel}))
    for kind, payload in events:
        digest = hashlib.sha256(
            json.dumps([kind, payload, stamp, target.id], sort_keys=True, default=str).encode()
        ).hexdigest()[:20]
        record_event(session, case.external_id, f"moved-{case.id}-{digest}", kind, payload, now)


def _consent(session: Session, row: DebtorRow, stays: DebtorRow, now: datetime) -> None:
    """The person's preferences after a merge: opt-outs of both; consent only where neither
    withdrew it (a 'no' given under either customer id still holds for the person)."""
    mine, theirs = row.contact_prefs or {}, stays.contact_prefs or {}
    consent = dict(mine.get("consent") or {})
    for channel, granted in (theirs.get("consent") or {}).items():
        consent[channel] = granted and consent.get(channel, True)
    opted = sorted({*(mine.get("opted_out") or []), *(theirs.get("opted_out") or [])})
    merged = {**theirs, "consent": consent, "opted_out": opted}
    if merged != theirs:
        change_debtor(session, stays, {"consent": consent, "opted_out": opted}, now, "merge")


def _moved(
    case: CaseRow, before: DebtorRow | None, after: DebtorRow, source: str, now: datetime
) -> AuditRow:
    """The audit row of a case that now belongs to another debtor (a merge or an upsert)."""
    return AuditRow(
        at=naive_utc(now),
        case_id=case.id,
        version_id=case.version_id,
        kind="case_moved",
        detail={
            "from": before.external_id if before is not None else None,
            "to": after.external_id,
            "source": source,
        },
    )


def case_moved(
    session: Session, case: CaseRow, before: int | None, after: DebtorRow, now: datetime
) -> None:
    """An upsert gave a case another debtor: audited, and the new debtor's holds reach it."""
    old = session.get(DebtorRow, before) if before is not None else None
    session.add(_moved(case, old, after, "upsert", now))
    others = session.scalars(
        select(CaseRow.id).where(CaseRow.debtor_id == after.id, CaseRow.id != case.id)
    ).all()
    carry_holds(session, active_holds(session, others), [case], now)


def holds_for_new_cases(session: Session, external_ids: Sequence[str], now: datetime) -> None:
    """New cases of a debtor under a hold on the person (insolvent, deceased, in a breathing
    space, asked for no contact, represented) take the hold, as that debtor's other cases did.

    Two queries for a whole chunk of new cases, however many debtors: their debtors, then the
    (rare) events about those persons.
    """
    new = session.execute(
        select(CaseRow.id, CaseRow.external_id, CaseRow.debtor_id, CaseRow.status).where(
            CaseRow.external_id.in_(list(external_ids)), CaseRow.debtor_id.is_not(None)
        )
    ).all()
    if not new:
        return
    rows = session.execute(
        select(EventRow, CaseRow.debtor_id)
        .join(CaseRow, CaseRow.id == EventRow.case_id)
        .where(
            CaseRow.debtor_id.in_({case.debtor_id for case in new}),
            CaseRow.id.not_in([case.id for case in new]),
            EventRow.type.in_(list(_FAMILY)),
        )
        .order_by(EventRow.occurred_at, EventRow.id)
    ).all()
    found: dict[int, dict[str, EventRow | None]] = {}
    for event, debtor_id in rows:
        family = _FAMILY[event.type]
        start = event.type == PERSON_HOLDS[family][0]
        found.setdefault(debtor_id, {})[family] = event if start else None
    for debtor_id, families in found.items():
        holds = {family: event for family, event in families.items() if event is not None}
        mine = [case for case in new if case.debtor_id == debtor_id]
        carry_holds(session, holds, mine, now)
