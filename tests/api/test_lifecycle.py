"""Taking journeys live through the API: scopes, transitions, 409 naming the state, webhooks."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import Database, Runtime, VirtualClock, save_version
from engine.access.api_tokens import create_token
from engine.access.users import add_user
from engine.delivery.webhooks import ALLOW_PRIVATE_ENV, create_subscription, emit_from_audit
from engine.storage.api_models import WebhookDeliveryRow
from engine.storage.models import AuditRow
from tests.api.conftest import case_json
from tests.factories import example_doc, journey_doc

AUTHOR, REVIEWER = "manager@example.org", "reviewer@example.org"
V = "/api/v1/journeys"


@pytest.fixture
def publisher(api_db: Database, clock: VirtualClock) -> dict[str, str]:
    """Headers of an operator's token with the publish scope; a reviewer account exists."""
    with api_db.transaction() as session:
        secret = create_token(session, "ops", ["publish"], clock.now)[1]
        add_user(session, REVIEWER, "a-long-password-1", "reviewer", clock.now)
    return {"Authorization": f"Bearer {secret}"}


def draft(api_db: Database, clock: VirtualClock, doc: dict[str, Any] | None = None) -> int:
    with api_db.transaction() as session:
        row = save_version(
            session, doc or journey_doc(), clock.now, author=AUTHOR, allow_problems=True
        )
        return row.number


def live(
    client: FlaskClient, auth: dict[str, str], publisher: dict[str, str], key: str, n: int
) -> None:
    assert client.post(f"{V}/{key}/versions/{n}/submit", json={}, headers=auth).status_code == 200
    approve = client.post(
        f"{V}/{key}/versions/{n}/approve", json={"reviewer": REVIEWER}, headers=publisher
    )
    assert approve.status_code == 200, approve.json
    published = client.post(f"{V}/{key}/versions/{n}/publish", json={}, headers=publisher)
    assert published.status_code == 200, published.json


def test_submit_approve_publish(
    client: FlaskClient,
    auth: dict[str, str],
    publisher: dict[str, str],
    api_db: Database,
    clock: VirtualClock,
) -> None:
    n = draft(api_db, clock)
    submitted = client.post(
        f"{V}/test-journey/versions/{n}/submit", json={"note": "go"}, headers=auth
    )
    assert (submitted.status_code, submitted.json["status"]) == (200, "in_review")

    again = client.post(f"{V}/test-journey/versions/{n}/submit", json={}, headers=auth)
    assert again.status_code == 409
    assert again.content_type == "application/problem+json"
    assert again.json["state"] == "in_review" and "'in review'" in again.json["detail"]

    with_write = client.post(
        f"{V}/test-journey/versions/{n}/approve", json={"reviewer": REVIEWER}, headers=auth
    )
    assert with_write.status_code == 403

    approved = client.post(
        f"{V}/test-journey/versions/{n}/approve",
        json={"reviewer": REVIEWER, "note": "ok"},
        headers=publisher,
    )
    assert (approved.json["status"], approved.json["approvals"]) == ("approved", 1)

    published = client.post(f"{V}/test-journey/versions/{n}/publish", json={}, headers=publisher)
    assert (published.status_code, published.json["version"]) == (200, n)

    history = client.get(f"{V}/test-journey/versions/{n}/history", headers=publisher).json
    assert [e["action"] for e in history["items"]] == ["submitted", "approved", "published"]
    assert history["items"][1]["detail"] == {"via": "token:ops"}


def test_the_author_cannot_be_the_approver(
    client: FlaskClient,
    auth: dict[str, str],
    publisher: dict[str, str],
    api_db: Database,
    clock: VirtualClock,
) -> None:
    with api_db.transaction() as session:
        add_user(session, AUTHOR, "a-long-password-1", "reviewer", clock.now)
    n = draft(api_db, clock)
    client.post(f"{V}/test-journey/versions/{n}/submit", json={}, headers=auth)
    own = client.post(
        f"{V}/test-journey/versions/{n}/approve", json={"reviewer": AUTHOR}, headers=publisher
    )
    assert own.status_code == 409 and "four eyes" in own.json["detail"]


def test_a_draft_with_problems_is_422_naming_them(
    client: FlaskClient, auth: dict[str, str], api_db: Database, clock: VirtualClock
) -> None:
    n = draft(api_db, clock, journey_doc(templates={}))
    response = client.post(f"{V}/test-journey/versions/{n}/submit", json={}, headers=auth)
    assert response.status_code == 422 and response.json["errors"]


def test_unknown_versions_are_404(client: FlaskClient, auth: dict[str, str]) -> None:
    response = client.post(f"{V}/minimal/versions/9/submit", json={}, headers=auth)
    assert response.status_code == 404


def test_german_answers_on_request(
    client: FlaskClient, auth: dict[str, str], api_db: Database, clock: VirtualClock
) -> None:
    n = draft(api_db, clock)
    client.post(f"{V}/test-journey/versions/{n}/submit", json={}, headers=auth)
    again = client.post(
        f"{V}/test-journey/versions/{n}/submit",
        json={},
        headers={**auth, "Accept-Language": "de"},
    )
    assert "eingereicht" in again.json["detail"]


