"""Read queries the designer needs beyond the engine's API: pure SQLAlchemy reads on a Session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, not_, or_, select
from sqlalchemy.orm import Session

from engine.storage.api_models import WebhookDeliveryRow, WebhookSubscriptionRow
from engine.storage.models import AuditRow, CaseRow, JourneyRow, OutboxRow, VersionRow

DEFERRED = "deferred:"  # the dispatcher's reason prefix for a message held back by the policy


@dataclass(frozen=True)
class JourneySummary:
    """One line of the journeys list."""

    key: str
    name: str
    latest: int
    status: str
    versions: int
    cases_running: int
    updated_at: datetime


def list_journeys(session: Session) -> list[JourneySummary]:
    """Every journey with its newest version, status and number of cases not closed."""
    newest = (
        select(VersionRow.journey_id, func.max(VersionRow.number).label("latest"))
        .group_by(VersionRow.journey_id)
        .subquery()
    )
    running = (
        select(VersionRow.journey_id, func.count(CaseRow.id).label("running"))
        .join(CaseRow, CaseRow.version_id == VersionRow.id)
        .where(CaseRow.status != "closed")
        .group_by(VersionRow.journey_id)
        .subquery()
    )
    rows = session.execute(
        select(JourneyRow, VersionRow, newest.c.latest, running.c.running)
        .join(newest, newest.c.journey_id == JourneyRow.id)
        .join(
            VersionRow,
            (VersionRow.journey_id == JourneyRow.id) & (VersionRow.number == newest.c.latest),
        )
        .outerjoin(running, running.c.journey_id == JourneyRow.id)
        .order_by(JourneyRow.name)
    ).all()
    return [
        JourneySummary(
            key=j.key,
            name=j.name,
            latest=latest,
            status=v.status,
            versions=latest,
            cases_running=count or 0,
            updated_at=v.created_at,
        )
        for j, v, latest, count in rows
    ]


def journey_by_key(session: Session, key: str) -> JourneyRow | None:
    """The journey with this key."""
    return session.scalar(select(JourneyRow).where(JourneyRow.key == key))


def list_versions(session: Session, key: str) -> list[VersionRow]:
    """The versions of a journey, newest first."""
    return list(
        session.scalars(
            select(VersionRow)
            .join(JourneyRow)
            .where(JourneyRow.key == key)
            .order_by(VersionRow.number.desc())
        )
    )


def get_version(session: Session, key: str, number: int | None = None) -> VersionRow | None:
    """One version of a journey by number, or its newest when `number` is None."""
    query = select(VersionRow).join(JourneyRow).where(JourneyRow.key == key)
    if number is None:
        query = query.order_by(VersionRow.number.desc()).limit(1)
    else:
        query = query.where(VersionRow.number == number)
    return session.scalar(query)


def cases_per_version(session: Session, key: str) -> dict[int, int]:
    """Version number -> cases on it that are not closed."""
    rows = session.execute(
        select(VersionRow.number, func.count(CaseRow.id))
        .join(JourneyRow)
        .join(CaseRow, CaseRow.version_id == VersionRow.id)
        .where(JourneyRow.key == key, CaseRow.status != "closed")
        .group_by(VersionRow.number)
    ).all()
    return {number: count for number, count in rows}


@dataclass(frozen=True)
class CaseSummary:
    """One line of a case search."""

    case: CaseRow
    journey_key: str
    journey_name: str
    version: int


def search_cases(session: Session, text: str = "", limit: int = 50) -> list[CaseSummary]:
    """Cases whose external id, reference, debtor name or email contains `text`, newest first."""
    query = (
        select(CaseRow, JourneyRow.key, JourneyRow.name, VersionRow.number)
        .join(VersionRow, VersionRow.id == CaseRow.version_id)
        .join(JourneyRow, JourneyRow.id == VersionRow.journey_id)
        .order_by(CaseRow.id.desc())
        .limit(limit)
    )
    text = text.strip()
    if text:
        pattern = f"%{text.lower()}%"
        query = query.where(
            or_(
                func.lower(CaseRow.external_id).like(pattern),
                func.lower(CaseRow.reference).like(pattern),
                func.lower(CaseRow.debtor_name).like(pattern),
                func.lower(CaseRow.email).like(pattern),
            )
        )
    return [CaseSummary(c, k, n, v) for c, k, n, v in session.execute(query).all()]


# The case list's sort keys: each ends with the id so that equal values keep one order.
CASE_SORTS = ("due", "amount", "step", "status")
CASES_PER_PAGE = 50


@dataclass(frozen=True)
class CaseListQuery:
    """What the designer's case list asks for: text, filters, a sort and a page (from 1)."""

    text: str = ""
    journey: str | None = None
    step: str | None = None
    status: str | None = None
    hold: bool | None = None
    country: str | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    due_from: date | None = None
    due_to: date | None = None
    sort: str | None = None  # one of CASE_SORTS, or None for newest first
    descending: bool = False
    page: int = 1
    per_page: int = CASES_PER_PAGE


