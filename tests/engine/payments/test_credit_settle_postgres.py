"""Settling credits on PostgreSQL: two staff settle one credit at the same moment (it is
settled once), and two credits are set off against one case at once (the case's row lock lets
the second see the first's payment, so together they take no more than the case owes)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from engine import (
    CreditActor,
    CreditRefused,
    Database,
    Runtime,
    Settlement,
    VirtualClock,
    debtor_credits,
    record_event,
    settle_credit,
)
from engine.payments import credit_settle
from engine.storage.models import AuditRow, DebtorCreditRow, EventRow
from tests.engine.payments.conftest import paying_doc
from tests.factories import case_row, make_case, publish

pytestmark = pytest.mark.postgres


def _credits(db: Database, clock: VirtualClock, payments: list[str]) -> tuple[int, list[int]]:
    """C-1 (40.00) and C-2 (60.00) of one person; each payment arrives for C-1 and keeps its
    surplus (the first closes C-1). Returns the debtor and the credits."""
    with db.transaction() as s:
        version = publish(s, paying_doc(methods=["card"]), clock.now)
        for ext, amount in (("C-1", "40.00"), ("C-2", "60.00")):
            make_case(s, version, clock.now, external_id=ext, amount=amount, debtor_id="P-PG")
    Runtime(db).tick(clock.now)
    for n, amount in enumerate(payments):
        with db.transaction() as s:
            payload = {"amount": amount, "currency": "EUR"}
            record_event(s, "C-1", f"bank:{n}", "payment_received", payload, clock.now)
        Runtime(db).tick(clock.now)
    with db.transaction() as s:
        debtor = case_row(s, "C-1").debtor_id
        ids = list(s.scalars(select(DebtorCreditRow.id).order_by(DebtorCreditRow.id)))
    assert debtor is not None
    return debtor, ids


def _race(
    db: Database, clock: VirtualClock, debtor: int, jobs: list[tuple[int, Settlement]]
) -> tuple[list[Any], list[BaseException]]:
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = []
    errors: list[BaseException] = []

    def worker(credit: int, how: Settlement, n: int) -> None:
        try:
            with db.transaction() as s:
                barrier.wait(timeout=10)
                actor = CreditActor(f"staff{n}@example.org", n, "manager")
                results.append(settle_credit(s, debtor, credit, how, actor, clock.now))
        except BaseException as exc:  # reported to the test
            errors.append(exc)

    threads = [
        threading.Thread(target=worker, args=(credit, how, n))
        for n, (credit, how) in enumerate(jobs)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results, errors


def _slow_claims(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each claim pauses half a second inside its transaction, so the other would overlap."""
    claimed: list[str] = []
    claim = credit_settle._claim

    def slowly(*args: Any, **kwargs: Any) -> bool:
        time.sleep(0.5)
        done = claim(*args, **kwargs)
        claimed.append(threading.current_thread().name)
        return done

    monkeypatch.setattr(credit_settle, "_claim", slowly)
    return claimed


def test_two_staff_settling_one_credit_at_once_settle_it_once(
    pg_db: Database, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    debtor, (credit,) = _credits(pg_db, clock, ["65.50"])
    _slow_claims(monkeypatch)
    same = Settlement("set_off", case_ref="C-2")

    results, errors = _race(pg_db, clock, debtor, [(credit, same), (credit, same)])

    assert errors == []
    assert sorted(r.replayed for r in results) == [False, True]
    with pg_db.transaction() as s:
        booked = s.scalars(select(EventRow.payload).where(EventRow.event_id.like("credit:%")))
        assert [p["amount"] for p in booked] == ["25.50"]
        settled = select(func.count()).where(AuditRow.kind == "debtor_credit_settled")
        assert s.scalar(settled) == 1


def test_a_pay_back_and_a_set_off_at_once_record_one_of_them(
    pg_db: Database, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    debtor, (credit,) = _credits(pg_db, clock, ["65.50"])
    _slow_claims(monkeypatch)
    back = Settlement("paid_back", paid_on=clock.now.date(), reference="SEPA-1")

    results, errors = _race(
        pg_db, clock, debtor, [(credit, back), (credit, Settlement("set_off", case_ref="C-2"))]
    )

    assert len(results) == 1 and len(errors) == 1
    assert isinstance(errors[0], CreditRefused) and errors[0].field == "credit"
    with pg_db.transaction() as s:
        row = s.get(DebtorCreditRow, credit)
        assert row.state == results[0].state
        events = s.scalar(select(func.count()).where(EventRow.event_id.like("credit:%")))
        assert events == (1 if row.state == "set_off" else 0)


def test_two_credits_set_off_against_one_case_at_once_take_no_more_than_it_owes(
    pg_db: Database, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 80.00 for C-1 (owes 40.00) keeps 40.00; a checkout's surplus of 50.00 is kept as well.
    debtor, credits = _credits(pg_db, clock, ["80.00"])
    with pg_db.transaction() as s:
        other = DebtorCreditRow(
            debtor_id=debtor, amount_minor=5000, currency="EUR", state="kept",
            created_at=clock.now.replace(tzinfo=None),
        )  # fmt: skip
        s.add(other)
        s.flush()
        credits.append(other.id)
    _slow_claims(monkeypatch)
    to_c2 = Settlement("set_off", case_ref="C-2")

    results, errors = _race(pg_db, clock, debtor, [(credits[0], to_c2), (credits[1], to_c2)])
    Runtime(pg_db).tick(clock.now)

    assert errors == []
    assert sum(r.settled_minor for r in results) == 6000  # C-2's 60.00, not 90.00
    assert sum(r.rest_minor for r in results) == 3000
    with pg_db.transaction() as s:
        c2 = case_row(s, "C-2")
        assert (c2.status, c2.outcome) == ("closed", "paid")
        assert [c.amount_minor for c in debtor_credits(s, debtor)] == [3000]  # nothing new
