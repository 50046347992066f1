"""API tokens: created with scopes, stored as sha256, listed and revoked.

A token is `mw_` + 43 random URL-safe characters, shown once at creation. Only its sha256 is
stored, which is enough because the token carries 256 random bits (no salt or slow hash
needed). Scopes: `read` (GET) and `write` (everything else); `write` includes `read`.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.api_models import ApiTokenRow
from engine.clock import naive_utc

SCOPES = ("read", "write")
PREFIX = "mw_"
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is refreshed at most this often


class TokenError(ValueError):
    """A token request that cannot be carried out (unknown scope, unknown token)."""


@dataclass(frozen=True)
class TokenInfo:
    """A verified token: who is calling and what it may do."""

    id: int
    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        """Whether the token grants `scope` (write includes read)."""
        return scope in self.scopes or (scope == "read" and "write" in self.scopes)


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


def verify_token(session: Session, token: str, now: datetime) -> TokenInfo | None:
    """The token's info when it exists and is not revoked; else None."""
    if not token.startswith(PREFIX) or len(token) > 200:
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
    return row
