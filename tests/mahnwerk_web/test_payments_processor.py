"""The web process's payment thread: it goes on while its rounds come back full, after a lull."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from engine import Database, PaymentProviders
from engine.core.clock import naive_utc
from engine.storage.models import ProviderEventRow
from mahnwerk_web.payments import BATCH, _Processor
from tests.conftest import MONDAY


def test_the_thread_processes_more_than_one_round_of_stored_events(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'hooks.sqlite3'}")
    db.create_all()
    stored = 2 * BATCH + 50
    with db.transaction() as session:
        session.add_all(
            ProviderEventRow(
                provider="gone",  # no longer configured: each event ends "ignored"
                event_id=f"evt_{n}",
                kind="payment.paid",
                payment_id=None,
                body="{}",
                received_at=naive_utc(MONDAY),
                tries=0,
            )
            for n in range(stored)
        )
    processor = _Processor()
    processor.kick(db, PaymentProviders({}), lambda: MONDAY)
    assert processor.running.acquire(timeout=60)  # the thread ended
    with db.transaction() as session:
        left = session.scalar(select(func.count()).where(ProviderEventRow.processed_at.is_(None)))
    assert left == 0
    db.dispose()
