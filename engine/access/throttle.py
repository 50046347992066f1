"""Sign-in throttling: failed attempts counted per account and per client address, in SQL.

The counters live in the database, not in a web worker's memory: `mahnwerk serve` runs one
Granian worker per core and any of them may answer a login, so per-process counters (as
Flask-Limiter's memory storage keeps them) would give an attacker one budget per worker and
forget everything on a restart. Only failures count, so people who type their password right
are never slowed by colleagues behind the same address. Keys are stored as sha256 digests (no
email addresses or IP addresses kept), and rows older than the window are pruned on each write.

When either count reaches its limit the login is refused without checking the password, until
the oldest counted failure leaves the window. A per-account limit lets anyone lock an account
out for that window; that is the price of stopping password guessing from many addresses.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.core.clock import naive_utc
from engine.storage.models import LoginFailureRow

ACCOUNT, ADDRESS = "account", "address"


@dataclass(frozen=True)
class LoginLimits:
    """How many failed sign-ins an account and a client address may have within `window`."""

    per_account: int = 10
    per_address: int = 50
    window: timedelta = timedelta(minutes=15)


def _digest(scope: str, value: str) -> str:
    return hashlib.sha256(f"{scope}\0{value.strip().lower()}".encode()).hexdigest()


def _keys(email: str, address: str, limits: LoginLimits) -> list[tuple[str, int]]:
    return [
        (_digest(ACCOUNT, email), limits.per_account),
        (_digest(ADDRESS, address), limits.per_address),
    ]


def login_wait(
    session: Session, email: str, address: str, now: datetime, limits: LoginLimits
) -> timedelta | None:
    """How long this account or address must wait before the next try, or None if it may."""
    since = naive_utc(now) - limits.window
    waits = []
    for key, limit in _keys(email, address, limits):
        times = session.scalars(
            select(LoginFailureRow.at)
            .where(LoginFailureRow.key == key, LoginFailureRow.at > since)
            .order_by(LoginFailureRow.at.desc())
            .limit(limit)
        ).all()
        if len(times) >= limit:  # free again when the limit-th newest failure leaves the window
            waits.append(times[-1] - since)
    return max(waits) if waits else None


def record_login_failure(
    session: Session, email: str, address: str, now: datetime, limits: LoginLimits
) -> None:
    """Count a failed sign-in against the account and the address; forget expired ones."""
    at = naive_utc(now)
    session.execute(delete(LoginFailureRow).where(LoginFailureRow.at <= at - limits.window))
    for key, _ in _keys(email, address, limits):
        session.add(LoginFailureRow(key=key, at=at))
    session.flush()


def forget_account_failures(session: Session, email: str) -> None:
    """A successful sign-in clears the account's count (not the address's: that would let one
    valid account reset an attacker's budget)."""
    session.execute(delete(LoginFailureRow).where(LoginFailureRow.key == _digest(ACCOUNT, email)))
