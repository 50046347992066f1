"""The dispatcher: drains the outbox through the contact-policy guard to the connectors.

Each due message is claimed (status 'sending' with a lease) in a short transaction, sent outside
any transaction, and its result written in another before its sending thread hands over the next
message. A crash between the provider's acceptance and the result write leaves the row
'sending'; when the lease runs out it is sent again with the same idempotency key (the outbox
id), which providers that honour keys drop as a duplicate. Such a crash repeats at most one
message per sending thread. A 'sending' row counts as a contact for the guard, and a case's
later message waits while an earlier one is pending or sending.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, insert, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from connectors.base import Attachment, temporary
from engine.access import portal_links
from engine.access.portal_links import portal_url
from engine.analytics.writes import add_messages
from engine.authoring.versions import VersionCache
from engine.contact_policy import (
    ContactContext,
    ContactPolicy,
    Defer,
    SentRecord,
    Suppress,
    decide,
    profile_for,
)
from engine.core.channels import CHANNELS
from engine.core.clock import as_utc, naive_utc
from engine.core.counts import Counts
from engine.core.jurisdictions import FALLBACK, jurisdiction_of
from engine.core.settings import load_settings
from engine.delivery import consolidation, crash_points
from engine.delivery.config import DeliveryConfig, PolicyOverride, load_delivery_config
from engine.delivery.consolidation import COMBINED, COMBINING, Member, Plan
from engine.delivery.group_commit import GroupCommit
from engine.delivery.outgoing import connector_message, sms_status_callback_url
from engine.delivery.rendering import (
    RenderError,
    case_context,
    case_item,
    render_message,
    template_limits,
)
from engine.delivery.tasks import Guard, drain_tasks
from engine.intake.documents import load_document
from engine.storage.audit_chain import chain_dicts
from engine.storage.db import Database, in_chunks
from engine.storage.models import CONTACT_STATUSES, AuditRow, CaseRow, OutboxRow

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
HISTORY = timedelta(days=31)
# A message in one of these statuses is not resolved yet: the case's later messages wait for it.
UNRESOLVED = ("pending", "sending")


@dataclass
class DispatchReport(Counts):
    """What one dispatch run did."""

    sent: int = 0
    deferred: int = 0
    suppressed: int = 0
    failed: int = 0
    retried: int = 0
    dead: int = 0
    tasks: int = 0  # tasks made for people (engine/delivery/tasks.py)

    @property
    def sandboxed(self) -> int:
        """Messages handed to a connector (kept for the sandbox-era callers)."""
        return self.sent


@dataclass
class _Claimed:
    message: OutboxRow
    case: CaseRow
    outgoing: Any
    # This send's attempt number, fixed at the claim: the claim's bulk UPDATE also refreshes
    # message.attempts in the session, so message.attempts + 1 later would count it twice.
    attempt: int
    result: Any = None
    # The rows whose content this message carries besides its own (engine/delivery/consolidation).
    absorbed: list[Member] = field(default_factory=list)


@dataclass
class _Pass:
    now: datetime
    report: DispatchReport = field(default_factory=DispatchReport)
    updates: list[dict[str, Any]] = field(default_factory=list)
    audits: list[dict[str, Any]] = field(default_factory=list)
    new_rows: list[dict[str, Any]] = field(default_factory=list)
    # Messages handed to a channel, for the case facts: (case id, channel, cost).
    sent: list[tuple[int, str, Any]] = field(default_factory=list)
    # Template variants that went over their render budget in this dispatch run, with the
    # reason: their other messages are dead-lettered without rendering again, so one looping
    # template costs one budget per run, not one per message. Shared by the run's batches.
    over_budget: dict[tuple[Any, ...], str] = field(default_factory=dict)

    def audit(self, row: OutboxRow, kind: str, **detail: Any) -> None:
        self.audits.append(
            {
                "at": naive_utc(self.now),
                "case_id": row.case_id,
                "version_id": row.version_id,
                "node_id": row.node_id,
                "kind": kind,
                "rule": None,
                "detail": {
                    "outbox_id": row.id,
                    "channel": row.channel,
                    "template": row.template,
                    **detail,
                },
            }
        )


# Whose contacts are counted together: ("d", debtor id) or, for a case without a debtor, ("c",
# case id): such a case is its own person, as before debtors existed.
Person = tuple[str, int]


def person_of(case: CaseRow) -> Person:
    """The person a case's messages reach: its debtor, else the case itself."""
    return ("d", case.debtor_id) if case.debtor_id is not None else ("c", case.id)


