"""The task inbox in a browser: an agent claims a call task, records 'Promise taken' with a date,
and the case moves on to the journey's promise step; the pages pass axe."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from engine import Database, Runtime, TaskRow, add_user, utcnow
from engine.delivery.sandbox import SandboxDispatcher
from tests.e2e.axe import assert_no_serious_axe_violations
from tests.e2e.conftest import _signed_in
from tests.engine.nodes.test_task import call_doc
from tests.factories import case_row, make_case, publish

pytestmark = pytest.mark.e2e
AGENT = ("agent-e2e@example.org", "agent-password-1")


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """The end-to-end server's database, opened from the test."""
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def agent_page(browser: Any, server: str, db: Database) -> Iterator[Any]:
    """A browser tab signed in as an agent (made here: the session's users have no agent)."""
    with db.transaction() as session:
        add_user(session, AGENT[0], AGENT[1], "collector", utcnow())
    yield from _signed_in(browser, server, AGENT)


def test_an_agent_claims_a_call_and_records_a_promise(agent_page: Any, db: Database) -> None:
    page = agent_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    now = utcnow()
    with db.transaction() as session:
        version = publish(session, call_doc() | {"key": "e2e-tasks"}, now)
        make_case(session, version, now, phone="+4915112345678", external_id="E2E-T1")
    Runtime(db).tick(now)
    at = now
    while not SandboxDispatcher(db, workers=1).dispatch(at).tasks:  # a call waits for the hours
        at += timedelta(hours=1)
        assert at < now + timedelta(days=3), "no call task was made"
    with db.transaction() as session:
        task_id = (
            session.query(TaskRow)
            .filter(TaskRow.case_id == case_row(session, "E2E-T1").id)
            .one()
            .id
        )

    page.get_by_role("link", name="Tasks").click()
    page.wait_for_url("**/tasks")
    assert_no_serious_axe_violations(page)
    page.get_by_role("link", name=f"Call the debtor · Task {task_id}").click()
    page.wait_for_url(f"**/tasks/{task_id}")
    assert "Call Erika Mustermann about" in page.inner_text(".instructions")
    page.get_by_role("button", name="Claim task").click()
    page.wait_for_selector("text=You have claimed task")
    assert_no_serious_axe_violations(page)

    page.get_by_label("Promise taken").check()
    promised = (now + timedelta(days=6)).date()
    page.get_by_label("Promised payment date").fill(promised.isoformat())
    page.get_by_label("Note").fill("Pays on Friday")
    page.get_by_role("button", name="Record outcome").click()
    page.wait_for_selector("text=Outcome recorded: Promise taken.")
    assert f"Task {task_id}" not in page.inner_text("#task-list")

    Runtime(db).tick(max(at, utcnow()) + timedelta(minutes=1))
    with db.transaction() as session:
        case = case_row(session, "E2E-T1")
        assert (case.node_id, case.promise_date) == ("watch", promised)
    assert not errors, errors
