"""A new host event on a bare DBAPI connection: the API's hot path, without Session or ORM.

`EventIntake.accept` does the plain case only: a new event id for an active or held case, in
one transaction of plain statements (make the case due, returning its id, currency and status;
insert the event unless its id exists; with an Idempotency-Key, keep the answer). The caller's
`answer_for` asks the event rule (engine.intake.events.decide_event) about the case. Anything
else (unknown or closed case, a repeated event id or key, a currency that is not the case's)
rolls back and returns None, and the caller takes the full path (`record_host_event` and the
API's views), which decides it by the same rule.

The statements are SQLAlchemy Core, compiled once for the engine's dialect and run on the
DBAPI cursor with the column types' own bind processors, so the rows are the ones the ORM
writes (JSON through the engine's serializer, dates in SQLite's text form). SQLite only: the
embedded default, where the cost matters most; PostgreSQL keeps the Session path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, bindparam, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.pool import StaticPool

from engine.intake.events import CaseFacts, Decision, Outcome, event_row, mark_due
from engine.intake.host_cases import CASES_TABLE, EVENTS_TABLE
from engine.storage.api_models import IdempotencyRow
from engine.storage.db import Database

_KEYS = IdempotencyRow.__table__
_FIND_KEY = select(_KEYS.c.request_hash, _KEYS.c.status_code, _KEYS.c.response).where(
    _KEYS.c.token_id == bindparam("token_id"), _KEYS.c.key == bindparam("key")
)
# host_cases' read of the case and MAKE_DUE in one statement (events.mark_due, compiled once).
_MAKE_DUE = mark_due(CASES_TABLE.c.external_id == bindparam("external_id")).returning(
    CASES_TABLE.c.id, CASES_TABLE.c.currency, CASES_TABLE.c.status
)
_EVENT_COLUMNS = (
    "event_id",
    "case_id",
    "type",
    "payload",
    "occurred_at",
    "received_at",
    "applied_at",
)
_INSERT_EVENT = (
    sqlite.insert(EVENTS_TABLE)
    .values({name: bindparam(name) for name in _EVENT_COLUMNS})
    .on_conflict_do_nothing(index_elements=["event_id"])
    .returning(EVENTS_TABLE.c.id)
)
_KEY_COLUMNS = ("token_id", "key", "request_hash", "method", "path", "status_code", "response")
_KEEP_ANSWER = (
    sqlite.insert(_KEYS)
    .values({name: bindparam(name) for name in (*_KEY_COLUMNS, "created_at")})
    .on_conflict_do_nothing(index_elements=["token_id", "key"])
    .returning(_KEYS.c.id)
)


@dataclass(frozen=True)
class NewEvent:
    """An event to store, its payload already cleaned (engine.intake.events.clean_payload)."""

    case_external_id: str
    event_id: str
    kind: str
    payload: dict[str, Any]
    occurred_at: datetime  # naive UTC
    received_at: datetime  # naive UTC


@dataclass(frozen=True)
class KeyedAnswer:
    """An Idempotency-Key and the answer to keep for it when the event is stored."""

    token_id: int
    key: str
    request_hash: str
    method: str
    path: str
    status_code: int


@dataclass(frozen=True)
class Answer:
    """What to send back: the new event's body, or the answer kept for a repeated key."""

    status_code: int
    body: str
    replayed: bool = False


@dataclass
class _Pending:
    """An event waiting for the writer, and its answer once written (None: full path).

    Its statements' parameters are made before it queues: the writer lock is held across
    processes, so the less Python runs under it, the more events the server stores.
    """

    event: NewEvent
    answer_for: Callable[[CaseFacts], str]
    keyed: KeyedAnswer | None
    make_due: list[Any]
    insert_event: list[Any]  # the case id is filled in under the lock
    answer: Answer | None = None
    done: bool = False


class _Statement:
    """A Core statement compiled once, run on a DBAPI cursor with its bind processors."""

    def __init__(self, statement: Executable, dialect: Any) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.names = list(compiled.positiontup or ())
        binds = dict(compiled.binds)  # by the names positiontup uses
        # Literals in the statement (status = 'active') are binds that carry their value.
        self.defaults = {k: b.value for k, b in binds.items() if not b.required}
        self.processors: dict[str, Callable[[Any], Any]] = {}
        for name in self.names:
            processor = binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.processors[name] = processor

    def bind(self, values: dict[str, Any]) -> list[Any]:
        """The statement's parameters from `values` by name, converted for the driver."""
        params = []
        for name in self.names:
            value = values[name] if name in values else self.defaults[name]
            processor = self.processors.get(name)
            params.append(value if processor is None or value is None else processor(value))
        return params

    def run(self, cursor: Any, values: dict[str, Any]) -> Any:
        """Execute with `values` by name; returns the first row or None."""
        return self.run_bound(cursor, self.bind(values))

    def run_bound(self, cursor: Any, params: list[Any]) -> Any:
        """Execute with parameters made by `bind`; returns the first row or None."""
        cursor.execute(self.sql, params)
        return cursor.fetchone()


