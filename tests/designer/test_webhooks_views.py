"""The webhooks page: subscriptions, the secret shown once, the delivery log and replays."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from designer import create_app
from engine import utcnow
from engine.delivery.webhooks import (
    MAX_ATTEMPTS,
    create_subscription,
    deliver_webhooks,
    deliveries,
    emit_from_audit,
)
from engine.storage.api_models import WebhookDeliveryRow, WebhookSubscriptionRow
from engine.storage.models import AuditRow
from mahnwerk_web.db import get_db
from tests.designer.conftest import PASSWORD, email, login

OK_URL = "https://erp.example.org/hooks"
DOWN_URL = "https://down.example.org/hooks"


@pytest.fixture
def admin(client: FlaskClient) -> FlaskClient:
    """A client signed in as an admin."""
    return login(client, "admin")


def send(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str | None]:
    """A host system: the ERP answers 204, the other endpoint is down."""
    return (204, None) if url == OK_URL else (503, "HTTP 503")


@pytest.fixture
def log(app: Flask) -> dict[str, int]:
    """Through the engine: one delivered and one failed delivery of an experiment.finished."""
    now = utcnow()
    with app.app_context():
        db = get_db()
        with db.transaction() as session:
            ok = create_subscription(session, OK_URL, ["*"], now, "ERP").id
            down = create_subscription(session, DOWN_URL, ["experiment.finished"], now).id
            session.add(AuditRow(at=now, kind="experiment_finished", detail={"experiment": "x"}))
        assert emit_from_audit(db, now).deliveries == 2
        for attempt in range(MAX_ATTEMPTS):
            deliver_webhooks(db, now + timedelta(hours=7 * attempt), send=send, workers=1)
        with db.transaction() as session:
            (delivered,) = deliveries(session, ok)
            (failed,) = deliveries(session, down)
    assert (delivered.status, failed.status) == ("delivered", "failed")
    assert failed.attempts == MAX_ATTEMPTS and failed.last_status_code == 503
    return {"ok": ok, "down": down, "delivered": delivered.id, "failed": failed.id}


def delivery(app: Flask, subscription_id: int) -> WebhookDeliveryRow:
    """A subscription's one delivery, read through the engine."""
    with app.app_context(), get_db().transaction() as session:
        (row,) = deliveries(session, subscription_id)
        return row


def subscriptions(app: Flask) -> list[WebhookSubscriptionRow]:
    with app.app_context(), get_db().transaction() as session:
        return list(session.scalars(select(WebhookSubscriptionRow)))


def shown(page: str) -> list[int]:
    """Delivery ids in the log, in page order."""
    return [int(i) for i in re.findall(r'<tr id="delivery-(\d+)"', page)]


# ---- who may see it ------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client: FlaskClient, log: dict[str, int]) -> None:
    for response in (
        client.get("/webhooks"),
        client.post("/webhooks", data={"url": OK_URL, "event_types": ["*"]}),
        client.post(f"/webhooks/{log['ok']}/deactivate"),
        client.post(f"/webhooks/deliveries/{log['failed']}/replay"),
    ):
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("role", ["manager", "reviewer", "viewer"])
def test_only_admins(app: Flask, client: FlaskClient, log: dict[str, int], role: str) -> None:
    login(client, role)
    assert client.get("/webhooks").status_code == 403
    form = {"url": "https://x.example.org/", "event_types": ["*"]}
    assert client.post("/webhooks", data=form).status_code == 403
    assert client.post(f"/webhooks/{log['ok']}/deactivate").status_code == 403
    assert client.post(f"/webhooks/deliveries/{log['failed']}/replay").status_code == 403
    assert len(subscriptions(app)) == 2 and all(s.active for s in subscriptions(app))
    assert delivery(app, log["down"]).status == "failed"
    assert "/webhooks" not in client.get("/journeys").get_data(as_text=True)


