"""Plan changes on PostgreSQL: two forms racing on one plan. The conditional UPDATE lets one
replace it; the other finds it moved (a stale form) or, with the same key, finds the change."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine import Database, Runtime, VirtualClock
from engine.payments import plan_change
from engine.payments.plan_book import agree_plan
from engine.payments.plan_change import PlanStale, change_plan
from engine.storage.models import EventRow, PaymentPlanRow
from tests.engine.payments.conftest import plan_doc
from tests.factories import make_case, publish

pytestmark = pytest.mark.postgres


def _race(
    db: Database, clock: VirtualClock, keys: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> tuple[list[Any], int, int]:
    with db.transaction() as s:
        version = publish(s, plan_doc(), clock.now)
        case_id = make_case(s, version, clock.now, external_id="PG-PLAN").id
    Runtime(db).tick(clock.now)
    with db.transaction() as s:
        old, _ = agree_plan(s, case_id, "k1", 3, date(2026, 3, 10), clock.now)
    both_checked = threading.Barrier(2, timeout=10)
    retire = plan_change._retire

    def after_the_checks(session: Any, plan_id: int, status: str) -> bool:
        both_checked.wait()  # both forms found the plan active before either moves it
        return retire(session, plan_id, status)

    monkeypatch.setattr(plan_change, "_retire", after_the_checks)
    answers: list[Any] = []

    def submit(key: str) -> None:
        try:
            with db.transaction() as s:
                first = clock.now.date() + timedelta(days=3)
                answers.append(change_plan(s, case_id, old.id, key, 2, first, clock.now))
        except PlanStale as exc:
            answers.append(exc)

    threads = [threading.Thread(target=submit, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    with db.transaction() as s:
        active = len(
            s.scalars(select(PaymentPlanRow).where(PaymentPlanRow.status == "active")).all()
        )
        changed = len(s.scalars(select(EventRow).where(EventRow.type == "plan_changed")).all())
    return answers, active, changed


def test_two_forms_for_one_plan_change_it_once(
    pg_db: Database, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers, active, changed = _race(pg_db, clock, ("c1", "c2"), monkeypatch)
    assert sorted(type(a).__name__ for a in answers) == ["PlanStale", "tuple"]
    assert (active, changed) == (1, 1)


def test_a_double_submit_racing_itself_stores_one_change(
    pg_db: Database, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers, active, changed = _race(pg_db, clock, ("c1", "c1"), monkeypatch)
    assert sorted(created for _view, created in answers) == [False, True]
    assert answers[0][0].id == answers[1][0].id
    assert (active, changed) == (1, 1)
