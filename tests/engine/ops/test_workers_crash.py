"""Workers on one PostgreSQL; one is killed or cut off mid-run; every due step runs exactly once.

The workers, the faults and the check are `bench/kill_check.py`'s (its docstring says what is
checked); here a fixed set of faults covers each kind and every named point of tick and
dispatch once, on a small day. `bench/kill_check.py --runs N` draws many more at random.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from engine import Database, Runtime
from engine.storage.models import OutboxRow
from tests.conftest import MONDAY
from tests.factories import example_doc, make_cases, publish

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "bench"))

import kill_check  # noqa: E402
from kill_check import Kill  # noqa: E402

CASES, BATCH = 300, 25

FAULTS = [
    Kill("sigkill", share=0.3),
    Kill("sigkill", share=0.7),
    Kill("terminate", share=0.4),
    Kill("point", point="tick_claimed", nth=2),
    Kill("point", point="tick_written", nth=2),
    Kill("point", point="tick_committed", nth=3),
    Kill("point", point="claimed", nth=2),
    Kill("point", point="accepted", nth=7),
    Kill("point", point="recording", nth=3),
    Kill("point", point="recorded", nth=5),
]


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_a_fault_on_one_worker_loses_and_doubles_no_step(
    pg_database_url: str, tmp_path: Path, fault: Kill
) -> None:
    db = Database(pg_database_url)
    now = kill_check.prepare(db, CASES)
    db.dispose()

    result = kill_check.run_once(pg_database_url, now, fault, CASES, 2, BATCH, tmp_path)

    assert result.struck, f"{fault} did not strike: the victim finished first"
    findings = result.findings
    assert findings["cases"] == CASES and findings["steps"] == CASES * len(kill_check.PATH)
    assert findings["lost_steps"] == findings["doubled_steps"] == 0
    assert findings["outbox_duplicates"] == findings["message_audit_gaps"] == 0
    assert findings["unresolved_messages"] == findings["sandboxed_never_handed"] == 0
    assert findings["clean"], findings


@pytest.mark.postgres
def test_the_check_finds_a_doubled_step_and_a_lost_one(
    pg_database_url: str, tmp_path: Path
) -> None:
    """The checker is not blind: a day run twice without the claim's lock, and a case left."""
    db = Database(pg_database_url)
    now = kill_check.prepare(db, 20)
    Runtime(db).tick(now)
    with db.engine.begin() as connection:  # one case stepped again, another never stepped
        connection.exec_driver_sql(
            "INSERT INTO audit (at, case_id, version_id, node_id, kind, rule, detail) "
            "SELECT at, case_id, version_id, node_id, kind, rule, detail FROM audit "
            "WHERE kind = 'transition' AND node_id = 'reminder' ORDER BY id LIMIT 1"
        )
        connection.exec_driver_sql(
            "UPDATE cases SET node_id = 'wait_7' WHERE id = (SELECT max(id) FROM cases)"
        )

    findings = kill_check.check(db, 20, tmp_path / "none.log", struck=False)
    db.dispose()

    assert findings["doubled_steps"] == 1 and findings["lost_steps"] >= 1
    assert not findings["clean"]


@pytest.mark.postgres
def test_the_outbox_refuses_a_second_row_for_the_same_step(pg_db: Database) -> None:
    with pg_db.transaction() as session:
        version = publish(session, example_doc("minimal"), MONDAY)
        make_cases(session, version, MONDAY, 1, due_date="2026-02-16")

    Runtime(pg_db).tick(MONDAY)
    assert kill_check.unique_key_exists(pg_db)  # in the catalog, not only in the model
    with pg_db.transaction() as session:
        row = session.query(OutboxRow).one()
        copy = {c.name: getattr(row, c.name) for c in OutboxRow.__table__.c if c.name != "id"}
    with pytest.raises(IntegrityError), pg_db.transaction() as session:
        session.execute(OutboxRow.__table__.insert(), copy)


def test_the_unique_key_is_in_the_sqlite_catalog_too(db: Database) -> None:
    assert kill_check.unique_key_exists(db)