def test_admin_sees_the_page_and_a_nav_link(admin: FlaskClient) -> None:
    response = admin.get("/webhooks")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "No subscriptions yet." in page and "No deliveries yet." in page
    for kind in ("message.sent", "case.paid", "promise.broken", "experiment.finished"):
        assert f'value="{kind}"' in page
    assert 'href="/webhooks"' in admin.get("/journeys").get_data(as_text=True)


# ---- subscriptions -------------------------------------------------------------------------


def test_create_shows_the_secret_once(app: Flask, admin: FlaskClient) -> None:
    form = {
        "url": OK_URL,
        "description": "ERP",
        "event_types": ["case.paid", "message.bounced"],
    }
    response = admin.post("/webhooks", data=form)
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    (row,) = subscriptions(app)
    # Stored is what the engine stores, nothing more, nothing less.
    assert (row.url, row.event_types, row.active, row.description) == (
        OK_URL,
        ["case.paid", "message.bounced"],
        True,
        "ERP",
    )
    assert row.secret.startswith("whsec_")
    assert page.count(row.secret) == 1 and f'<code id="new-secret">{row.secret}</code>' in page
    # Never again: not on the next page, not in the session cookie.
    assert row.secret not in admin.get("/webhooks").get_data(as_text=True)
    with admin.session_transaction() as session:
        assert row.secret not in repr(dict(session))
    assert "case.paid" in admin.get("/webhooks").get_data(as_text=True)


@pytest.mark.parametrize(
    ("form", "problem"),
    [
        ({"url": "ftp://erp.example.org/", "event_types": ["*"]}, "http:// or https://"),
        ({"url": OK_URL}, "Choose at least one event type."),
        ({"url": "", "event_types": ["*"]}, "Type a URL of at most 500 characters."),
        ({"url": "https://x.example.org/" + "a" * 500, "event_types": ["*"]}, "at most 500"),
        ({"url": OK_URL, "event_types": ["Bad Type"]}, "Event types look like"),
        ({"url": "http://127.0.0.1:8080/", "event_types": ["*"]}, "private, loopback"),
    ],
)
def test_create_refuses(app: Flask, admin: FlaskClient, form: dict[str, Any], problem: str) -> None:
    response = admin.post("/webhooks", data=form)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert problem in page and "new-secret" not in page
    assert subscriptions(app) == []


def test_deactivate(app: Flask, admin: FlaskClient, log: dict[str, int]) -> None:
    response = admin.post(f"/webhooks/{log['down']}/deactivate")
    assert response.status_code == 302 and response.headers["Location"] == "/webhooks"
    active = {s.id: s.active for s in subscriptions(app)}
    assert active == {log["ok"]: True, log["down"]: False}
    page = admin.get("/webhooks").get_data(as_text=True)
    assert f"The subscription for {DOWN_URL} is deactivated." in page
    assert f"/webhooks/{log['down']}/deactivate" not in page
    assert f"/webhooks/{log['ok']}/deactivate" in page
    # The log stays, but a stopped subscription's deliveries are not replayed.
    assert f"/webhooks/deliveries/{log['failed']}/replay" not in page
    assert admin.post(f"/webhooks/deliveries/{log['failed']}/replay").status_code == 302
    assert delivery(app, log["down"]).status == "failed"


def test_deactivate_unknown(admin: FlaskClient) -> None:
    assert admin.post("/webhooks/999/deactivate").status_code == 404


# ---- the delivery log ----------------------------------------------------------------------


def test_log_newest_first_with_its_details(admin: FlaskClient, log: dict[str, int]) -> None:
    page = admin.get("/webhooks").get_data(as_text=True)
    assert shown(page) == sorted([log["delivered"], log["failed"]], reverse=True)
    failed = page[page.index(f'<tr id="delivery-{log["failed"]}"') :]
    failed = failed[: failed.index("</tr>")]
    assert "experiment.finished" in failed and DOWN_URL in failed
    assert f"<td>{MAX_ATTEMPTS}</td>" in failed and "<code>503</code>" in failed
    assert "HTTP 503" in failed and "Replay" in failed


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=failed", ["failed"]),
        ("status=delivered", ["delivered"]),
        ("status=pending", []),
        ("subscription={ok}", ["delivered"]),
        ("subscription={down}&status=delivered", []),
        ("status=nonsense", ["failed", "delivered"]),
    ],
)
def test_log_filters(admin: FlaskClient, log: dict[str, int], query: str, expected: list) -> None:
    page = admin.get(f"/webhooks?{query.format(**log)}").get_data(as_text=True)
    assert set(shown(page)) == {log[k] for k in expected}
    if not expected:
        assert "No deliveries match." in page