class EventIntake:
    """The plain new-event case, in one short transaction on a pooled DBAPI connection."""

    def __init__(self, db: Database, writer: Callable[[], AbstractContextManager[Any]]) -> None:
        self.db = db
        self.writer = writer  # the API's writer lock: one SQLite writer at a time
        dialect = db.engine.dialect
        self.insert_event = _Statement(_INSERT_EVENT, dialect)
        self.make_due = _Statement(_MAKE_DUE, dialect)
        self.find_key = _Statement(_FIND_KEY, dialect)
        self.keep_answer = _Statement(_KEEP_ANSWER, dialect)
        self._case_id_at = self.insert_event.names.index("case_id")
        self._queue: list[_Pending] = []
        self._queue_lock = threading.Lock()

    @staticmethod
    def supports(db: Database) -> bool:
        """Whether this database can take the hot path (a pooled SQLite file)."""
        return db.is_sqlite and not isinstance(db.engine.pool, StaticPool)

    def accept(
        self,
        event: NewEvent,
        answer_for: Callable[[CaseFacts], str],
        keyed: KeyedAnswer | None = None,
    ) -> Answer | None:
        """Store the event; returns the answer, or None when the full path must decide.

        `answer_for(case)` builds the response body, or raises LookupError when the event rule
        (engine.intake.events.decide_event) does not store the event for this case; with
        `keyed`, the body is kept for the key too, and a key seen before with the same request
        answers with what was kept for it.

        Group commit: the request waits for the writer lock, and whoever holds it writes every
        event queued meanwhile (its own and those of the threads still waiting) in one
        transaction, each event in a savepoint of its own. A thread that finds its event
        written when its turn comes only picks up its answer. So the one SQLite writer commits
        once for many concurrent requests instead of once per request.
        """
        stored = Decision(Outcome.STORE, payload=event.payload)
        times = (event.received_at, event.occurred_at)
        pending = _Pending(
            event,
            answer_for,
            keyed,
            self.make_due.bind({"external_id": event.case_external_id, "due": event.received_at}),
            self.insert_event.bind(event_row(None, event.event_id, event.kind, stored, *times)),
        )
        with self._queue_lock:
            self._queue.append(pending)
        with self.writer():
            if not pending.done:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._write_batch(batch)
        return pending.answer

    def _write_batch(self, batch: list[_Pending]) -> None:
        raw = self.db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                for pending in batch:
                    pending.answer = self._one(cursor, pending)
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                for pending in batch:
                    pending.answer = None  # the full path decides each one again
                raise
            finally:
                for pending in batch:
                    pending.done = True
            cursor.close()
        finally:
            raw.close()  # back to the pool

    def _one(self, cursor: Any, pending: _Pending) -> Answer | None:
        """One event in its own savepoint: kept when stored, undone when the full path decides."""
        cursor.execute("SAVEPOINT event")
        try:
            answer = self._write(cursor, pending)
        except Exception:  # this event's trouble is the full path's to report, not the others'
            answer = None
        stored = answer is not None and not answer.replayed
        if not stored:
            cursor.execute("ROLLBACK TO event")
        cursor.execute("RELEASE event")
        return answer

    def _write(self, cursor: Any, pending: _Pending) -> Answer | None:
        keyed = pending.keyed
        if keyed is not None:
            found = self.find_key.run(cursor, {"token_id": keyed.token_id, "key": keyed.key})
            if found is not None:  # a repeated key: the kept answer, or a conflict (full path)
                return Answer(found[1], found[2], True) if found[0] == keyed.request_hash else None
        case = self.make_due.run_bound(cursor, pending.make_due)
        if case is None:
            return None  # unknown, closed or stopped: record_event says what happens
        try:
            body = pending.answer_for(CaseFacts(*case))
        except LookupError:
            return None
        params = pending.insert_event
        params[self._case_id_at] = case[0]
        if self.insert_event.run_bound(cursor, params) is None:
            return None  # the id exists: a replay or a conflict
        if keyed is not None and not self._keep(cursor, keyed, body, pending.event.received_at):
            return None
        return Answer(202, body)

    def _keep(self, cursor: Any, keyed: KeyedAnswer, body: str, now: datetime) -> bool:
        values = {
            "token_id": keyed.token_id,
            "key": keyed.key,
            "request_hash": keyed.request_hash,
            "method": keyed.method,
            "path": keyed.path[:500],
            "status_code": keyed.status_code,
            "response": body,
            "created_at": now,
        }
        return self.keep_answer.run(cursor, values) is not None