@dataclass
class _Contacts:
    """One person's recent contacts, each with the cases it was about (a combined message
    speaks for several: one contact for the person, one for each of its debts)."""

    sent: list[tuple[frozenset[int], str, datetime]] = field(default_factory=list)

    def add(
        self, case_id: int, channel: str, at: datetime, also: frozenset[int] = frozenset()
    ) -> None:
        self.sent.append((also | {case_id}, channel, at))

    def records_for(self, case_id: int) -> list[SentRecord]:
        """The history as the guard reads it for one case: same_debt marks that case's own."""
        return [
            SentRecord(channel, at, same_debt=case_id in cases) for cases, channel, at in self.sent
        ]


def backoff(attempts: int) -> timedelta:
    """1, 4, 16, 64 minutes ... capped at 6 hours: gentle on a provider that is down."""
    return min(timedelta(minutes=4 ** max(attempts - 1, 0)), timedelta(hours=6))


class Dispatcher:
    """Sends due outbox messages; one per process is enough, several are safe."""

    def __init__(
        self,
        db: Database,
        config: DeliveryConfig | None = None,
        batch_size: int | None = None,
        max_attempts: int = 6,
        workers: int | None = None,
        portal_base_url: str | None = None,
        connectors: dict[str, Any] | None = None,
        public_url: str | None = None,
        link_secret: str | None = None,
    ) -> None:
        settings = load_settings()
        self.db = db
        self.config = config or load_delivery_config()
        self.connectors = connectors or self.config.connectors()
        self.batch_size = max(1, batch_size or settings.dispatch_batch)
        self.max_attempts = max_attempts
        self.portal_base_url = (portal_base_url or settings.portal_base_url).rstrip("/")
        # The key the portal links are signed with (the installation's session key).
        self.link_secret = portal_links.link_secret(link_secret)
        self.sms_status_callback_url = sms_status_callback_url(
            public_url or settings.public_url,
            self.config.profiles.get("sms", {}).get("provider"),
        )
        self.versions = VersionCache()
        self.template_limits = template_limits()
        self.workers = max(1, workers or settings.dispatch_workers)
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="dispatch")
        self._policies: dict[tuple[str, str, str | None], ContactPolicy] = {}

    def close(self) -> None:
        """Stop the worker threads and close connectors that keep sessions open."""
        self._pool.shutdown(wait=True)
        for connector in self.connectors.values():
            close = getattr(connector, "close", None)
            if callable(close):
                close()

    def dispatch(self, now: datetime) -> DispatchReport:
        """Send everything due at `now`, batch by batch.

        Pipelined: while the worker threads send one batch, this thread claims the next (guard,
        render, lease: CPU and database work). Every row is leased ('sending') in its claim
        transaction before it is handed to a connector, so the overlap changes nothing about
        exactly-once, and the batch in flight counts as contacts for the next claim's guard.
        Each sending thread writes a message's outcome (grouped with the other threads', see
        `GroupCommit`) before it hands over its next message. A case's later message is claimed
        only once the earlier one is resolved, so after a batch that handed anything over the
        due rows are looked at once more (an email and a letter queued together both go now).
        """
        report, lock, stop = DispatchReport(), threading.Lock(), threading.Event()
        run = _Pass(as_utc(now))
        # Task steps first: a call made now counts as a contact for the messages claimed next.
        made = drain_tasks(self.db, run.now, self._task_guard(), self.versions)
        report.tasks, report.deferred = made.created, made.deferred
        report.suppressed = made.suppressed

        def record(group: list[_Claimed]) -> None:
            done = _Pass(run.now)
            self._record(group, done)
            with lock:
                report.add(done.report)

        commits = GroupCommit(record)
        # Where each status's next read starts (behind the last row this run looked at), and
        # whether a claim since the last look from the queue's start began behind it.
        after: dict[str, tuple[datetime, int]] = {}
        behind = False

        def claim(run: _Pass) -> tuple[list[_Claimed], int]:
            nonlocal behind
            behind = behind or bool(after)
            return self._claim(run, after)

        claimed, seen = claim(run)
        while seen or behind:
            if not seen:  # the reads behind the start found the end: rows before it are left
                after.clear()
                behind = False
                claimed, seen = claim(run)
                continue
            with lock:
                report.add(run.report)
            sending = [self._pool.submit(self._hand_over, c, commits, stop) for c in claimed]
            if seen < self.batch_size:
                _collect(sending)
                if not claimed and not behind:
                    break
                # What was just handed over may be what a case's next message waited for, and
                # rows before the reads' start were not looked at: once more, from the start.
                after.clear()
                behind = False
                run = _Pass(run.now, over_budget=run.over_budget)
                claimed, seen = claim(run)
                continue
            run = _Pass(run.now, over_budget=run.over_budget)
            try:
                claimed, seen = claim(run)
            except Exception:  # the batch in flight still records itself; then give up
                _collect(sending)
                raise
            _collect(sending)
        return report

    # -- claim: guard, render, lease ---------------------------------------------------------

    def _claim(
        self, run: _Pass, after: dict[str, tuple[datetime, int]]
    ) -> tuple[list[_Claimed], int]:
        with self.db.transaction() as session:
            rows = self._due(session, run.now, after)
            for message, _ in rows:  # the next claim of this run starts behind these
                key = (message.not_before, message.id)
                after[message.status] = max(after.get(message.status, key), key)
            history = self._history(session, rows, run.now)
            combine = consolidation.plan(
                session, rows, run.now, lambda v: self.versions.get(session, v).journey
            )
            claimed = []
            for message, case in rows:
                if combine is not None:
                    if message.id in combine.taken:  # it goes out in another row's message
                        continue
                    combine.taken.add(message.id)
                contacts = history[person_of(case)]
                item = self._prepare(session, message, case, contacts, run, combine)
                if item is not None:
                    claimed.append(item)
                elif combine is not None and message.id in combine.linked:
                    self._release_if_suppressed(message, combine.linked[message.id], run)
            self._flush(session, run)
        if claimed:
            crash_points.reached("claimed")
        return claimed, len(rows)

    def _due(
        self,
        session: Session,
        now: datetime,
        after: dict[str, tuple[datetime, int]] | None = None,
    ) -> list[tuple[OutboxRow, CaseRow]]:
        """Due rows, each its case's earliest unresolved message: a case's messages go in order.

        The earliest `batch_size` of each unresolved status, merged: each status reads the
        (status, not_before, id) index in order and stops after its rows, where one query over
        both statuses would read, join and sort every due row for each claim. The earliest of
        the merged lists are the earliest of all; the few extra rows locked on PostgreSQL
        (expired leases, rarely any) are left as they are when the claim commits.

        Within one run each status's read starts behind the last row the run looked at
        (`after`): on PostgreSQL every claimed row leaves a dead entry in that index which
        cannot be cleaned while another worker's claim transaction is open, so a read from
        the queue's start walked over every message claimed so far, each claim longer than
        the last. A row queued behind the start meanwhile waits for the run's final look from
        the start, or the next run.
        """
        channels = tuple(CHANNELS)  # webhooks go their own way
        earlier = aliased(OutboxRow)
        behind_earlier = exists().where(
            earlier.case_id == OutboxRow.case_id,
            earlier.id < OutboxRow.id,
            earlier.channel.in_(channels),
            earlier.status.in_((*UNRESOLVED, COMBINING)),
        )
        postgres = session.get_bind().dialect.name == "postgresql"
        found: list[tuple[OutboxRow, CaseRow]] = []
        for status in UNRESOLVED:
            query = (
                select(OutboxRow, CaseRow)
                .join(CaseRow, CaseRow.id == OutboxRow.case_id)
                .where(
                    OutboxRow.status == status,
                    OutboxRow.not_before <= naive_utc(now),
                    OutboxRow.channel.in_(channels),
                    ~behind_earlier,
                )
                .where(*_behind((after or {}).get(status)))
                .order_by(OutboxRow.not_before, OutboxRow.id)
                .limit(self.batch_size)
            )
            if postgres:
                query = query.with_for_update(of=OutboxRow, skip_locked=True)
            found.extend((m, c) for m, c in session.execute(query))
        found.sort(key=lambda pair: (pair[0].not_before, pair[0].id))
        return found[: self.batch_size]

    def _history(
        self, session: Session, due: list[tuple[OutboxRow, CaseRow]], now: datetime
    ) -> dict[Person, _Contacts]:
        """Each person's contacts of the last 31 days, leaving out the messages being decided.

        A person is a debtor (every message to any of their cases counts, each record noting
        its case, so debt-scoped rules can pick their own) or, for a case without a debtor, the
        case itself. A 'sending' message counts from its claim (the start of its lease): the
        provider may have it even when the dispatcher that claimed it died before writing down
        the answer.
        """
        found: dict[Person, _Contacts] = defaultdict(_Contacts)
        if not due:
            return found
        deciding = {message.id for message, _ in due}
        persons: dict[int, Person] = {case.id: person_of(case) for _, case in due}
        debtor_ids = sorted({case.debtor_id for _, case in due if case.debtor_id is not None})
        # Two reads by index, not one join: PostgreSQL planned the join of the outbox with the
        # persons' cases as a hash join over a scan of every case, per claim.
        for chunk in in_chunks(debtor_ids):  # the debtors' other cases, by the debtor index
            query = select(CaseRow.id, CaseRow.debtor_id).where(CaseRow.debtor_id.in_(chunk))
            for case_id, debtor_id in session.execute(query):
                persons[case_id] = ("d", debtor_id)
        contacts: dict[int, tuple[int, str, datetime]] = {}
        riders: dict[int, set[int]] = defaultdict(set)
        for chunk in in_chunks(sorted(persons)):  # their messages, by the outbox's case index
            rows = session.execute(
                select(
                    OutboxRow.id,
                    OutboxRow.case_id,
                    OutboxRow.channel,
                    OutboxRow.status,
                    OutboxRow.sent_at,
                    OutboxRow.not_before,
                    OutboxRow.combined_into,
                ).where(
                    OutboxRow.case_id.in_(chunk),
                    # A webhook tells the host, not the debtor; a call task reaches the debtor.
                    OutboxRow.channel.in_((*CHANNELS, "call")),
                    # A combined row names its carrier: the carrier's contact speaks for it too.
                    OutboxRow.status.in_((*CONTACT_STATUSES, COMBINED, COMBINING)),
                    or_(
                        OutboxRow.sent_at >= naive_utc(now - HISTORY),
                        OutboxRow.status.in_(("sending", COMBINING)),
                    ),
                )
            )
            for outbox_id, case_id, channel, status, sent_at, not_before, into in rows:
                if into is not None:
                    riders[into].add(case_id)
                elif outbox_id not in deciding:  # a lapsed lease claimed again is no gap
                    at = not_before - LEASE if status == "sending" else sent_at
                    contacts[outbox_id] = (case_id, channel, as_utc(at))
        for outbox_id, (case_id, channel, at) in contacts.items():
            found[persons[case_id]].add(case_id, channel, at, frozenset(riders.get(outbox_id, ())))
        return found

    def _prepare(
        self,
        session: Session,
        message: OutboxRow,
        case: CaseRow,
        contacts: _Contacts,
        run: _Pass,
        combine: Plan | None = None,
    ) -> _Claimed | None:
        if case.status == "closed":  # paid or closed since the step queued it: never remind
            self._suppress(
                message, case, "case_closed", f"The case is closed ({case.outcome}).", run
            )
            return None
        if message.channel not in self.connectors:  # an opt-in channel nobody configured
            text = f"The {message.channel} channel is not configured ([channels] in mahnwerk.toml)."
            self._suppress(message, case, "channel_disabled", text, run)
            return None
        version = self.versions.get(session, message.version_id)
        decision = decide(
            self._policy(version.journey.jurisdiction, case),
            _context(message, case),
            contacts.records_for(case.id),
            run.now,
        )
        if isinstance(decision, Defer):
            self._defer(message, decision, case.timezone, run)
            return None
        if isinstance(decision, Suppress):
            self._suppress(message, case, decision.reason, decision.message, run)
            return None
        members = [Member(message, case, version.journey)]
        if combine is not None:  # the debtor's other messages due within the window join it
            members = combine.group(members[0], run.now)
            message, case = members[0].message, members[0].case  # the carrier
            version = self.versions.get(session, message.version_id)
        portal = portal_url(case, run.now, self.portal_base_url, self.link_secret)
        variant = (message.version_id, message.template, message.tone, case.locale)
        if variant in run.over_budget:
            self._dead(message, run.over_budget[variant], run, set_aside=True)
            self._release(message, members[1:], run)
            return None
        context = case_context(
            case,
            run.now,
            self.portal_base_url,
            self.config.company.name,
            link=portal,
            journey=version.journey,
        )
        if len(members) > 1:
            items = [case_item(m.case, run.now, m.journey) for m in members]
            context.update(consolidation.items_of(members, items))
        try:
            rendered = render_message(
                version.journey,
                message.template or "",
                message.tone or 1,
                case.locale,
                context,
                self.template_limits,
            )
            template_key, tone = message.template or "", message.tone or 1
            if len(members) > 1 and not consolidation.mentions_items(
                version.journey, template_key, case.locale, tone
            ):
                rendered = consolidation.with_items_block(
                    rendered, message.channel, context, case.locale
                )
        except RenderError as exc:
            if exc.over_budget:  # it would go over again: dead letter, retried by hand
                run.over_budget[variant] = str(exc)
                self._dead(message, str(exc), run)
            else:
                self._fail(message, str(exc), run)
            self._release(message, members[1:], run)
            return None
        outgoing = connector_message(
            message.channel,
            str(message.id),
            case,
            rendered,
            self.config.company,
            portal,
            run.now,
            status_callback_url=self.sms_status_callback_url,
            whatsapp_template=self.config.profiles.get("whatsapp", {}).get("template_name"),
            bcc=tuple(_bcc(message)),
            attachments=self._attachments(session, message, case, run),
        )
        # Caps and gaps count this one at once, for the debtor's other cases in this batch too:
        # a combined message is one contact for the person, and one for each debt it names.
        riders = frozenset(m.case.id for m in members[1:])
        contacts.add(case.id, message.channel, run.now, riders)
        attempt = message.attempts + 1
        for member in members[1:]:  # leased with their carrier, never sent on their own
            # Their own not_before stays: released, they are due when they were before.
            run.updates.append(
                {"id": member.message.id, "status": COMBINING, "combined_into": message.id}
            )
        run.updates.append(
            {
                "id": message.id,
                "status": "sending",
                "not_before": naive_utc(run.now + LEASE),
                "attempts": attempt,
                "recipient": CHANNELS[message.channel].recipient_of(case),
                "subject": rendered.subject,
                "body": rendered.body,
                "html": rendered.html,
            }
        )
        return _Claimed(message, case, outgoing, attempt, absorbed=members[1:])

    def _task_guard(self) -> Guard:
        """What the task drain asks the guard with: this dispatcher's policies and history."""
        return Guard(
            policy=self._policy,
            history=self._history,
            person=person_of,
            context=_context,
            creditor=self.config.company.name,
            portal_base_url=self.portal_base_url,
            link=lambda case, now: portal_url(case, now, self.portal_base_url, self.link_secret),
        )

    def _policy(self, jurisdiction: str, case: CaseRow) -> ContactPolicy:
        """The journey's jurisdiction profile (by the debtor's country when it has none)."""
        key = (jurisdiction, case.country, case.subdivision)
        policy = self._policies.get(key)
        if policy is None:  # resolved once per jurisdiction, country and region
            bound = jurisdiction_of(jurisdiction)
            country = bound.country.code if bound is not None else case.country
            try:
                policy = profile_for(country, case.subdivision)
            except LookupError:  # a country without a profile: the fallback's (strictest hours)
                policy = profile_for(FALLBACK)
            overrides = _overrides(self.config.policy_overrides, jurisdiction, country)
            if overrides is not None:
                policy = overrides.apply(policy)  # checked at load: it cannot loosen
            self._policies[key] = policy
        return policy

    # -- outcomes ------------------------------------------------------------------------------

    def _release_if_suppressed(self, carrier: OutboxRow, linked: list[Member], run: _Pass) -> None:
        """A carrier claimed again and suppressed by the guard: its rows go on alone.

        A deferred carrier keeps its group for later; its last update in this pass says which.
        (A carrier that fails to render releases its group where it fails, in `_prepare`.)
        """
        status = next((u["status"] for u in reversed(run.updates) if u["id"] == carrier.id), None)
        if status == "suppressed":
            self._release(carrier, linked, run)

    @staticmethod
    def _release(
        carrier: OutboxRow, members: list[Member], run: _Pass, leased: bool = False
    ) -> None:
        """Rows whose carrier did not go out go on alone, unsent, due when they were before.

        Rows grouped in this very claim (not `leased`, not read as 'combining') were never
        written as absorbed: nothing to undo for them.
        """
        for member in members:
            if not leased and member.message.status != COMBINING:
                continue
            update_row = {"id": member.message.id, "status": "pending", "combined_into": None}
            run.updates.append(update_row)
            run.audit(member.message, "combine_released", carrier=carrier.id)

    def _defer(self, message: OutboxRow, decision: Defer, zone: str | None, run: _Pass) -> None:
        run.report.deferred += 1
        run.updates.append(
            {
                "id": message.id,
                "status": "pending",
                "not_before": naive_utc(decision.until),
                "reason": f"deferred:{decision.reason}",
            }
        )
        if message.reason != f"deferred:{decision.reason}":  # one audit row per new reason
            run.audit(
                message,
                "deferral",
                reason=decision.reason,
                message=decision.message,
                until=as_utc(decision.until).isoformat(),
                zone=zone,  # the debtor's time zone then, to say the moment in it (ops.explain)
            )

    @staticmethod
    def _attachments(
        session: Session, message: OutboxRow, case: CaseRow, run: _Pass
    ) -> tuple[Attachment, ...]:
        """The stored files an email step attaches; a missing one is audited, the email goes on.

        A reminder without its invoice still reminds; holding it back for a file the host may
        never upload would leave the debtor unreminded, so the audit row says what was missing.
        """
        if message.channel != "email":
            return ()
        files = []
        for kind in _attach(message):
            row = load_document(session, case.id, kind)
            if row is None:
                run.audit(message, "attachment_missing", document=kind)
                continue
            files.append(Attachment(row.filename, row.content_type, bytes(row.data)))
            run.audit(message, "attachment", document=kind, bytes=row.size, sha256=row.sha256)
        return tuple(files)

    def _suppress(
        self, message: OutboxRow, case: CaseRow, reason: str, text: str, run: _Pass
    ) -> None:
        run.report.suppressed += 1
        run.updates.append({"id": message.id, "status": "suppressed", "reason": reason})
        run.audit(message, "suppression", reason=reason, message=text)
        if reason in ("no_consent", "opted_out", "channel_disabled") or reason.startswith(
            "invalid_address"
        ):
            self._fallback(message, case, run, reason)

    def _fallback(self, message: OutboxRow, case: CaseRow, run: _Pass, why: str) -> None:
        """Queue the next hop of the send's fallback chain once, where the case can be reached."""
        row = fallback_row(message, case, run.now)
        if row is not None:
            run.new_rows.append(row)
            run.audit(message, "fallback", **fallback_audit(row, why))

    def _dead(self, message: OutboxRow, reason: str, run: _Pass, set_aside: bool = False) -> None:
        """Dead-letter a message whose template went over its render budget."""
        run.report.dead += 1
        run.updates.append({"id": message.id, "status": "dead", "reason": reason})
        run.audit(
            message, "dead_letter", reason=reason, attempts=message.attempts, set_aside=set_aside
        )

    def _fail(self, message: OutboxRow, reason: str, run: _Pass) -> None:
        run.report.failed += 1
        run.updates.append({"id": message.id, "status": "failed", "reason": reason})
        run.audit(message, "message_failed", reason=reason)

    # -- send and record -----------------------------------------------------------------------

    def _hand_over(
        self, item: _Claimed, commits: GroupCommit[_Claimed], stop: threading.Event
    ) -> None:
        """Send one claimed message; return once its outcome is written (runs in the pool)."""
        if stop.is_set():  # an outcome could not be written: leave the rest leased and unsent
            return
        item.result = self._send_one(item)
        try:
            commits.put(item)
        except BaseException:
            stop.set()
            raise

    def _send_one(self, item: _Claimed) -> Any:
        try:
            result = self.connectors[item.message.channel].send(item.outgoing)
            if result.status == "accepted":
                crash_points.reached("accepted")
            return result
        except Exception as exc:  # a connector bug must not lose the message
            log.exception("connector for %s raised", item.message.channel)
            return temporary(f"connector error: {type(exc).__name__}: {exc}")

    def _record(self, claimed: list[_Claimed], run: _Pass) -> None:
        for item in claimed:
            message, result, attempts = item.message, item.result, item.attempt
            if result.status == "accepted":
                run.report.sent += 1
                status = "sandboxed" if self._sandboxed(message.channel) else "sent"
                run.updates.append(
                    {
                        "id": message.id,
                        "status": status,
                        "sent_at": naive_utc(run.now),
                        "provider_message_id": result.provider_message_id,
                        "reason": None,
                        "cost": result.cost,
                        "segments": result.segments,
                    }
                )
                # Locale and tone name the template variant it was rendered from (ops.explain).
                run.audit(
                    message,
                    "message",
                    status=status,
                    provider_id=result.provider_message_id,
                    locale=item.case.locale,
                    tone=message.tone,
                    **_combined_detail(item),
                )
                run.sent.append((message.case_id, message.channel, result.cost))
                self._combined(item, status, run)
            elif result.status == "temporary_failure" and attempts < self.max_attempts:
                run.report.retried += 1
                run.updates.append(
                    {
                        "id": message.id,
                        "status": "pending",
                        "reason": result.reason,
                        "not_before": naive_utc(run.now + backoff(attempts)),
                    }
                )
                run.audit(message, "retry", reason=result.reason, attempt=attempts)
            elif result.status == "temporary_failure":
                run.report.dead += 1
                run.updates.append({"id": message.id, "status": "dead", "reason": result.reason})
                run.audit(message, "dead_letter", reason=result.reason, attempts=attempts)
                self._release(message, item.absorbed, run, leased=True)
            else:
                self._fail(message, result.reason or "the provider refused the message", run)
                self._release(message, item.absorbed, run, leased=True)
                if "invalid" in (result.reason or "").lower():
                    self._fallback(message, item.case, run, "refused")
        with self.db.transaction() as session:
            self._flush(session, run)
            if claimed:
                crash_points.reached("recording")
        if claimed:
            crash_points.reached("recorded")

    @staticmethod
    def _combined(item: _Claimed, status: str, run: _Pass) -> None:
        """The absorbed rows went out in the carrier's message: terminal, each case audited."""
        carrier = item.message
        for member in item.absorbed:
            run.updates.append(
                {
                    "id": member.message.id,
                    "status": COMBINED,
                    "combined_into": carrier.id,
                    "sent_at": naive_utc(run.now),
                    "reason": None,
                }
            )
            run.audit(
                member.message,
                "message_combined",
                carrier=carrier.id,
                carrier_case=carrier.case_id,
                carrier_template=carrier.template,
                status=status,
            )

    def _flush(self, session: Session, run: _Pass) -> None:
        """Write this pass's row updates, new fallback rows and audit rows."""
        if run.audits:  # first: chaining locks the cases, before any outbox row (no deadlock)
            session.execute(insert(AuditRow), chain_dicts(session, run.audits))
        by_keys: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for values in run.updates:
            by_keys[tuple(sorted(values))].append(values)
        for group in by_keys.values():  # executemany needs the same columns in every row
            session.execute(update(OutboxRow), group)
        if run.new_rows:
            insert_new_messages(session, run.new_rows)
        if run.sent:  # the case facts count them in the same transaction (engine/analytics)
            add_messages(session.connection(), run.sent)
        run.updates, run.new_rows, run.audits, run.sent = [], [], [], []

    def _sandboxed(self, channel: str) -> bool:
        """Whether this channel's profile only stores what would have been sent."""
        return self.config.profiles.get(channel, {}).get("provider") == "sandbox"

    def retry_dead(self, outbox_id: int, now: datetime) -> bool:
        """Put a dead-lettered or failed message back in the queue (the designer's retry)."""
        with self.db.transaction() as session:
            changed = session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == outbox_id, OutboxRow.status.in_(("dead", "failed")))
                .values(status="pending", attempts=0, not_before=naive_utc(now), reason=None)
            ).rowcount
            if changed:
                session.add(
                    AuditRow(
                        at=naive_utc(now),
                        case_id=None,
                        kind="retry_requested",
                        detail={"outbox_id": outbox_id},
                    )
                )
        return bool(changed)


