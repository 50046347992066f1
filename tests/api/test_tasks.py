"""The tasks API: list tasks, record an outcome; hostile input gets problems naming the field."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from engine import Database, Runtime, TaskRow, VirtualClock
from engine.delivery.sandbox import SandboxDispatcher
from tests.engine.nodes.test_task import call_doc
from tests.factories import case_row, make_case, publish


@pytest.fixture
def task_id(api_db: Database, clock: VirtualClock) -> int:
    with api_db.transaction() as session:
        version = publish(session, call_doc(), clock.now)
        make_case(session, version, clock.now, phone="+4915112345678", external_id="T-1")
    Runtime(api_db).tick(clock.now)
    # Monday 09:00 in Berlin: a call may be made at once.
    assert SandboxDispatcher(api_db, workers=1).dispatch(clock.now).tasks == 1
    with api_db.transaction() as session:
        return session.query(TaskRow).one().id


def test_tasks_are_listed_and_filtered(client: FlaskClient, auth: dict, task_id: int) -> None:
    body = client.get("/api/v1/tasks", headers=auth).get_json()
    assert [t["id"] for t in body["items"]] == [task_id]
    item = body["items"][0]
    assert (item["case"], item["kind"], item["queue"], item["status"]) == (
        "T-1",
        "call",
        "collections",
        "open",
    )
    assert item["outcomes"] == ["done", "not_reached", "promise_taken", "escalate"]
    assert client.get("/api/v1/tasks?queue=other", headers=auth).get_json()["items"] == []
    assert client.get(f"/api/v1/tasks/{task_id}", headers=auth).get_json()["id"] == task_id
    bad = client.get("/api/v1/tasks?status=lost&limit=0", headers=auth)
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]) == {"status", "limit"}


def test_an_outcome_moves_the_case(
    client: FlaskClient, auth: dict, task_id: int, api_db: Database, clock: VirtualClock
) -> None:
    promised = (clock.now + timedelta(days=4)).date().isoformat()
    body: dict[str, Any] = {"outcome": "promise_taken", "promise_date": promised, "by": "cc-7"}
    done = client.post(f"/api/v1/tasks/{task_id}/outcome", json=body, headers=auth)
    assert done.status_code == 200, done.get_json()
    assert (done.get_json()["status"], done.get_json()["outcome"]) == ("done", "promise_taken")
    Runtime(api_db).tick(clock.now + timedelta(minutes=1))
    with api_db.transaction() as session:
        assert case_row(session, "T-1").node_id == "watch"
    again = client.post(f"/api/v1/tasks/{task_id}/outcome", json=body, headers=auth)
    assert again.status_code == 409 and "already done" in again.get_json()["detail"]


def test_hostile_outcomes_are_problems(
    client: FlaskClient, auth: dict, task_id: int, read_token: str
) -> None:
    url = f"/api/v1/tasks/{task_id}/outcome"
    assert (
        client.post("/api/v1/tasks/999/outcome", json={"outcome": "done"}, headers=auth).status_code
        == 404
    )
    wrong = client.post(url, json={"outcome": "paid"}, headers=auth)
    assert wrong.status_code == 422 and "outcome" in wrong.get_json()["errors"]
    no_date = client.post(url, json={"outcome": "promise_taken"}, headers=auth)
    assert no_date.status_code == 422 and "date" in no_date.get_json()["errors"]
    reader = {"Authorization": f"Bearer {read_token}"}
    assert client.post(url, json={"outcome": "done"}, headers=reader).status_code == 403
    assert client.get("/api/v1/tasks").status_code == 401
