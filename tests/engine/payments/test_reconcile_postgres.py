"""Reconciliation on PostgreSQL: the same statement read by two workers at the same moment
books each payment once (the unique line id and event id decide, not the timing)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine import Database, VirtualClock
from engine.payments.reconcile import ImportSummary, import_statement
from engine.storage.models import EventRow, StatementLineRow
from tests.factories import example_doc, make_case, publish

pytestmark = pytest.mark.postgres
DATA = Path(__file__).parents[2] / "connectors" / "data"


def test_two_imports_of_one_file_at_once_book_each_line_once(
    pg_db: Database, clock: VirtualClock
) -> None:
    with pg_db.transaction() as s:
        version = publish(s, example_doc("minimal"), clock.now)
        for external_id in ("INV-2001", "INV-2000", "INV-2003", "INV-2002"):
            make_case(s, version, clock.now, external_id=external_id, amount="120.00")
    data = (DATA / "camt053_v02.xml").read_bytes()
    barrier = threading.Barrier(2)
    results: list[ImportSummary] = []
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            with pg_db.transaction() as s:
                barrier.wait(timeout=10)
                results.append(import_statement(s, data, name, name, clock.now, prefix="MW"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert errors == []
    assert sorted(r.new for r in results) == [0, 4]
    with pg_db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(StatementLineRow)) == 4
        payments = s.scalar(
            select(func.count()).select_from(EventRow).where(EventRow.type == "payment_received")
        )
        assert payments == 2


def test_matching_and_assignment_work_on_postgresql(pg_db: Database, clock: VirtualClock) -> None:
    with pg_db.transaction() as s:
        version = publish(s, example_doc("minimal"), clock.now)
        make_case(s, version, clock.now, external_id="INV-2001", amount="120.00")
        make_case(s, version, clock.now, external_id="INV-2002", reference="RE-2002-77")
    mt940 = (DATA / "mt940.sta").read_bytes().replace(b"INV-2002", b"RE-2002-77")
    with pg_db.transaction() as s:
        summary = import_statement(s, mt940, "m.sta", "anna", clock.now, prefix="MW")

    assert (summary.matched, summary.unmatched, summary.ignored) == (2, 0, 1)
    with pg_db.transaction() as s:
        rules = sorted(
            s.scalars(select(StatementLineRow.rule).where(StatementLineRow.rule.isnot(None)))
        )
    assert rules == ["reference", "rf"]
