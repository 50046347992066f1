"""The sandbox dispatcher: renders due outbox messages and stores what would have been sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from engine.clock import naive_utc
from engine.db import Database
from engine.journeys import VersionCache
from engine.models import AuditRow, CaseRow, OutboxRow
from engine.rendering import DEFAULT_CREDITOR, RenderError, case_context, render_message
from engine.settings import load_settings


@dataclass
class DispatchReport:
    """What one dispatch run did."""

    sandboxed: int = 0
    failed: int = 0


def recipient(case: CaseRow, channel: str) -> str | None:
    """Where a message on this channel goes."""
    if channel == "email":
        return case.email
    if channel == "sms":
        return case.phone
    if channel == "letter" and case.street:
        return f"{case.debtor_name}, {case.street}, {case.postcode or ''} {case.city or ''}".strip()
    if channel == "webhook":
        return "host"
    return None


class SandboxDispatcher:
    """Drains the outbox without contacting anyone: renders and stores each message."""

    def __init__(
        self,
        db: Database,
        batch_size: int = 500,
        portal_base_url: str | None = None,
        creditor: str = DEFAULT_CREDITOR,
    ) -> None:
        self.db = db
        self.batch_size = batch_size
        self.portal_base_url = portal_base_url or load_settings().portal_base_url
        self.creditor = creditor
        self.versions = VersionCache()

    def dispatch(self, now: datetime) -> DispatchReport:
        """Render every pending message that is due; each batch commits on its own."""
        report = DispatchReport()
        while True:
            with self.db.transaction() as session:
                rows = session.execute(
                    select(OutboxRow, CaseRow)
                    .join(CaseRow, CaseRow.id == OutboxRow.case_id)
                    .where(OutboxRow.status == "pending", OutboxRow.not_before <= naive_utc(now))
                    .order_by(OutboxRow.id)
                    .limit(self.batch_size)
                ).all()
                if not rows:
                    return report
                updates, audits = [], []
                for message, case in rows:
                    values = self._render(session, message, case, now)
                    updates.append({"id": message.id, **values})
                    audits.append(_audit(message, values, now))
                    if values["status"] == "sandboxed":
                        report.sandboxed += 1
                    else:
                        report.failed += 1
                session.execute(update(OutboxRow), updates)
                session.add_all(AuditRow(**a) for a in audits)

    def _render(
        self, session: Any, message: OutboxRow, case: CaseRow, now: datetime
    ) -> dict[str, Any]:
        values: dict[str, Any] = {
            "recipient": recipient(case, message.channel),
            "attempts": message.attempts + 1,
            "sent_at": naive_utc(now),
        }
        if message.channel == "webhook":
            return {**values, "status": "sandboxed", "body": str(message.payload)}
        version = self.versions.get(session, message.version_id)
        context = case_context(case, now, self.portal_base_url, self.creditor)
        try:
            rendered = render_message(
                version.journey, message.template or "", message.tone or 1, case.locale, context
            )
        except RenderError as exc:
            return {**values, "status": "failed", "reason": str(exc), "sent_at": None}
        return {
            **values,
            "status": "sandboxed",
            "subject": rendered.subject,
            "body": rendered.body,
            "html": rendered.html,
        }


def _audit(message: OutboxRow, values: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "at": naive_utc(now),
        "case_id": message.case_id,
        "version_id": message.version_id,
        "node_id": message.node_id,
        "kind": "message" if values["status"] == "sandboxed" else "message_failed",
        "rule": None,
        "detail": {
            "outbox_id": message.id,
            "channel": message.channel,
            "template": message.template,
            "status": values["status"],
            "reason": values.get("reason"),
        },
    }
