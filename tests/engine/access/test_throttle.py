"""engine.access.throttle: failures per key in a sliding window, pruned, hashed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from engine import Database, LoginLimits, VirtualClock, login_wait, record_login_failure
from engine.access.throttle import forget_account_failures
from engine.storage.models import LoginFailureRow

LIMITS = LoginLimits(per_account=2, per_address=3, window=timedelta(minutes=10))


def test_the_wait_ends_when_the_oldest_counted_failure_leaves_the_window(
    db: Database, clock: VirtualClock
) -> None:
    with db.transaction() as session:
        record_login_failure(session, "a@example.org", "10.0.0.1", clock.now, LIMITS)
        assert login_wait(session, "a@example.org", "10.0.0.1", clock.now, LIMITS) is None
        later = clock.now + timedelta(minutes=4)
        record_login_failure(session, "A@example.org ", "10.0.0.2", later, LIMITS)
        assert login_wait(session, "a@example.org", "10.0.0.3", later, LIMITS) == timedelta(
            minutes=6
        )
        free = clock.now + timedelta(minutes=10)
        assert login_wait(session, "a@example.org", "10.0.0.3", free, LIMITS) is None


def test_rows_hold_digests_and_expired_ones_are_pruned(db: Database, clock: VirtualClock) -> None:
    with db.transaction() as session:
        record_login_failure(session, "a@example.org", "10.0.0.1", clock.now, LIMITS)
        keys = set(session.scalars(select(LoginFailureRow.key)))
        assert len(keys) == 2 and all(len(k) == 64 and "@" not in k for k in keys)
        record_login_failure(
            session, "b@example.org", "10.0.0.1", clock.now + LIMITS.window, LIMITS
        )
        assert len(session.scalars(select(LoginFailureRow)).all()) == 2


def test_a_success_forgets_the_account_but_not_the_address(
    db: Database, clock: VirtualClock
) -> None:
    with db.transaction() as session:
        for _ in range(3):
            record_login_failure(session, "a@example.org", "10.0.0.1", clock.now, LIMITS)
        forget_account_failures(session, "a@example.org")
        assert login_wait(session, "a@example.org", "10.0.0.2", clock.now, LIMITS) is None
        assert login_wait(session, "z@example.org", "10.0.0.1", clock.now, LIMITS) is not None
