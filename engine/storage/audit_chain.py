"""The tamper-evident audit trail: every audit row carries the hash of its predecessor.

One chain per case (its predecessor is the case's previous audit row), written inside the
transaction that already owns the case, so concurrent workers never wait on each other; rows
without a case form one 'system' chain (rare writes: lifecycle, retries, debtor changes),
serialized on PostgreSQL by a transaction-scoped advisory lock. A row's hash is
sha256(previous hash + the row's canonical form); see docs/compliance.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, event, func, inspect, select, text
from sqlalchemy.orm import Session

from engine.core.clock import naive_utc
from engine.storage.db import _json_default, in_chunks
from engine.storage.models import AuditRow

GENESIS = bytes(32)  # the predecessor of a chain's first row (hashes are 32 raw bytes)
SYSTEM = "system"  # the chain of rows without a case
# Any constant will do: one lock for the system chain (PostgreSQL advisory locks are 64-bit).
_SYSTEM_LOCK = 0x4D61686E  # "Mahn"
_CHUNK = 500  # case ids per heads query
AUDIT = AuditRow.__table__
FIELDS = ("at", "case_id", "version_id", "node_id", "kind", "rule", "detail")


def _iso(at: datetime | str) -> str:
    """A moment as naive UTC ISO text with microseconds and a 'Z' (stored text or datetime)."""
    if isinstance(at, str):  # SQLite's stored text '2026-01-12 14:01:00.000000'
        at = datetime.fromisoformat(at)
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat("T", "microseconds") + "Z"


def canonical(
    at: datetime | str,
    case_id: int | None,
    version_id: int | None,
    node_id: str | None,
    kind: str,
    rule: str | None,
    detail: Any,
) -> str:
    """The row's canonical form: compact JSON of its fields in a fixed order, `case_id` last.

    Exactly `json.dumps({"at": ..., "detail": ..., "kind": ..., "node_id": ..., "rule": ...,
    "version_id": ..., "case_id": ...}, separators=(",", ":"), ensure_ascii=False)` with the
    detail's keys sorted, built by hand: the tick hashes every row it writes, and a batch's rows
    share all but their case id, so the shared part's hash state is computed once (`_prefix`).
    """
    return _prefix(_iso(at), version_id, node_id, kind, rule, detail_json(detail)) + _tail(case_id)


def detail_json(detail: Any) -> str:
    """A detail's canonical JSON: sorted keys, no spaces, Decimals and dates as strings."""
    return json.dumps(
        detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
    )


_encode = json.encoder.encode_basestring  # the C encoder of json.dumps(..., ensure_ascii=False)


def _value(value: Any) -> str:
    """A field's JSON: ids and strings without json.dumps' call overhead."""
    if value is None:
        return "null"
    kind = type(value)
    if kind is str:
        return _encode(value)
    if kind is int:
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _prefix(
    iso: str, version_id: int | None, node_id: str | None, kind: str, rule: str | None, detail: str
) -> str:
    """The canonical form up to the case id (which a batch's rows of one rule do not share)."""
    # `iso` holds digits, '-', ':', '.', 'T' and 'Z' only: no escaping needed.
    return (
        '{"at":"'
        + iso
        + '","detail":'
        + detail
        + ',"kind":'
        + _value(kind)
        + ',"node_id":'
        + _value(node_id)
        + ',"rule":'
        + _value(rule)
        + ',"version_id":'
        + _value(version_id)
        + ',"case_id":'
    )


def _tail(case_id: int | None) -> str:
    return ("null" if case_id is None else str(case_id)) + "}"


def link(prev_hash: bytes, form: str) -> bytes:
    """A row's hash: sha256 over its canonical form and then its predecessor's hash (32 bytes)."""
    return hashlib.sha256(form.encode() + prev_hash).digest()


def _raw(value: bytes | memoryview | None) -> bytes:
    """A stored hash as bytes (psycopg2 reads bytea as memoryview); GENESIS for none."""
    return GENESIS if value is None else bytes(value)


def heads(
    connection: Connection, case_ids: Iterable[int | None], locked: bool = False
) -> dict[int | None, bytes]:
    """The last hash of each chain (GENESIS for an empty or unchained one).

    On PostgreSQL the chains are locked first (the cases' rows, the system chain's advisory
    lock) unless the caller holds them already (`locked`): two transactions can then never
    append to one chain from the same head.
    """
    wanted = sorted({c for c in case_ids if c is not None})
    system = any(c is None for c in case_ids)
    postgres = connection.dialect.name == "postgresql"
    found: dict[int | None, str] = {}
    if system:
        if postgres:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SYSTEM_LOCK})
        last = connection.execute(
            select(AUDIT.c.hash).where(AUDIT.c.case_id.is_(None)).order_by(AUDIT.c.id.desc())
        ).first()
        found[None] = _raw(last[0]) if last else GENESIS
    for chunk in in_chunks(wanted, _CHUNK):
        if postgres and not locked:  # in id order: two writers never lock in opposite orders
            connection.execute(
                text("SELECT id FROM cases WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"),
                {"ids": chunk},
            )
        last_ids = (
            select(func.max(AUDIT.c.id))
            .where(AUDIT.c.case_id.in_(chunk))
            .group_by(AUDIT.c.case_id)
            .scalar_subquery()
        )
        rows = connection.execute(
            select(AUDIT.c.case_id, AUDIT.c.hash).where(AUDIT.c.id.in_(last_ids))
        )
        found.update({case_id: _raw(value) for case_id, value in rows})
    for case_id in wanted:
        found.setdefault(case_id, GENESIS)
    return found