def test_htmx_filter_gets_only_the_log(admin: FlaskClient, log: dict[str, int]) -> None:
    page = admin.get("/webhooks?status=failed", headers={"HX-Request": "true"}).text
    assert "<html" not in page and shown(page) == [log["failed"]]


# ---- replay --------------------------------------------------------------------------------


def test_replay_puts_a_failed_delivery_back(
    app: Flask, admin: FlaskClient, log: dict[str, int]
) -> None:
    back = f"/webhooks?subscription={log['down']}&status=failed"
    response = admin.post(f"/webhooks/deliveries/{log['failed']}/replay", data={"next": back})
    assert response.status_code == 302 and response.headers["Location"] == back
    row = delivery(app, log["down"])
    assert (row.status, row.attempts) == ("pending", 0)
    page = admin.get("/webhooks").get_data(as_text=True)
    assert f"Delivery {log['failed']} will be sent again on the next run." in page
    # The next delivery run sends it; this time the host answers.
    with app.app_context():
        report = deliver_webhooks(get_db(), utcnow() + timedelta(minutes=1), lambda *a: (200, None))
    assert report.delivered == 1 and delivery(app, log["down"]).status == "delivered"


def test_replay_with_htmx_replaces_the_row(
    app: Flask, admin: FlaskClient, log: dict[str, int]
) -> None:
    response = admin.post(
        f"/webhooks/deliveries/{log['failed']}/replay", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.lstrip().startswith(f'<tr id="delivery-{log["failed"]}"')
    assert "<html" not in page and shown(page) == [log["failed"]]
    assert "status-pending" in page and "will be sent again on the next run" in page
    assert delivery(app, log["down"]).status == "pending"


def test_replay_does_not_redirect_off_site(admin: FlaskClient, log: dict[str, int]) -> None:
    response = admin.post(
        f"/webhooks/deliveries/{log['failed']}/replay", data={"next": "https://evil.example/"}
    )
    assert response.headers["Location"] == "/webhooks"


def test_replay_unknown(admin: FlaskClient) -> None:
    assert admin.post("/webhooks/deliveries/999/replay").status_code == 404


def test_csrf_is_enforced(app: Flask, log: dict[str, int]) -> None:
    guarded = create_app({**app.config, "WTF_CSRF_ENABLED": True, "TESTING": True})
    client = guarded.test_client()
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").text)[1]
    form = {"email": email("admin"), "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=form).status_code == 302
    replay = f"/webhooks/deliveries/{log['failed']}/replay"
    assert client.post(replay).status_code == 400
    assert client.post("/webhooks", data={"url": OK_URL, "event_types": ["*"]}).status_code == 400
    assert client.post(f"/webhooks/{log['ok']}/deactivate").status_code == 400
    assert delivery(app, log["down"]).status == "failed" and len(subscriptions(app)) == 2
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/webhooks").text)[1]
    assert client.post(replay, data={"csrf_token": token}).status_code == 302
    assert delivery(app, log["down"]).status == "pending"
    with guarded.app_context():
        get_db().dispose()


def test_german(admin: FlaskClient, log: dict[str, int]) -> None:
    admin.post("/lang/de")
    page = admin.get("/webhooks").get_data(as_text=True)
    for text in ("Abonnements", "Neues Abonnement", "Zustellprotokoll", "Ereignistypen"):
        assert text in page
    assert "fehlgeschlagen" in page and "zugestellt" in page and "Erneut senden" in page
    response = admin.post(f"/webhooks/deliveries/{log['failed']}/replay")
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Zustellung {log['failed']} wird beim nächsten Lauf erneut gesendet." in page