def test_cases_open_only_on_a_live_journey(
    client: FlaskClient,
    auth: dict[str, str],
    publisher: dict[str, str],
    api_db: Database,
    clock: VirtualClock,
) -> None:
    n = draft(api_db, clock)
    unpublished = client.post("/api/v1/cases", json=case_json(journey="test-journey"), headers=auth)
    assert (unpublished.status_code, unpublished.json["state"]) == (409, "draft")

    live(client, auth, publisher, "test-journey", n)
    opened = client.post("/api/v1/cases", json=case_json(journey="test-journey"), headers=auth)
    assert opened.status_code == 201

    paused = client.post(f"{V}/test-journey/pause", json={"note": "typo"}, headers=publisher)
    assert paused.json == {"journey": "test-journey", "state": "paused"}
    refused = client.post(
        "/api/v1/cases", json=case_json(external_id="INV-2", journey="test-journey"), headers=auth
    )
    assert (refused.status_code, refused.json["state"]) == (409, "paused")
    assert list(refused.json["errors"]) == ["journey"]
    bulk = client.post(
        "/api/v1/cases/bulk",
        json={"journey": "test-journey", "cases": [case_json(external_id="INV-3")]},
        headers=auth,
    )
    assert bulk.json["results"][0]["status"] == "invalid"
    assert "paused" in bulk.json["results"][0]["errors"]["journey"][0]
    updated = client.post(
        "/api/v1/cases",
        json=case_json(debtor_name="Erika M.", journey="test-journey"),
        headers=auth,
    )
    assert updated.status_code == 200  # a running case's update is no new case

    assert client.post(f"{V}/test-journey/unpause", json={}, headers=publisher).status_code == 200
    retired = client.post(f"{V}/test-journey/retire", json={}, headers=publisher)
    assert retired.json["state"] == "retired"
    late = client.post(
        "/api/v1/cases", json=case_json(external_id="INV-4", journey="test-journey"), headers=auth
    )
    assert (late.status_code, late.json["state"]) == (409, "retired")
    twice = client.post(f"{V}/test-journey/retire", json={}, headers=publisher)
    assert (twice.status_code, twice.json["state"]) == (409, "retired")


def test_pause_needs_the_publish_scope(client: FlaskClient, auth: dict[str, str]) -> None:
    response = client.post(f"{V}/minimal/pause", json={}, headers=auth)
    assert response.status_code == 403 and "publish" in response.json["detail"]


def test_publish_moves_running_cases_when_asked(
    client: FlaskClient,
    auth: dict[str, str],
    publisher: dict[str, str],
    api_db: Database,
    clock: VirtualClock,
) -> None:
    for ext in ("M-1", "M-2"):
        client.post("/api/v1/cases", json=case_json(external_id=ext), headers=auth)
    Runtime(api_db).tick(clock.now)  # both wait at wait_7
    doc = example_doc("minimal")
    doc["name"] = "Minimal, second edition"
    n = draft(api_db, clock, doc)
    client.post(f"{V}/minimal/versions/{n}/submit", json={}, headers=auth)
    client.post(f"{V}/minimal/versions/{n}/approve", json={"reviewer": REVIEWER}, headers=publisher)

    preview = client.get(f"{V}/minimal/versions/{n}/publish-preview", headers=publisher).json
    assert (preview["movable"], preview["staying"]) == (2, 0)
    assert preview["nodes"][0]["text"].startswith("2 cases at step 'wait_7' of version 1")

    published = client.post(
        f"{V}/minimal/versions/{n}/publish", json={"move_running": True}, headers=publisher
    ).json
    assert (published["moved"], published["superseded"]) == (2, [1])
    case = client.get("/api/v1/cases/M-1", headers=auth).json
    assert (case["version"], case["node"]) == (n, "wait_7")
    with api_db.transaction() as session:
        moved = session.scalars(select(AuditRow).where(AuditRow.kind == "moved")).all()
        assert [a.detail["from_version"] for a in moved] == [1, 1]


def test_a_publish_can_be_scheduled(
    client: FlaskClient,
    auth: dict[str, str],
    publisher: dict[str, str],
    api_db: Database,
    clock: VirtualClock,
) -> None:
    n = draft(api_db, clock)
    client.post(f"{V}/test-journey/versions/{n}/submit", json={}, headers=auth)
    client.post(
        f"{V}/test-journey/versions/{n}/approve", json={"reviewer": REVIEWER}, headers=publisher
    )
    later = client.post(
        f"{V}/test-journey/versions/{n}/publish",
        json={"at": "2026-03-03T06:00:00+00:00"},
        headers=publisher,
    )
    assert later.json["scheduled_for"] == "2026-03-03T06:00:00+00:00"


def test_journey_webhooks_are_emitted(
    client: FlaskClient,
    auth: dict[str, str],
    publisher: dict[str, str],
    api_db: Database,
    clock: VirtualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ALLOW_PRIVATE_ENV, "1")  # the subscription points at this machine
    with api_db.transaction() as session:
        create_subscription(
            session,
            "http://127.0.0.1:9/hook",
            ["journey.published", "journey.paused", "journey.retired"],
            clock.now,
        )
    n = draft(api_db, clock)
    live(client, auth, publisher, "test-journey", n)
    client.post(f"{V}/test-journey/pause", json={}, headers=publisher)
    client.post(f"{V}/test-journey/retire", json={}, headers=publisher)
    emit_from_audit(api_db, clock.now)
    with api_db.transaction() as session:
        kinds = session.scalars(
            select(WebhookDeliveryRow.event_type).order_by(WebhookDeliveryRow.id)
        ).all()
    assert kinds == ["journey.published", "journey.paused", "journey.retired"]


def test_a_too_deep_body_is_refused_not_a_server_error(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    deep = "[" * 50_000 + "]" * 50_000
    headers = {**auth, "Content-Type": "application/json"}

    answer = client.post("/api/v1/journeys/minimal/versions/1/submit", data=deep, headers=headers)

    assert answer.status_code == 400
