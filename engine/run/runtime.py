"""The tick: claim due cases, advance each until it parks, write everything in one transaction."""

from __future__ import annotations

import copy
import gc
import logging
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from engine.analytics.facts import CLOSED, ENTERED, LEFT, STOPPED
from engine.authoring.lifecycle import publish_due
from engine.authoring.versions import LoadedVersion, VersionCache
from engine.core.clock import naive_utc
from engine.core.counts import Counts
from engine.core.event_types import HOLD_STARTS
from engine.core.state import CaseState
from engine.delivery import crash_points
from engine.intake import event_effects
from engine.intake.debtor_holds import DEBTOR_WIDE, FROM_CASE
from engine.intake.hold_until import hold_until, is_scheduled, outdated_release
from engine.journey.calendar import letter_days, letter_slot
from engine.journey.fields import CASE_FIELDS
from engine.money import balance
from engine.money.fees import fee_payload
from engine.nodes import NODE_TYPES
from engine.nodes.base import MAX_STEPS_PER_TICK, TaskRequest
from engine.payments.credits import Overpayment
from engine.rules import policy
from engine.rules.evaluator import Evaluator, get_evaluator
from engine.rules.model import CompiledRule, message_key
from engine.run.store import (
    DebtorEvent,
    OutboxValues,
    Writes,
    audit_heads,
    audit_values,
    claim_due,
    claimed_id,
    has_events,
    loaded_values,
    outbox_values,
    pending_events,
    state_from_row,
    write,
)
from engine.storage.db import Database
from engine.storage.models import JourneyRow, VersionRow

log = logging.getLogger(__name__)

NO_TRIGGERS: frozenset[str] = frozenset()
# Steps on whose entry interest is booked, so a demand and a fee see what is owed that day.
BOOKS_INTEREST = frozenset({"send", "fee"})
# Batches in a row that may lose their connection before the tick gives up (and the scheduler's
# next run tries again): a database restarting fails the reconnect itself, not this count.
RECONNECTS = 3


@dataclass
class TickReport(Counts):
    """What one tick did."""

    cases: int = 0
    transitions: int = 0
    messages: int = 0
    suppressed: int = 0
    closed: int = 0
    events: int = 0
    errors: int = 0


@dataclass(slots=True)
class _Step:
    case: CaseState
    version: LoadedVersion
    trigger: str


@dataclass
class _Batch:
    now: datetime
    writes: Writes = field(default_factory=Writes)
    report: TickReport = field(default_factory=TickReport)
    steps: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    stamp: datetime = field(init=False)  # `now` as stored (naive UTC), computed once

    def __post_init__(self) -> None:
        self.stamp = naive_utc(self.now)

    def audit(self, cs: CaseState, kind: str, rule: str | None = None, **detail: Any) -> None:
        self.audit_detail(cs, kind, rule, detail)

    def audit_detail(
        self, cs: CaseState, kind: str, rule: str | None, detail: dict[str, Any]
    ) -> None:
        """An audit row; `detail` may be shared, it is only read."""
        self.writes.audit.append(
            audit_values(
                at=self.stamp,
                case_id=cs.id,
                version_id=cs.version_id,
                node_id=cs.node_id,
                kind=kind,
                rule=rule,
                detail=detail,
            )
        )