@dataclass(frozen=True)
class CaseListRow:
    """One line of the case list: the case, its journey and the label of the step it is on."""

    case: CaseRow
    journey_key: str
    journey_name: str
    version: int
    step_label: str


@dataclass(frozen=True)
class CasePage:
    """One page of the case list and how many cases match in all."""

    rows: list[CaseListRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """The number of pages (at least one, so that "page 1 of 1" reads right when empty)."""
        return max(1, -(-self.total // self.per_page))


def _case_conditions(q: CaseListQuery) -> list[ColumnElement[bool]]:
    """The WHERE of a case list on the cases table alone (the journey through a sub-select)."""
    where: list[ColumnElement[bool]] = []
    text = q.text.strip()
    if text:
        pattern = f"%{text.lower()}%"
        where.append(
            or_(
                func.lower(CaseRow.external_id).like(pattern),
                func.lower(CaseRow.reference).like(pattern),
                func.lower(CaseRow.debtor_name).like(pattern),
                func.lower(CaseRow.email).like(pattern),
            )
        )
    if q.journey:
        versions = select(VersionRow.id).join(JourneyRow).where(JourneyRow.key == q.journey)
        where.append(CaseRow.version_id.in_(versions))
    if q.step:
        where.append(CaseRow.node_id == q.step)
    if q.status:
        where.append(CaseRow.status == q.status)
    if q.hold is not None:
        where.append(CaseRow.hold_reason.is_not(None) if q.hold else CaseRow.hold_reason.is_(None))
    if q.country:
        where.append(CaseRow.country == q.country.upper())
    if q.amount_min is not None:
        where.append(CaseRow.amount_open >= q.amount_min)
    if q.amount_max is not None:
        where.append(CaseRow.amount_open <= q.amount_max)
    if q.due_from is not None:
        where.append(CaseRow.due_date >= q.due_from)
    if q.due_to is not None:
        where.append(CaseRow.due_date <= q.due_to)
    return where


def _case_order(q: CaseListQuery) -> list[Any]:
    columns = {
        "due": CaseRow.due_date,
        "amount": CaseRow.amount_open,
        "step": CaseRow.node_id,
        "status": CaseRow.status,
    }
    if q.sort is None:
        return [CaseRow.id.desc()]
    column = columns[q.sort]
    if q.descending:
        return [column.desc(), CaseRow.id.desc()]
    return [column.asc(), CaseRow.id.asc()]


def step_labels(document: dict[str, Any]) -> dict[str, str]:
    """Node id -> the label its author gave it in a journey document (the id when none)."""
    nodes = document.get("nodes") or []
    return {
        str(n["id"]): str(n.get("label") or n["id"])
        for n in nodes
        if isinstance(n, dict) and n.get("id")
    }


def case_page_statement(q: CaseListQuery) -> Any:
    """The SELECT of one page of the case list (its own function so tests can EXPLAIN it)."""
    if q.sort is not None and q.sort not in CASE_SORTS:
        raise ValueError(f"unknown sort {q.sort!r}")
    return (
        select(CaseRow, JourneyRow.key, JourneyRow.name, VersionRow.number)
        .join(VersionRow, VersionRow.id == CaseRow.version_id)
        .join(JourneyRow, JourneyRow.id == VersionRow.journey_id)
        .where(*_case_conditions(q))
        .order_by(*_case_order(q))
        .offset((max(1, q.page) - 1) * q.per_page)
        .limit(q.per_page)
    )


def list_case_page(session: Session, q: CaseListQuery) -> CasePage:
    """A page of cases matching `q`, in its sort order, with the total that match.

    Filters and count run on the cases table alone; the page's versions are read once each for
    their step labels. Sorts end with the id, so a page boundary never repeats or skips a case.
    """
    if q.sort is not None and q.sort not in CASE_SORTS:
        raise ValueError(f"unknown sort {q.sort!r}")
    where = _case_conditions(q)
    total = session.scalar(select(func.count()).select_from(CaseRow).where(*where)) or 0
    page = max(1, q.page)
    found = session.execute(case_page_statement(q)).all()
    version_ids = {c.version_id for c, *_ in found}
    labels = {
        vid: step_labels(doc)
        for vid, doc in session.execute(
            select(VersionRow.id, VersionRow.document).where(VersionRow.id.in_(version_ids))
        ).all()
    }
    rows = [
        CaseListRow(c, k, n, v, labels.get(c.version_id, {}).get(c.node_id, c.node_id))
        for c, k, n, v in found
    ]
    return CasePage(rows=rows, total=total, page=page, per_page=q.per_page)


def journey_names(session: Session) -> list[tuple[str, str]]:
    """(key, name) of every journey by name: the case list's journey filter (no case counts)."""
    rows = session.execute(select(JourneyRow.key, JourneyRow.name).order_by(JourneyRow.name))
    return [(key, name) for key, name in rows.all()]


def get_case(session: Session, case_id: int) -> CaseSummary | None:
    """One case with its journey and version."""
    row = session.execute(
        select(CaseRow, JourneyRow.key, JourneyRow.name, VersionRow.number)
        .join(VersionRow, VersionRow.id == CaseRow.version_id)
        .join(JourneyRow, JourneyRow.id == VersionRow.journey_id)
        .where(CaseRow.id == case_id)
    ).first()
    return CaseSummary(*row) if row else None


@dataclass(frozen=True)
class TimelineEntry:
    """One audit row of a case, with the outbox message it refers to (if any)."""

    audit: AuditRow
    message: OutboxRow | None


def case_timeline(session: Session, case_id: int) -> list[TimelineEntry]:
    """The audit rows of a case in order, each message joined to its outbox row."""
    audits = list(
        session.scalars(select(AuditRow).where(AuditRow.case_id == case_id).order_by(AuditRow.id))
    )
    messages = {
        m.id: m for m in session.scalars(select(OutboxRow).where(OutboxRow.case_id == case_id))
    }
    return [TimelineEntry(a, _message_of(a.detail, messages)) for a in audits]


def _message_of(detail: dict[str, Any] | None, messages: dict[int, OutboxRow]) -> OutboxRow | None:
    outbox_id = (detail or {}).get("outbox_id")
    return messages.get(outbox_id) if isinstance(outbox_id, int) else None


def case_messages(session: Session, case_id: int) -> list[OutboxRow]:
    """Every outbox row of a case, oldest first."""
    return list(
        session.scalars(
            select(OutboxRow).where(OutboxRow.case_id == case_id).order_by(OutboxRow.id)
        )
    )


def _status_filter(query: Any, status: str) -> Any:
    """Narrow an outbox query to one status of the filter (deferred ones by their reason)."""
    if status == "deferred":
        return query.where(OutboxRow.status == "pending", OutboxRow.reason.like(f"{DEFERRED}%"))
    if status.startswith(DEFERRED):
        return query.where(OutboxRow.status == "pending", OutboxRow.reason == status)
    if status == "pending":  # waiting to be sent: not held back by the contact policy
        return query.where(
            OutboxRow.status == "pending",
            or_(OutboxRow.reason.is_(None), not_(OutboxRow.reason.like(f"{DEFERRED}%"))),
        )
    return query.where(OutboxRow.status == status)


def list_outbox(
    session: Session, channel: str | None = None, status: str | None = None, limit: int = 100
) -> list[tuple[OutboxRow, CaseRow]]:
    """Outbox rows with their cases, newest first, by channel and status."""
    query = (
        select(OutboxRow, CaseRow)
        .join(CaseRow, CaseRow.id == OutboxRow.case_id)
        .order_by(OutboxRow.id.desc())
        .limit(limit)
    )
    if channel:
        query = query.where(OutboxRow.channel == channel)
    if status:
        query = _status_filter(query, status)
    return [(o, c) for o, c in session.execute(query).all()]


def deferral_reasons(session: Session) -> list[str]:
    """The deferral reasons ('deferred:quiet_hours' ...) pending messages have right now."""
    rows = session.scalars(
        select(OutboxRow.reason)
        .where(OutboxRow.status == "pending", OutboxRow.reason.like(f"{DEFERRED}%"))
        .distinct()
    )
    return sorted(r for r in rows if r)


def list_webhook_subscriptions(session: Session) -> list[WebhookSubscriptionRow]:
    """Every webhook subscription, active or not, oldest first."""
    query = select(WebhookSubscriptionRow).order_by(WebhookSubscriptionRow.id)
    return list(session.scalars(query))


def list_webhook_deliveries(
    session: Session,
    subscription_id: int | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[tuple[WebhookDeliveryRow, WebhookSubscriptionRow]]:
    """Webhook deliveries with their subscriptions, newest first, by subscription and status."""
    query = (
        select(WebhookDeliveryRow, WebhookSubscriptionRow)
        .join(WebhookSubscriptionRow)
        .order_by(WebhookDeliveryRow.id.desc())
        .limit(limit)
    )
    if subscription_id is not None:
        query = query.where(WebhookDeliveryRow.subscription_id == subscription_id)
    if status:
        query = query.where(WebhookDeliveryRow.status == status)
    return [(d, s) for d, s in session.execute(query).all()]


def get_webhook_delivery(
    session: Session, delivery_id: int
) -> tuple[WebhookDeliveryRow, WebhookSubscriptionRow] | None:
    """One webhook delivery with its subscription."""
    delivery = session.get(WebhookDeliveryRow, delivery_id)
    if delivery is None:
        return None
    return delivery, session.get(WebhookSubscriptionRow, delivery.subscription_id)
