"""The task inbox: list, filters, claim, outcome, and what hostile requests get."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine import Runtime, TaskRow, utcnow
from engine.delivery.sandbox import SandboxDispatcher
from mahnwerk_web.db import get_db
from tests.designer.conftest import email, login
from tests.engine.nodes.test_task import call_doc
from tests.factories import case_row, make_case, publish


@pytest.fixture
def task_id(app: Flask) -> int:
    """One open call task, made by the real tick and drain."""
    now = utcnow()
    with app.app_context():
        db = get_db()
        with db.transaction() as session:
            version = publish(session, call_doc(), now)
            make_case(session, version, now, phone="+4915112345678", external_id="T-1")
        Runtime(db).tick(now)
        # A call needs open hours in Berlin; the drain runs at the next allowed moment.
        at = now
        for _ in range(48):
            if SandboxDispatcher(db, workers=1).dispatch(at).tasks:
                break
            at += timedelta(hours=1)
        with db.transaction() as session:
            task = session.query(TaskRow).one()
            return task.id


def test_a_viewer_and_a_reviewer_do_not_see_the_inbox(client: FlaskClient) -> None:
    for role in ("viewer", "reviewer"):
        login(client, role)
        assert client.get("/tasks").status_code == 403
        assert b'href="/tasks"' not in client.get("/cases").data
        client.post("/logout")


def test_the_inbox_lists_the_task_in_both_languages(client: FlaskClient, task_id: int) -> None:
    login(client, "collector")
    page = client.get("/tasks").get_data(as_text=True)
    assert f'href="/tasks/{task_id}"' in page and "collections" in page
    assert "Erika Mustermann (T-1)" in page
    assert client.get("/tasks?mine=1").get_data(as_text=True).count("T-1") == 0
    assert "No tasks match." in client.get("/tasks?overdue=1").get_data(as_text=True)
    assert "T-1" in client.get("/tasks?queue=nonsense").get_data(as_text=True)  # unknown: all
    client.post("/lang/de", data={"next": "/tasks"})
    german = client.get("/tasks").get_data(as_text=True)
    assert "Aufgaben" in german and "Warteschlange" in german


def test_claim_then_promise_taken_moves_the_case(
    app: Flask, client: FlaskClient, task_id: int
) -> None:
    login(client, "collector")
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "Call Erika Mustermann about" in page and 'href="tel:+4915112345678"' in page
    assert "Claim task" in page and "Record outcome" not in page
    assert client.post(f"/tasks/{task_id}/claim").status_code == 302
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "Record outcome" in page and "claimed by collector@example.org" in page
    missing = client.post(f"/tasks/{task_id}/outcome", data={"outcome": "promise_taken"})
    assert "Give the promised payment date." in client.get(missing.headers["Location"]).get_data(
        as_text=True
    )
    promised = (utcnow() + timedelta(days=5)).date().isoformat()
    done = client.post(
        f"/tasks/{task_id}/outcome",
        data={"outcome": "promise_taken", "promise_date": promised, "note": "will pay"},
    )
    assert done.status_code == 302 and done.headers["Location"].endswith("/tasks")
    with app.app_context():
        db = get_db()
        Runtime(db).tick(utcnow() + timedelta(minutes=1))
        with db.transaction() as session:
            case = case_row(session, "T-1")
            assert (case.node_id, case.promise_date.isoformat()) == ("watch", promised)
    again = client.post(f"/tasks/{task_id}/outcome", data={"outcome": "done"})
    assert "already done" in client.get(again.headers["Location"]).get_data(as_text=True)


def test_hostile_requests_get_words_not_errors(client: FlaskClient, task_id: int) -> None:
    login(client, "manager")
    assert client.get("/tasks/999999").status_code == 404
    assert client.post("/tasks/999999/claim").status_code == 404
    assert client.post("/tasks/999999/outcome", data={"outcome": "done"}).status_code == 404
    client.post(f"/tasks/{task_id}/claim")
    client.post("/logout")
    login(client, "collector")
    taken = client.post(f"/tasks/{task_id}/claim")
    assert f"claimed by {email('manager')}" in client.get(taken.headers["Location"]).get_data(
        as_text=True
    )
    other = client.post(f"/tasks/{task_id}/outcome", data={"outcome": "done"})
    assert f"claimed by {email('manager')}" in client.get(other.headers["Location"]).get_data(
        as_text=True
    )
    wrong = client.post(f"/tasks/{task_id}/outcome", data={"outcome": "<script>"})
    page = client.get(wrong.headers["Location"]).get_data(as_text=True)
    assert "Choose one of: done, not_reached, promise_taken, escalate." in page
    assert "<script>" not in page