class Runtime:
    """Runs journeys for the cases in one database."""

    def __init__(
        self, db: Database, evaluator: Evaluator | None = None, batch_size: int = 1000
    ) -> None:
        self.db = db
        self.evaluator = evaluator or get_evaluator()
        self.evaluator.ensure(policy.definition())
        self.versions = VersionCache()
        self.batch_size = batch_size
        self._registered: set[str] = set()  # rulesets known to the evaluator

    def tick(self, now: datetime) -> TickReport:
        """Advance every case that is due at `now`; batch by batch, each batch one transaction.

        First the versions scheduled to be published by `now` are published
        (engine.authoring.lifecycle.publish_due), so their cases move before they are advanced.
        """
        report = TickReport()
        try:
            with self.db.transaction() as session:
                publish_due(session, now)
        except Exception:  # a broken schedule must not stop the cases
            log.exception("scheduled publishing failed; the next tick tries again")
        lost = 0
        while True:
            try:
                batch = self._batch(now)
            except DBAPIError as exc:
                # The server rolled the batch back with its connection (a failover, a
                # terminated backend); the batches before it are committed. The pool drops the
                # dead connection, so claiming again reconnects and takes the same cases.
                if not exc.connection_invalidated or lost >= RECONNECTS:
                    raise
                lost += 1
                log.warning("database connection lost mid-batch (rolled back); reconnecting")
                continue
            if batch is None:
                break
            lost = 0
            report.add(batch.report)
        return report

    def _batch(self, now: datetime) -> _Batch | None:
        """Claim, advance and write one batch in one transaction; None when nothing is due."""
        with _no_cycle_collection(), self.db.transaction() as session:
            rows = claim_due(session, now, self.batch_size)
            if not rows:
                return None
            crash_points.reached("tick_claimed")
            batch = self._advance(session, rows, now)
            write(session, batch.writes, now)
            crash_points.reached("tick_written")
        crash_points.reached("tick_committed")
        return batch

    # -- one batch -------------------------------------------------------------------------

    def _advance(self, session: Session, rows: list[Any], now: datetime) -> _Batch:
        batch = _Batch(now)
        events = pending_events(session, [claimed_id(row) for row in rows if has_events(row)])
        paused = _paused_versions(session)
        batch.writes.heads = audit_heads(rows)
        queue: list[_Step] = []
        for row in rows:
            cs = state_from_row(row)
            batch.writes.cases[cs.id] = cs
            batch.writes.loaded[cs.id] = loaded_values(row)
            batch.report.cases += 1
            try:
                version = self.versions.get(session, cs.version_id)
                if cs.version_id in paused:
                    self._wait_paused(cs, version, events.get(cs.id, []), batch)
                    continue
                step = self._first_step(cs, version, events.get(cs.id, []), batch)
            except Exception as exc:  # one broken case must not stop the others
                self._fail(cs, exc, batch)
                continue
            if step is not None:
                queue.append(step)
        self._run_waves(queue, batch)
        return batch

    def _first_step(
        self, cs: CaseState, version: LoadedVersion, events: list[Any], batch: _Batch
    ) -> _Step | None:
        if cs.visits == 0 and cs.status == "active":
            if events:  # apply them right after the case has entered its journey
                batch.writes.due_now.add(cs.id)
            trigger = self._enter(cs, version, cs.node_id, batch)
            return _Step(cs, version, trigger) if trigger else None
        for index, event in enumerate(events):
            trigger = self._apply_event(cs, version, event, batch)
            if trigger is not None:
                if index + 1 < len(events):
                    batch.writes.due_now.add(cs.id)  # the rest waits for this step to finish
                return _Step(cs, version, trigger)
        return self._timer_step(cs, version, batch.now)

    def _wait_paused(
        self, cs: CaseState, version: LoadedVersion, events: list[Any], batch: _Batch
    ) -> None:
        """A case of a paused journey waits at its node until unpause (lifecycle.unpause_journey
        makes it due again). Its events still apply, payments and policy rules included, except
        one the journey itself would move on: that one and the later ones wait too.
        """
        batch.writes.parked.add(cs.id)
        batch.audit(cs, "waiting", reason="journey_paused")
        if cs.visits == 0:
            return  # it has not entered its journey yet: nothing of it runs before unpause
        listens = version.compiled.triggers.get(cs.node_id, NO_TRIGGERS)
        for event in events:
            if f"event:{event.type}" in listens and self._would_move(cs, version, event, batch):
                return
            self._apply_event(cs, version, event, batch)

    def _would_move(self, cs: CaseState, version: LoadedVersion, event: Any, batch: _Batch) -> bool:
        """Whether applying the event would take a step in the journey (tried on a copy)."""
        trial = copy.deepcopy(cs)
        return self._apply_event(trial, version, event, _Batch(batch.now)) is not None

    def _timer_step(self, cs: CaseState, version: LoadedVersion, now: datetime) -> _Step | None:
        listens = version.compiled.triggers.get(cs.node_id, NO_TRIGGERS)
        if cs.status == "active" and cs.timer_at and cs.timer_at <= now and "timer" in listens:
            return _Step(cs, version, "timer")
        return None

    def _run_waves(self, queue: list[_Step], batch: _Batch) -> None:
        """Evaluate all pending steps per ruleset in one post, then their follow-ups, and so on."""
        while queue:
            by_ruleset: dict[str, list[_Step]] = defaultdict(list)
            for step in queue:  # a large journey is several rulesets: the node's one
                by_ruleset[step.version.compiled.ruleset_for(step.case.node_id)].append(step)
            queue = []
            for ruleset, steps in by_ruleset.items():
                if not self._register(steps, batch):
                    continue
                messages = [_message(s, batch.now) for s in steps]
                for step, message, rule_id in zip(
                    steps, messages, self.evaluator.evaluate(ruleset, messages), strict=True
                ):
                    follow = self._fired(step, rule_id, batch, message)
                    if follow is not None:
                        queue.append(follow)

    def _register(self, steps: list[_Step], batch: _Batch) -> bool:
        """Make the steps' rulesets known to the evaluator; fail the steps' cases if it refuses."""
        compiled = steps[0].version.compiled
        if compiled.ruleset not in self._registered:
            try:
                self.evaluator.ensure(compiled.definition())
            except Exception as exc:  # e.g. a ruleset durable cannot take: these cases only
                for step in steps:
                    self._fail(step.case, exc, batch)
                return False
            self._registered.add(compiled.ruleset)
        return True

    def _fired(
        self, step: _Step, rule_id: str | None, batch: _Batch, message: dict[str, Any]
    ) -> _Step | None:
        cs = step.case
        if rule_id is None:
            node = step.version.journey.node(cs.node_id)
            if step.trigger == "enter" and not NODE_TYPES[node.type].parks:
                # An instant node must always lead on; a parking node simply waits.
                self._fail(cs, RuntimeError(f"no rule matched at node '{cs.node_id}'"), batch)
            return None
        batch.steps[cs.id] += 1
        if batch.steps[cs.id] > MAX_STEPS_PER_TICK:
            self._fail(cs, RuntimeError("too many steps in one tick (a loop?)"), batch)
            return None
        try:
            rule = step.version.compiled.rule(rule_id)
            trigger = self._transition(cs, step.version, rule, batch, message)
        except Exception as exc:
            self._fail(cs, exc, batch)
            return None
        return _Step(cs, step.version, trigger) if trigger else None

    # -- moving a case -------------------------------------------------------------------------

    def _transition(
        self,
        cs: CaseState,
        version: LoadedVersion,
        rule: CompiledRule,
        batch: _Batch,
        message: dict[str, Any],
    ) -> str | None:
        batch.report.transitions += 1
        detail = rule.audit_detail
        if rule.when or rule.otherwise or len(message) > 2:  # read fields: a timer's never do
            detail = _transition_detail(rule, version, message)
        batch.audit_detail(cs, "transition", rule.id, detail)
        batch.writes.facts.step(cs, LEFT, rule.port)
        if rule.outcome:
            self._close(cs, rule.outcome, batch, counted=True)
            return None
        if rule.target is None:
            raise RuntimeError(f"the '{rule.port}' way of node '{rule.node}' is not connected")
        return self._enter(cs, version, rule.target, batch)

    def _enter(
        self, cs: CaseState, version: LoadedVersion, node_id: str, batch: _Batch
    ) -> str | None:
        """Enter a node; returns the trigger to evaluate next, if any."""
        node = version.journey.node(node_id)
        cs.node_id = node_id
        cs.visits += 1
        facts = batch.writes.facts
        if cs.visits == 1:
            facts.start(cs)
        facts.step(cs, ENTERED)
        entry = NODE_TYPES[node.type].enter(node, cs, batch.now)
        cs.timer_at = entry.timer_at
        if node.type in BOOKS_INTEREST:
            self._book_interest(cs, version, batch)
        if entry.fee is not None:
            payload = fee_payload(entry.fee, version.journey, cs)
            if payload is not None:
                self._book(cs, "fee_charged", payload, f"fee:{cs.id}:{node_id}:{cs.visits}", batch)
        if entry.counters is not None:
            cs.counters = entry.counters
        if entry.assigned_arm is not None:
            experiment = node.params["experiment"]
            if experiment not in cs.arms:  # the first exposure is the one an experiment scores
                facts.expose(cs, experiment, entry.assigned_arm, batch.now)
            if cs.arms.get(experiment) != entry.assigned_arm:
                cs.arms[experiment] = entry.assigned_arm
                batch.audit(cs, "assignment", experiment=experiment, arm=entry.assigned_arm)
        if entry.send is not None:
            self._queue_message(cs, version, node_id, entry.send, batch, entry.not_before)
        if entry.notify is not None:
            row = _outbox(
                cs,
                node_id,
                "webhook",
                batch.stamp,
                "pending",
                payload=entry.notify,
                not_before=_release(entry.not_before, batch, version, "webhook", cs),
            )
            batch.writes.outbox.append(row)
        if entry.task is not None:
            channel = "call" if entry.task.kind == "call" else "task"
            opens = _release(entry.not_before, batch, version, channel, cs)
            batch.writes.outbox.append(_task_row(cs, node_id, entry.task, batch.stamp, opens))
        if entry.outcome is not None:
            self._close(cs, entry.outcome, batch)
            return None
        listens = version.compiled.triggers.get(node_id, NO_TRIGGERS)
        if "enter" in listens:
            return "enter"
        if cs.timer_at is not None and cs.timer_at <= batch.now and "timer" in listens:
            return "timer"
        return None

    def _queue_message(
        self,
        cs: CaseState,
        version: LoadedVersion,
        node_id: str,
        send: Any,
        batch: _Batch,
        not_before: datetime | None = None,
    ) -> None:
        hops = ((send.channel, send.template), *_hops(send))
        status, reason = "pending", None
        reached = next((i for i, (ch, _) in enumerate(hops) if cs.has_channel(ch)), None)
        if reached is None:
            channel, template, rest = send.channel, send.template, ()
            status, reason = "suppressed", f"no_address:{channel}"
        else:
            (channel, template), rest = hops[reached], hops[reached + 1 :]
        if reached:  # a hop further down the chain: say which and why the ones before were not
            batch.audit(
                cs,
                "fallback",
                channel=send.channel,
                fallback=channel,
                hop=reached,
                reason=f"no_address:{send.channel}",
                skipped=[ch for ch, _ in hops[1:reached]],
            )
        # The payload keeps the rest of the chain for the dispatcher's later hops.
        payload = (
            {"fallbacks": [list(h) for h in rest], "hop": reached} if rest or reached else None
        )
        if getattr(send, "bcc", ()):  # the step's blind copies, for an email hop
            payload = {**(payload or {}), "bcc": list(send.bcc)}
        if getattr(send, "attach", ()):  # the case's documents, for an email hop
            payload = {**(payload or {}), "attach": list(send.attach)}
        row = _outbox(
            cs,
            node_id,
            channel,
            batch.stamp,
            status,
            reason=reason,
            template=template,
            tone=send.tone,
            purpose=send.purpose,
            fallback_channel=rest[0][0] if rest else None,
            payload=payload,
            not_before=_release(not_before, batch, version, channel, cs),
        )
        batch.writes.outbox.append(row)
        if status == "suppressed":
            batch.report.suppressed += 1
            batch.audit(cs, "suppression", reason=reason, template=send.template)
        else:
            cs.messages_sent += 1
            batch.report.messages += 1

    def _close(self, cs: CaseState, outcome: str, batch: _Batch, counted: bool = False) -> None:
        """Close the case at its node (`counted`: its step count was taken as it left by a port)."""
        if not counted and cs.visits:
            batch.writes.facts.step(cs, CLOSED, outcome)
        cs.status, cs.outcome, cs.timer_at = "closed", outcome, None
        batch.writes.closed_at[cs.id] = batch.now
        batch.report.closed += 1
        batch.audit(cs, "closed", outcome=outcome)

    def _fail(self, cs: CaseState, exc: Exception, batch: _Batch) -> None:
        """Stop a case for a person to look at; the error is kept in the audit trail."""
        log.warning("case %s stopped: %s", cs.external_id, exc)
        if cs.visits and cs.status in ("active", "held"):
            batch.writes.facts.step(cs, STOPPED)
        cs.status, cs.hold_reason, cs.timer_at = "stopped", "engine_error", None
        cs.hold_until = None
        batch.report.errors += 1
        batch.audit(cs, "error", error=f"{type(exc).__name__}: {exc}")

    # -- fees and interest ------------------------------------------------------------------

    def _book_interest(self, cs: CaseState, version: LoadedVersion, batch: _Batch) -> None:
        """Book the interest accrued up to today (the case's own day), if the journey charges it."""
        today = batch.now.astimezone(ZoneInfo(cs.timezone)).date()
        payload = balance.interest_payload(cs, version.journey, today)
        if payload is not None:
            self._book(cs, "interest_booked", payload, f"interest:{cs.id}:{today}", batch)

    def _book(
        self, cs: CaseState, kind: str, payload: dict[str, Any], event_id: str, batch: _Batch
    ) -> None:
        """A charge the journey books: the same effect and audit row as the host's own event,
        so the timeline, the webhooks (`case.fee_charged`, `case.interest_booked`) and the
        simulation see one kind of booking whoever made it."""
        note = event_effects.apply(cs, kind, payload, batch.now)
        batch.audit(cs, "event", event=kind, event_id=event_id, **note)

    # -- events ----------------------------------------------------------------------------

    def _apply_event(
        self, cs: CaseState, version: LoadedVersion, event: Any, batch: _Batch
    ) -> str | None:
        """Apply one event; returns the journey trigger it causes, if any."""
        batch.writes.applied_events.append(event.id)
        batch.report.events += 1
        batch.writes.facts.guardrail(cs.id, event.type)  # counted even when the case is done
        if cs.status in ("closed", "stopped"):
            batch.audit(
                cs,
                "event_ignored",
                event=event.type,
                event_id=event.event_id,
                reason=f"case is {cs.status}",
            )
            return None
        payload = event.payload or {}
        if outdated_release(cs.hold_reason, cs.hold_until, payload):
            # The schedule released a hold that has changed since (a newer hold, or a person
            # released it): the newer decision stands.
            batch.audit(
                cs,
                "event_ignored",
                event=event.type,
                event_id=event.event_id,
                reason="hold changed since its until date",
            )
            return None
        before = cs.amount_open
        if event.type == "payment_received":  # interest up to the payment, then § 367 BGB
            self._book_interest(cs, version, batch)
        allocation = balance.balance_settings(version.journey).allocation
        note = event_effects.apply(cs, event.type, event.payload or {}, batch.now, allocation)
        if event.type == "payment_received":
            batch.writes.facts.payment(cs, before, batch.now)
            if "overpaid" in note:  # kept as the debtor's credit with this batch's writes
                surplus = Overpayment(cs.id, event.event_id, Decimal(note["overpaid"]), cs.currency)
                batch.writes.overpayments.append(surplus)
        if is_scheduled(payload):  # the timeline says why: the hold's last day came
            note = {**note, "by": payload["by"], "until": payload.get("until")}
        batch.audit(cs, "event", event=event.type, event_id=event.event_id, **note)
        # A scheduled release ends this case's hold only: the debtor's other cases carry the
        # same until date and are released on it in their own time zones.
        if event.type in DEBTOR_WIDE and not payload.get(FROM_CASE) and not is_scheduled(payload):
            batch.writes.debtor_events.append(
                DebtorEvent(cs.id, cs.external_id, event.type, event.event_id, event.payload or {})
            )
        if event.type in policy.TRIGGERS:
            message = _policy_message(cs, event.type, balance.left_to_close(cs, version.journey))
            rule_id = self.evaluator.evaluate(policy.RULESET, [message])[0]
            if rule_id is not None and not self._apply_policy(cs, rule_id, batch, event):
                return None
        if cs.status != "active":
            return None
        trigger = f"event:{event.type}"
        if trigger in version.compiled.triggers.get(cs.node_id, NO_TRIGGERS):
            return trigger
        return None

    def _apply_policy(self, cs: CaseState, rule_id: str, batch: _Batch, event: Any) -> bool:
        """Carry out a policy rule; False when the case may not go on in its journey now.

        A hold keeps the last day its event names (`until`), which the schedule releases it on
        (engine/intake/hold_until.py); any other decision ends that day with the hold.
        """
        rule = policy.RULES_BY_ID[rule_id]
        action, _, arg = rule.port.partition(":")
        until = hold_until(event.payload) if event.type in HOLD_STARTS else None
        if action == "hold" and until is not None:
            batch.audit(cs, "policy", rule_id, action=rule.port, until=until.isoformat())
        else:
            batch.audit(cs, "policy", rule_id, action=rule.port)
        if action == "close":
            self._close(cs, arg, batch)
            cs.hold_until = None
            return False
        if action == "hold":
            cs.status, cs.hold_reason, cs.hold_until = "held", arg, until
            return False
        if action == "stop":
            if cs.visits:
                batch.writes.facts.step(cs, STOPPED)
            cs.status, cs.hold_reason, cs.timer_at = "stopped", arg, None
            cs.hold_until = None
            return False
        if action == "release":
            cs.status, cs.hold_reason, cs.hold_until = "active", None, None
        return True


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Hold off Python's cycle collector for one batch; it runs again when the batch is done.

    A batch makes tens of thousands of small containers that live until its write (rows, case
    states, outbox and audit tuples) and few cycles, so the collector, triggered by the number
    of allocations, traversed them again and again for nothing: 6.8 % of the tick's
    instructions (bench/tick_instructions.py). Garbage cycles made meanwhile wait for the next
    collection. Where the host turned the collector off, it stays off.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _paused_versions(session: Session) -> frozenset[int]:
    """Ids of the versions of paused journeys (few journeys are ever paused: one small query)."""
    return frozenset(
        session.scalars(
            select(VersionRow.id)
            .join(JourneyRow, JourneyRow.id == VersionRow.journey_id)
            .where(JourneyRow.paused_at.is_not(None))
        )
    )