def _behind(key: tuple[datetime, int] | None) -> list[Any]:
    """The condition 'after this (not_before, id) in index order', if there is a key."""
    if key is None:
        return []
    return [tuple_(OutboxRow.not_before, OutboxRow.id) > tuple_(*key)]


def _combined_detail(item: _Claimed) -> dict[str, Any]:
    """A combined message's audit row names the rows it carried (docs/debtors.md)."""
    return {"combined": [m.message.id for m in item.absorbed]} if item.absorbed else {}


def _collect(sending: list[Future[Any]]) -> None:
    """Wait for every hand-over of a batch, then raise the first error among them."""
    errors = [future.exception() for future in sending]
    for error in errors:
        if error is not None:
            raise error


def insert_new_messages(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert outbox rows, skipping any whose idempotency key is already queued.

    A fallback can be asked for twice (a bounce report, then a retried send that fails again);
    a duplicate key must not abort the transaction that records the sends.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        statement: Any = sqlite_insert(OutboxRow).on_conflict_do_nothing(
            index_elements=["idempotency_key"]
        )
    elif dialect == "postgresql":
        statement = pg_insert(OutboxRow).on_conflict_do_nothing(index_elements=["idempotency_key"])
    else:
        keys = [row["idempotency_key"] for row in rows]
        taken = set(
            session.scalars(
                select(OutboxRow.idempotency_key).where(OutboxRow.idempotency_key.in_(keys))
            )
        )
        rows = [row for row in rows if row["idempotency_key"] not in taken]
        statement = insert(OutboxRow)
    if rows:
        session.execute(statement, rows)


def fallback_row(message: OutboxRow, case: CaseRow, now: datetime) -> dict[str, Any] | None:
    """The outbox row for the next hop of a send's fallback chain, or None when there is none.

    The chain's rest rides on the row (payload `fallbacks`, written by the runtime); a row from
    before chains names one `fallback_channel` and, once it is itself a fallback ('-fb'), none.
    Hops whose channel the case has no address for are skipped (the row's payload lists them).
    The key is this message's key plus '-fb': each message has at most one next hop, whoever
    asks (a bounce report, a refusal, a suppression), so a step visit sends one message, ever.
    """
    remaining = _remaining(message)
    for i, (hop, template) in enumerate(remaining):
        channel = CHANNELS.get(hop)
        if channel is None or hop == message.channel or not channel.reaches(case):
            continue
        rest = remaining[i + 1 :]
        done = message.payload.get("hop") if isinstance(message.payload, dict) else 0
        return {
            "idempotency_key": f"{message.idempotency_key}-fb",
            "case_id": message.case_id,
            "version_id": message.version_id,
            "node_id": message.node_id,
            "channel": hop,
            "template": template or message.template,
            "tone": message.tone,
            "purpose": message.purpose,
            "fallback_channel": rest[0][0] if rest else None,
            "payload": {
                "fallbacks": [list(h) for h in rest],
                "hop": int(done or 0) + i + 1,
                "skipped": [h for h, _ in remaining[:i]],
                "bcc": _bcc(message),
                "attach": _attach(message),
            },
            "status": "pending",
            "not_before": naive_utc(now),
            "attempts": 0,
            "created_at": naive_utc(now),
        }
    return None


def _bcc(message: OutboxRow) -> list[str]:
    """The blind copies a send step asked for (they go with an email hop of its chain too)."""
    payload = message.payload if isinstance(message.payload, dict) else {}
    return [str(b) for b in payload.get("bcc") or ()]


def _attach(message: OutboxRow) -> list[str]:
    """The case documents a send step attaches (they go with an email hop of its chain too)."""
    payload = message.payload if isinstance(message.payload, dict) else {}
    return [str(kind) for kind in payload.get("attach") or ()]


def _remaining(message: OutboxRow) -> list[tuple[str, str | None]]:
    """The hops still to try after this message, in order."""
    payload = message.payload if isinstance(message.payload, dict) else {}
    chain = payload.get("fallbacks")
    if isinstance(chain, list):
        return [(str(h[0]), h[1] if len(h) > 1 else None) for h in chain if h]
    fallback = message.fallback_channel  # a row from before chains: one hop, never from a '-fb'
    if not fallback or message.idempotency_key.endswith("-fb"):
        return []
    return [(fallback, payload.get("fallback_template"))]


def fallback_audit(row: dict[str, Any], why: str) -> dict[str, Any]:
    """What a fallback's audit row says: which hop was taken, why, and the hops skipped."""
    payload = row["payload"]
    return {
        "fallback": row["channel"],
        "hop": payload["hop"],
        "reason": why,
        "skipped": payload["skipped"],
    }


def _overrides(
    configured: dict[str, PolicyOverride], jurisdiction: str, country: str
) -> PolicyOverride | None:
    """A [policy.X] section: by the journey's jurisdiction, else by the debtor's country.

    A journey bound to no jurisdiction ("NONE") uses the profile of the debtor's country, so
    that country's section applies, named by the country or by its jurisdiction ("GB", "UK").
    """
    covering = jurisdiction_of(country)
    for key in (jurisdiction, country, covering.code if covering is not None else None):
        if key and key in configured:
            return configured[key]
    return None


def _context(message: OutboxRow, case: CaseRow) -> ContactContext:
    prefs = case.contact_prefs or {}
    holds = {case.hold_reason} if case.status in ("held", "stopped") and case.hold_reason else set()
    return ContactContext(
        time_zone=case.timezone,
        country=case.country,
        channel=message.channel,
        purpose=message.purpose or "reminder",
        subdivision=case.subdivision,
        consents=prefs.get("consent", {}),
        opted_out=frozenset(prefs.get("opted_out", ())),
        holds=frozenset(holds),
    )