def chain_values(
    connection: Connection,
    rows: Sequence[Sequence[Any]],
    locked: bool = False,
    known: Mapping[int, bytes] | None = None,
) -> list[tuple[Any, ...]]:
    """Rows (tuples) in FIELDS order, in insert order, each followed by prev_hash and hash.

    `known`: the chains' heads (GENESIS for an empty one) that the caller read under the write
    lock it still holds (the SQLite tick reads them in its claim); chains it lacks are read here.
    """
    if not rows:
        return []
    last: dict[int | None, bytes] = dict(known or ())
    missing = {row[1] for row in rows if row[1] not in last} if known is not None else None
    if missing is None or missing:
        last.update(heads(connection, missing or [row[1] for row in rows], locked))
    chained: list[tuple[Any, ...]] = []
    # A batch's rows share their moment and, per rule, their node, kind and detail dict: the
    # hash state of the form up to the case id is computed once per (moment, detail, kind,
    # node, rule, version) and copied for each row; the rows hold these objects, so their ids
    # stay theirs for the whole call.
    prefixes: dict[tuple[Any, ...], Any] = {}
    get, append = prefixes.get, chained.append
    for row in rows:
        at, case_id, version_id, node_id, kind, rule, detail = row
        key = (at, id(detail), kind, node_id, rule, version_id)  # a datetime caches its hash
        start = get(key)
        if start is None:
            form = _prefix(_iso(at), version_id, node_id, kind, rule, detail_json(detail))
            start = prefixes[key] = hashlib.sha256(form.encode())
        prev = last[case_id]
        state = start.copy()
        state.update((b"%d}" % case_id if case_id is not None else b"null}") + prev)
        last[case_id] = digest = state.digest()
        append((*row, prev, digest))
    return chained


CHAINED = (*FIELDS, "prev_hash", "hash")