def _message(step: _Step, now: datetime) -> dict[str, Any]:
    """The message posted for a step: node, trigger and the fields its node's rules read."""
    cs = step.case
    message: dict[str, Any] = {"node": cs.node_id, "trigger": step.trigger}
    for name in step.version.compiled.fields_at(cs.node_id):
        value = field_value(cs, step.version, name, now)
        if value is not None:
            message[message_key(name)] = value
    return message


# Each case field's reader, looked up once here rather than through its CaseField per message.
_READERS: dict[str, Any] = {name: f.reader() for name, f in CASE_FIELDS.items()}


def field_value(cs: CaseState, version: LoadedVersion, name: str, now: datetime) -> Any:
    """The value of a case field as rules compare it (None: not posted, so no test holds)."""
    reader = _READERS.get(name)
    if reader is not None:
        return reader(cs, now)
    if name.startswith("attributes."):
        return cs.attributes.get(name.removeprefix("attributes."))
    if name.startswith("counters."):
        return cs.counters.get(name.removeprefix("counters."), 0)
    if name == "arm":
        node = version.journey.node(cs.node_id)
        return cs.arms.get(node.params.get("experiment", ""))
    return None


def _transition_detail(
    rule: CompiledRule, version: LoadedVersion, message: dict[str, Any]
) -> dict[str, Any]:
    """The rule's shared detail, plus the field values its node's rules saw (for "why").

    Only a node whose rules read case fields adds `seen` (a new dict); a wait's timer keeps
    the one shared dict (engine.ops.explain re-evaluates the conditions from `seen`).
    """
    names = version.compiled.fields_at(rule.node)
    if not names:
        return rule.audit_detail
    seen = {n: message[message_key(n)] for n in names if message_key(n) in message}
    return {**rule.audit_detail, "seen": seen}


