"""The outbox: filters by status (deferred ones by reason), reasons, and retrying dead letters."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from connectors.base import SendResult, temporary
from connectors.email_sandbox import SandboxEmailConnector
from designer import create_app
from engine import Dispatcher, Runtime, utcnow
from engine.delivery.config import load_delivery_config
from engine.storage.models import OutboxRow
from mahnwerk_web.db import get_db
from tests.designer.conftest import PASSWORD, email, login
from tests.factories import audit_rows, example_doc, make_case, outbox_rows, publish

# status, reason: one message each; the template name tells them apart on the page.
MESSAGES = [
    ("pending", None),
    ("pending", "deferred:quiet_hours"),
    ("pending", "deferred:public_holiday"),
    ("sending", None),
    ("sent", None),
    ("sandboxed", None),
    ("suppressed", "no_address"),
    ("failed", "The provider refused the message: 550 mailbox unavailable"),
    ("dead", "SMTP 451 4.3.0 try again later"),
]


def _name(status: str, reason: str | None) -> str:
    """tpl_<status>, or tpl_pending_<deferral reason> for a deferred message."""
    if reason and reason.startswith("deferred:"):
        return f"tpl_{status}_{reason.removeprefix('deferred:')}"
    return f"tpl_{status}"


@pytest.fixture
def messages(app: Flask) -> dict[str, int]:
    """One outbox message per status (and two deferral reasons); template name -> id."""
    now = utcnow()
    ids = {}
    with app.app_context(), get_db().transaction() as session:
        version = publish(session, example_doc("minimal"), now)
        case = make_case(session, version, now, external_id="INV-9001")
        for i, (status, reason) in enumerate(MESSAGES):
            row = OutboxRow(
                idempotency_key=f"k-{i}",
                case_id=case.id,
                version_id=version.id,
                node_id="reminder",
                channel="email",
                template=_name(status, reason),
                tone=1,
                status=status,
                reason=reason,
                attempts=6 if status == "dead" else 1,
                not_before=now + timedelta(hours=3),
                created_at=now,
            )
            session.add(row)
            session.flush()
            ids[row.template] = row.id
    return ids


def shown(page: str) -> set[str]:
    """Template names of the messages on an outbox page."""
    return set(re.findall(r"<code>(tpl_[a-z_]+)</code>", page))


def row(app: Flask, message_id: int) -> OutboxRow:
    with app.app_context(), get_db().transaction() as session:
        return session.get(OutboxRow, message_id)


EXPECTED = {
    "pending": {_name("pending", None)},
    "deferred": {
        _name("pending", "deferred:quiet_hours"),
        _name("pending", "deferred:public_holiday"),
    },
    "deferred:quiet_hours": {_name("pending", "deferred:quiet_hours")},
    "sending": {_name("sending", None)},
    "sent": {_name("sent", None)},
    "sandboxed": {_name("sandboxed", None)},
    "suppressed": {_name("suppressed", "no_address")},
    "failed": {_name("failed", MESSAGES[7][1])},
    "dead": {_name("dead", MESSAGES[8][1])},
}


@pytest.mark.parametrize("status", sorted(EXPECTED))
def test_filter_by_status(viewer: FlaskClient, messages: Any, status: str) -> None:
    page = viewer.get(f"/outbox?status={status}").get_data(as_text=True)
    assert shown(page) == EXPECTED[status]


def test_without_filter_every_message_shows(viewer: FlaskClient, messages: Any) -> None:
    assert shown(viewer.get("/outbox").get_data(as_text=True)) == set(messages)


def test_unknown_status_is_ignored(viewer: FlaskClient, messages: Any) -> None:
    assert shown(viewer.get("/outbox?status=bogus").get_data(as_text=True)) == set(messages)


def test_status_choices_list_every_status_and_current_deferral_reasons(
    viewer: FlaskClient, messages: Any
) -> None:
    page = viewer.get("/outbox").get_data(as_text=True)
    options = re.findall(r'<option value="([^"]*)"', page)
    for status in ("pending", "sending", "sent", "sandboxed", "deferred", "suppressed"):
        assert status in options
    assert {"failed", "dead", "deferred:quiet_hours", "deferred:public_holiday"} <= set(options)


def test_htmx_filter_returns_the_list_only(viewer: FlaskClient, messages: Any) -> None:
    page = viewer.get("/outbox?status=dead", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in page and shown(page) == EXPECTED["dead"]


def test_reasons_are_shown(viewer: FlaskClient, messages: Any) -> None:
    page = viewer.get("/outbox").get_data(as_text=True)
    assert "SMTP 451 4.3.0 try again later" in page
    assert "550 mailbox unavailable" in page
    assert "Held back by the contact policy (quiet_hours) until" in page
    assert "after 6 attempts" in page


def test_an_empty_filter_says_so(viewer: FlaskClient, messages: Any) -> None:
    assert "No messages match." in viewer.get("/outbox?channel=sms").get_data(as_text=True)


def retry_buttons(page: str) -> set[int]:
    return {int(i) for i in re.findall(r'action="/outbox/(\d+)/retry"', page)}


def test_managers_see_retry_on_dead_and_failed_only(manager: FlaskClient, messages: Any) -> None:
    page = manager.get("/outbox").get_data(as_text=True)
    dead, failed = (
        messages[_name("dead", MESSAGES[8][1])],
        messages[_name("failed", MESSAGES[7][1])],
    )
    assert retry_buttons(page) == {dead, failed}


@pytest.mark.parametrize("role", ["viewer", "reviewer"])
def test_readers_see_no_retry(client: FlaskClient, messages: Any, role: str) -> None:
    login(client, role)
    assert retry_buttons(client.get("/outbox").get_data(as_text=True)) == set()


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_retry_puts_a_dead_message_back(
    app: Flask, client: FlaskClient, messages: Any, role: str
) -> None:
    login(client, role)
    dead = messages[_name("dead", MESSAGES[8][1])]
    response = client.post(f"/outbox/{dead}/retry", data={"next": "/outbox?status=dead"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/outbox?status=dead"
    again = row(app, dead)
    assert (again.status, again.attempts, again.reason) == ("pending", 0, None)
    with app.app_context(), get_db().transaction() as session:
        audits = audit_rows(session, kind="retry_requested")
    assert [a.detail["outbox_id"] for a in audits] == [dead]
    assert "is back in the queue" in client.get("/outbox").get_data(as_text=True)


def test_retry_a_failed_message(app: Flask, manager: FlaskClient, messages: Any) -> None:
    failed = messages[_name("failed", MESSAGES[7][1])]
    manager.post(f"/outbox/{failed}/retry")
    assert row(app, failed).status == "pending"


def test_retry_with_htmx_answers_the_message(
    app: Flask, manager: FlaskClient, messages: Any
) -> None:
    dead = messages[_name("dead", MESSAGES[8][1])]
    response = manager.post(f"/outbox/{dead}/retry", headers={"HX-Request": "true"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in page
    assert f'id="message-{dead}"' in page and "is back in the queue" in page
    assert retry_buttons(page) == set()  # it is pending now


def test_retry_of_a_sent_message_changes_nothing(
    app: Flask, manager: FlaskClient, messages: Any
) -> None:
    sent = messages[_name("sent", None)]
    response = manager.post(f"/outbox/{sent}/retry", follow_redirects=True)
    assert "nothing to retry" in response.get_data(as_text=True)
    assert row(app, sent).status == "sent"


def test_retry_of_an_unknown_message_is_404(manager: FlaskClient, messages: Any) -> None:
    assert manager.post("/outbox/999999/retry").status_code == 404


@pytest.mark.parametrize("role", ["viewer", "reviewer"])
def test_readers_cannot_retry(app: Flask, client: FlaskClient, messages: Any, role: str) -> None:
    login(client, role)
    dead = messages[_name("dead", MESSAGES[8][1])]
    assert client.post(f"/outbox/{dead}/retry").status_code == 403
    assert row(app, dead).status == "dead"


def test_anonymous_cannot_retry(app: Flask, client: FlaskClient, messages: Any) -> None:
    dead = messages[_name("dead", MESSAGES[8][1])]
    response = client.post(f"/outbox/{dead}/retry")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert row(app, dead).status == "dead"


def test_retry_does_not_redirect_off_site(manager: FlaskClient, messages: Any) -> None:
    dead = messages[_name("dead", MESSAGES[8][1])]
    response = manager.post(f"/outbox/{dead}/retry", data={"next": "https://evil.example/"})
    assert response.headers["Location"] == "/outbox"


def test_retry_needs_the_csrf_token(app: Flask, messages: Any) -> None:
    guarded = create_app({**app.config, "WTF_CSRF_ENABLED": True, "TESTING": True})
    client = guarded.test_client()
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").text)[1]
    form = {"email": email("manager"), "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=form).status_code == 302
    dead = messages[_name("dead", MESSAGES[8][1])]
    assert client.post(f"/outbox/{dead}/retry").status_code == 400
    assert row(app, dead).status == "dead"
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/outbox").text)[1]
    assert client.post(f"/outbox/{dead}/retry", data={"csrf_token": token}).status_code == 302
    assert row(app, dead).status == "pending"
    with guarded.app_context():
        get_db().dispose()


def test_statuses_in_german(manager: FlaskClient, messages: Any) -> None:
    manager.post("/lang/de")
    page = manager.get("/outbox").get_data(as_text=True)
    assert "aufgegeben" in page and "Erneut versuchen" in page and "zurückgestellt" in page


class Flaky(SandboxEmailConnector):
    """Refuses every message for a while, like a provider that is down."""

    down = True

    def send(self, msg: Any) -> SendResult:
        return temporary("SMTP 421 service not available") if self.down else super().send(msg)


def test_a_real_dead_letter_retried_and_delivered(
    app: Flask, manager: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runtime queues, the dispatcher gives up, the designer retries, the next run sends."""
    now = datetime(2026, 3, 10, 9, tzinfo=UTC)  # a Tuesday morning: no quiet hours, no holiday
    flaky = Flaky()
    with app.app_context():
        db = get_db()
        with db.transaction() as session:
            version = publish(session, example_doc("minimal"), now)
            due = (now - timedelta(days=10)).date().isoformat()
            case_id = make_case(session, version, now, external_id="INV-DEAD", due_date=due).id
        connectors = {**load_delivery_config().connectors(), "email": flaky}
        dispatcher = Dispatcher(
            db, portal_base_url="http://x/p", max_attempts=1, connectors=connectors
        )
        later = now
        for hours in (0, 1, 30):
            later = now + timedelta(hours=hours)
            Runtime(db).tick(later)
            dispatcher.dispatch(later + timedelta(minutes=5))
        with db.transaction() as session:
            dead = [m for m in outbox_rows(session, case_id) if m.status == "dead"]
        assert len(dead) == 1, "the reminder must have been dead-lettered"
        message_id = dead[0].id

    page = manager.get("/outbox?status=dead").get_data(as_text=True)
    assert "SMTP 421 service not available" in page and message_id in retry_buttons(page)
    retry_at = later + timedelta(hours=1)  # the designer's clock, in the test's time line
    monkeypatch.setattr("designer.outbox.utcnow", lambda: retry_at)
    assert manager.post(f"/outbox/{message_id}/retry").status_code == 302

    flaky.down = False
    with app.app_context():
        report = dispatcher.dispatch(retry_at + timedelta(minutes=1))
        dispatcher.close()
    assert report.sent == 1
    assert row(app, message_id).status in ("sent", "sandboxed")
    assert message_id not in retry_buttons(manager.get("/outbox").get_data(as_text=True))
