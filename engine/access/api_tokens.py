"""API tokens: created with scopes, stored as sha256, listed and revoked.

A token is `mw_` + 43 random URL-safe characters, shown once at creation. Only its sha256 is
stored, which is enough because the token carries 256 random bits (no salt or slow hash
needed). Scopes: `read` (GET), `write` (everything else) and `publish` (taking journeys live:
publish, pause, unpause, retire, approve on a reviewer's word); `write` and `publish` each
include `read`, and neither includes the other.

`TokenCache` spares a server the database on every request: it keeps token hash -> (id,
scopes, revoked) for CACHE_SECONDS and writes `last_used_at` at most once a minute. Revoking a
token in this process takes effect at once; in another process (the CLI, or another web worker
of `mahnwerk serve --workers N`) within CACHE_SECONDS.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.core.clock import naive_utc
from engine.storage.api_models import ApiTokenRow

SCOPES = ("read", "write", "publish")
TOKEN_SCOPES = SCOPES  # the public name (engine.TOKEN_SCOPES)
PREFIX = "mw_"
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is refreshed at most this often
CACHE_SECONDS = 1.0  # how long a server trusts what it read about a token (revocation delay)
CACHE_ENTRIES = 1_000  # unknown tokens are cached too; a flood of them cannot grow memory
_revocations = itertools.count(1)
_generation = 0  # revoke_token moves it on: every TokenCache of this process starts over


class TokenError(ValueError):
    """A token request that cannot be carried out (unknown scope, unknown token)."""


@dataclass(frozen=True)
class TokenInfo:
    """A verified token: who is calling and what it may do."""

    id: int
    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        """Whether the token grants `scope` (write and publish include read)."""
        return scope in self.scopes or (
            scope == "read" and not self.scopes.isdisjoint(("write", "publish"))
        )


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session, name: str, scopes: list[str] | tuple[str, ...], now: datetime
) -> tuple[ApiTokenRow, str]:
    """Create a token; returns (row, the token itself, which is never stored)."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise TokenError(f"Scopes must be some of {', '.join(SCOPES)}; got {scopes!r}.")
    if not name.strip():
        raise TokenError("A token needs a name.")
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiTokenRow(
        name=name.strip()[:100],
        token_hash=hash_token(token),
        prefix=token[:10],
        scopes=sorted(set(scopes)),
        created_at=naive_utc(now),
    )
    session.add(row)
    session.flush()
    return row, token


def _well_formed(token: str) -> bool:
    return token.startswith(PREFIX) and len(token) <= 200


def verify_token(session: Session, token: str, now: datetime) -> TokenInfo | None:
    """The token's info when it exists and is not revoked; else None."""
    if not _well_formed(token):
        return None
    row = session.scalar(select(ApiTokenRow).where(ApiTokenRow.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None:
        return None
    stamp = naive_utc(now)
    if row.last_used_at is None or stamp - row.last_used_at >= TOUCH_EVERY:
        session.execute(
            update(ApiTokenRow).where(ApiTokenRow.id == row.id).values(last_used_at=stamp)
        )
    return TokenInfo(row.id, row.name, frozenset(row.scopes))


def list_tokens(session: Session, include_revoked: bool = False) -> list[ApiTokenRow]:
    """Tokens, oldest first."""
    query = select(ApiTokenRow).order_by(ApiTokenRow.id)
    if not include_revoked:
        query = query.where(ApiTokenRow.revoked_at.is_(None))
    return list(session.scalars(query))


def revoke_token(session: Session, token_id: int, now: datetime) -> ApiTokenRow:
    """Revoke a token by id (revoking twice keeps the first time)."""
    row = session.get(ApiTokenRow, token_id)
    if row is None:
        raise TokenError(f"There is no token with the id {token_id}.")
    if row.revoked_at is None:
        row.revoked_at = naive_utc(now)
    global _generation
    _generation = next(_revocations)
    return row


@dataclass
class _Entry:
    info: TokenInfo | None  # None: unknown or revoked
    read_at: float  # time.monotonic() of the database read
    last_used_at: datetime | None


SessionFactory = Callable[[], AbstractContextManager[Session]]


class TokenCache:
    """Verified tokens for a few seconds, so a request needs no database read to authenticate.

    `transaction` opens a session for the rare reads and `last_used_at` writes (the API passes
    its write transaction, which on SQLite queues behind other writers instead of colliding).
    """

    def __init__(self, transaction: SessionFactory, seconds: float = CACHE_SECONDS) -> None:
        self.transaction = transaction
        self.seconds = seconds
        self.lock = threading.Lock()
        self.entries: dict[str, _Entry] = {}
        self.generation = _generation

    def verify(self, token: str, now: datetime) -> TokenInfo | None:
        """The token's info when it exists and is not revoked; else None."""
        if not _well_formed(token):
            return None
        digest = hash_token(token)
        entry = self._fresh(digest)
        if entry is None:
            entry = self._load(digest)
        if entry.info is not None:
            self._touch(entry, now)
        return entry.info

    def cached(self, token: str, now: datetime) -> TokenInfo | None:
        """The token's info when this cache vouches for it without any database work; else None.

        None also when the entry is stale or last_used_at is due: `verify` then does the work.
        """
        if not _well_formed(token):
            return None
        entry = self._fresh(hash_token(token))
        if entry is None or entry.info is None or entry.last_used_at is None:
            return None
        if naive_utc(now) - entry.last_used_at >= TOUCH_EVERY:
            return None
        return entry.info

    def _fresh(self, digest: str) -> _Entry | None:
        with self.lock:
            if self.generation != _generation:
                self.entries.clear()
                self.generation = _generation
            entry = self.entries.get(digest)
        if entry is None or time.monotonic() - entry.read_at >= self.seconds:
            return None
        return entry

    def _load(self, digest: str) -> _Entry:
        with self.transaction() as session:
            row = session.execute(
                select(
                    ApiTokenRow.id,
                    ApiTokenRow.name,
                    ApiTokenRow.scopes,
                    ApiTokenRow.revoked_at,
                    ApiTokenRow.last_used_at,
                ).where(ApiTokenRow.token_hash == digest)
            ).first()
        info = None
        if row is not None and row.revoked_at is None:
            info = TokenInfo(row.id, row.name, frozenset(row.scopes))
        entry = _Entry(info, time.monotonic(), row.last_used_at if row is not None else None)
        with self.lock:
            if len(self.entries) >= CACHE_ENTRIES:
                self.entries.clear()
            self.entries[digest] = entry
        return entry

    def _touch(self, entry: _Entry, now: datetime) -> None:
        """Write last_used_at when it is a minute old (one request per token does it)."""
        stamp = naive_utc(now)
        with self.lock:
            if entry.last_used_at is not None and stamp - entry.last_used_at < TOUCH_EVERY:
                return
            entry.last_used_at = stamp
        assert entry.info is not None
        with self.transaction() as session:
            session.execute(
                update(ApiTokenRow)
                .where(ApiTokenRow.id == entry.info.id)
                .values(last_used_at=stamp)
            )
