"""Idempotency-Key records: the first answer to a request, replayed when the request repeats.

A key belongs to one token. The request hash covers method, path and body, so the same key
with a different request is a conflict the caller must hear about, not a silent replay.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.core.clock import naive_utc
from engine.storage.api_models import IdempotencyRow

KEEP_FOR = timedelta(days=7)
MAX_KEY: int = IdempotencyRow.__table__.c.key.type.length  # characters of an Idempotency-Key


@dataclass(frozen=True)
class StoredAnswer:
    """A response kept for a key."""

    request_hash: str
    status_code: int
    body: str


def request_hash(method: str, path: str, body: bytes) -> str:
    """A fingerprint of one request."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def find_answer(session: Session, token_id: int, key: str) -> StoredAnswer | None:
    """The answer stored for this token and key, if any."""
    row = session.scalar(
        select(IdempotencyRow).where(IdempotencyRow.token_id == token_id, IdempotencyRow.key == key)
    )
    return StoredAnswer(row.request_hash, row.status_code, row.response) if row else None


def store_answer(
    session: Session,
    token_id: int,
    key: str,
    fingerprint: str,
    method: str,
    path: str,
    answer: tuple[int, str],
    now: datetime,
) -> StoredAnswer:
    """Keep the answer; when another request stored one first, return that one instead."""
    status_code, body = answer
    row = IdempotencyRow(
        token_id=token_id,
        key=key,
        request_hash=fingerprint,
        method=method.upper(),
        path=path[:500],
        status_code=status_code,
        response=body,
        created_at=naive_utc(now),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        found = find_answer(session, token_id, key)
        assert found is not None
        return found
    return StoredAnswer(fingerprint, status_code, body)


def forget_old(session: Session, now: datetime) -> int:
    """Delete records older than KEEP_FOR; returns how many."""
    result = session.execute(
        delete(IdempotencyRow).where(IdempotencyRow.created_at < naive_utc(now - KEEP_FOR))
    )
    return int(result.rowcount or 0)
