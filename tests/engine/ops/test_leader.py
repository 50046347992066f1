"""Leader election: one process runs the single-cursor jobs."""

from __future__ import annotations

import pytest

from engine import Database
from engine.ops.leader import Leadership


def test_sqlite_always_leads(db: Database) -> None:
    assert Leadership(db).is_leader()


@pytest.mark.postgres
def test_only_one_postgres_process_leads_until_it_resigns(pg_database_url: str) -> None:
    first, second = Database(pg_database_url), Database(pg_database_url)
    leader, follower = Leadership(first), Leadership(second)
    try:
        assert leader.is_leader()
        assert not follower.is_leader()
        assert leader.is_leader()  # keeps the lock it holds

        leader.resign()

        assert follower.is_leader()
    finally:
        leader.resign()
        follower.resign()
        first.dispose()
        second.dispose()