def _policy_message(cs: CaseState, event_type: str, owed: Any = None) -> dict[str, Any]:
    """The policy rules' view: `amount_open` is what must be paid before a payment closes the
    case (the principal, plus fees and interest unless the journey closes on the principal)."""
    return {
        "trigger": event_type,
        "amount_open": float(cs.amount_open if owed is None else owed),
        "hold_reason": cs.hold_reason or "",
    }


def _hops(send: Any) -> tuple[tuple[str, str], ...]:
    """A send's fallbacks: its chain, or a single fallback channel (a SendRequest made by hand)."""
    if send.fallbacks:
        return tuple(send.fallbacks)
    if send.fallback_channel and send.fallback_channel != send.channel:
        return ((send.fallback_channel, send.fallback_template or send.template),)
    return ()


def _release(
    slot_opens: datetime | None,
    batch: _Batch,
    version: LoadedVersion,
    channel: str,
    cs: CaseState,
) -> datetime:
    """When an outbox row may leave (naive UTC): the step's slot, and for a letter the journey's
    letter calendar (a DE letter is not dated on a Sunday or public holiday)."""
    moment = slot_opens or batch.now
    if channel == "letter":
        journey = version.journey
        slot = letter_slot(letter_days(journey.jurisdiction, journey.letter_days))
        if slot is not None:
            zone = ZoneInfo(cs.timezone)
            moment = slot.next_open(moment, zone, cs.country, cs.subdivision).astimezone(UTC)
    return naive_utc(moment) if moment > batch.now else batch.stamp