def chain_dicts(session: Session, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Audit rows as dicts (an `insert(AuditRow)` parameter list) with their hashes set."""
    session.flush()  # audit rows still pending in the session come first in their chains
    values = [_fields(row) for row in rows]
    chained = chain_values(session.connection(), values)
    return [dict(zip(CHAINED, row, strict=True)) for row in chained]


def _fields(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """A row's FIELDS as stored: naive UTC time, an absent detail as {}."""
    at = row["at"]
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    detail = row.get("detail")
    return (
        at,
        row.get("case_id"),
        row.get("version_id"),
        row.get("node_id"),
        row["kind"],
        row.get("rule"),
        {} if detail is None else detail,
    )


def add_case_audit(session: Session, case: Any, now: datetime, kind: str, **detail: Any) -> None:
    """An audit row on a case (a CaseRow, or None: a row of no case) where it stands now; the
    chain's hash is added when the session flushes."""
    session.add(
        AuditRow(
            at=naive_utc(now),
            case_id=case.id if case is not None else None,
            version_id=case.version_id if case is not None else None,
            node_id=case.node_id if case is not None else None,
            kind=kind,
            detail=detail,
        )
    )


@event.listens_for(Session, "before_flush")
def _chain_new_rows(session: Session, _context: Any, _instances: Any) -> None:
    """Hash the AuditRow objects a flush is about to insert (every ORM writer passes here)."""
    new = [obj for obj in session.new if isinstance(obj, AuditRow) and obj.hash is None]
    if not new:
        return
    new.sort(key=lambda obj: inspect(obj).insert_order)  # the order the flush inserts them
    rows = [_fields({name: getattr(obj, name) for name in FIELDS}) for obj in new]
    for obj, row in zip(new, chain_values(session.connection(), rows), strict=True):
        obj.at, obj.detail, obj.prev_hash, obj.hash = row[0], row[6], row[7], row[8]


# --- verification ---------------------------------------------------------------------------

CHANGED, DELETED, INSERTED, REORDERED = "changed", "deleted", "inserted", "reordered"


@dataclass
class Break:
    """The first row where a chain does not hold, and what is wrong with it."""

    id: int
    case_id: int | None
    what: str  # CHANGED, DELETED, INSERTED or REORDERED


@dataclass
class Verdict:
    """What `verify` found: counts, the first break if any, the chains' combined head."""

    rows: int = 0
    chains: int = 0
    unchained: int = 0  # rows written before the chain existed (no hash)
    first_chained: int | None = None  # the id from which rows are chained
    broken: Break | None = None
    head: str = ""  # one hash over every chain's last hash, in the order verify read them

    @property
    def ok(self) -> bool:
        """Whether every chain holds."""
        return self.broken is None


_SELECT = (
    "SELECT id, at, case_id, version_id, node_id, kind, rule, detail, prev_hash, hash FROM audit"
)


def _stream(connection: Connection, batch: int) -> Iterator[tuple[Any, ...]]:
    """Every audit row, chain by chain, each chain in id order; bounded memory."""
    order = " ORDER BY case_id, id"
    if connection.dialect.name == "sqlite":  # raw rows: 1,000,000 of them must read fast
        cursor = connection.exec_driver_sql(_SELECT + order)
        loads = json.loads
        while chunk := cursor.fetchmany(batch):
            for row in chunk:
                yield (*row[:7], loads(row[7]) if row[7] is not None else None, *row[8:])
        return
    result = connection.execution_options(stream_results=True, yield_per=batch).execute(
        text(_SELECT + order).columns(*(AUDIT.c[name] for name in ("id", *CHAINED)))
    )
    for row in result:  # psycopg2 reads bytea as memoryview
        *fields, prev, own = row
        yield (*fields, None if prev is None else bytes(prev), None if own is None else bytes(own))


def verify(connection: Connection, batch: int = 5000) -> Verdict:
    """Check every chain; stop at the first break, naming the row and what is wrong."""
    verdict = Verdict()
    rows = _stream(connection, batch)
    fingerprint = hashlib.sha256()
    _last_id = 0
    chain: Any = object()
    last = before = GENESIS  # the hashes of the last two rows of this chain
    started = False
    wanted: bytes | None = None  # a missing predecessor's hash: deleted, or later (reordered)
    suspect: tuple[Any, ...] | None = None  # a row whose own hash fails: changed or inserted
    for row in rows:
        row_id, at, case_id, version_id, node_id, kind, rule, detail, prev, own = row
        verdict.rows += 1
        if case_id != chain:
            if wanted is not None or suspect is not None:
                break
            if started:
                fingerprint.update(f"{chain}:{last.hex()}\n".encode())
            chain, last, before, started, _last_id = case_id, GENESIS, GENESIS, False, 0
            verdict.chains += 1
        if wanted is not None:  # looking ahead in the broken chain for the missing row
            if own == wanted:
                verdict.broken.what = REORDERED  # type: ignore[union-attr]
                wanted = None
                break
            continue
        if suspect is not None:  # the row after one whose own hash failed
            s_id, s_case = suspect[0], suspect[2]
            what = INSERTED if prev == last else CHANGED
            verdict.broken = Break(s_id, s_case, what)
            suspect = None
            break
        if own is None:
            if started:  # an unhashed row inside a chain: put there after the chain began
                verdict.broken = Break(row_id, case_id, INSERTED)
                break
            verdict.unchained += 1
            continue
        if verdict.first_chained is None or row_id < verdict.first_chained:
            verdict.first_chained = row_id
        started = True
        if (
            link(prev or b"", canonical(at, case_id, version_id, node_id, kind, rule, detail))
            != own
        ):
            suspect = row
            continue
        if prev != last:
            if prev == before:  # links past its predecessor: that one was put in between
                verdict.broken = Break(_last_id, case_id, INSERTED)
                break
            verdict.broken = Break(row_id, case_id, DELETED)
            wanted = prev
            continue
        before, last, _last_id = last, own, row_id
    if suspect is not None:  # the chain's last row failed its own hash
        verdict.broken = Break(suspect[0], suspect[2], CHANGED)
    if verdict.ok:
        if started:
            fingerprint.update(f"{chain}:{last.hex()}\n".encode())
        verdict.head = fingerprint.hexdigest()
    return verdict


@dataclass(frozen=True)
class ChainHead:
    """The newest row of the system chain (lifecycle, publishes, retries): its id, time, hash."""

    row_id: int
    at: datetime
    hash: str  # hex


def audit_head(session: Session) -> ChainHead | None:
    """The system chain's head, for the compliance report (one index probe); None if unchained.

    Every case chain has its own head; `verify` folds them all into one fingerprint.
    """
    row = session.execute(
        select(AUDIT.c.id, AUDIT.c.at, AUDIT.c.hash)
        .where(AUDIT.c.case_id.is_(None), AUDIT.c.hash.isnot(None))
        .order_by(AUDIT.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else ChainHead(row.id, row.at, bytes(row.hash).hex())