def _task_row(
    cs: CaseState, node_id: str, task: TaskRequest, stamp: datetime, opens: datetime
) -> OutboxValues:
    """The outbox row a task step leaves for the task drain (engine/delivery/tasks.py).

    A call reaches the debtor, so its row is on the 'call' channel the contact policy knows;
    other work is on 'task'. The drain makes the task from it, once (the row's key), not before
    `opens` (the step's allowed weekdays and hours, like a send's).
    """
    return _outbox(
        cs,
        node_id,
        "call" if task.kind == "call" else "task",
        stamp,
        "pending",
        purpose="reminder",
        payload={
            "kind": task.kind,
            "queue": task.queue,
            "assignee": task.assignee,
            "instructions": task.instructions,
            "due_at": naive_utc(task.due_at).isoformat(),
            "visit": cs.visits,
        },
        not_before=opens,
    )


def _outbox(
    cs: CaseState,
    node_id: str,
    channel: str,
    stamp: datetime,
    status: str,
    reason: str | None = None,
    template: str | None = None,
    tone: int | None = None,
    purpose: str | None = None,
    fallback_channel: str | None = None,
    payload: dict[str, Any] | None = None,
    not_before: datetime | None = None,
) -> OutboxValues:
    """An outbox row; the key makes a case's step one message, ever."""
    return outbox_values(
        idempotency_key=f"c{cs.id}-v{cs.visits}-{node_id}",
        case_id=cs.id,
        version_id=cs.version_id,
        node_id=node_id,
        channel=channel,
        status=status,
        reason=reason,
        template=template,
        tone=tone,
        purpose=purpose,
        fallback_channel=fallback_channel,
        payload=payload,
        not_before=not_before or stamp,
        created_at=stamp,
    )
