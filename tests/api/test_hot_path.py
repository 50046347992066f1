"""The event hot path answers exactly as the Flask view would, and hands everything else on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from api.hot_path import EventHotPath
from engine import VirtualClock
from engine.intake.events import EVENT_ID_LENGTH
from engine.intake.idempotency import MAX_KEY
from tests.api.conftest import stored_rows, twin_app

PAY = {"amount": "10.00", "currency": "EUR"}
ID_MAX = EVENT_ID_LENGTH.max  # EventIn's event id limit (100)
assert ID_MAX is not None
# (case, body, Idempotency-Key or None, scope): plain events and every way to leave the path.
REQUESTS: list[tuple[str, Any, str | None, str]] = [
    ("INV-1", {"event_id": "p1", "type": "payment_received", "payload": PAY}, None, "write"),
    ("INV-1", {"event_id": "p1", "type": "payment_received", "payload": PAY}, None, "write"),
    ("INV-1", {"event_id": "p1", "type": "dispute_opened"}, None, "write"),
    (
        "INV-1",
        {"event_id": "p2", "type": "payment_failed", "payload": {**PAY, "x": 1}},
        None,
        "write",
    ),
    (
        "INV-1",
        {
            "event_id": "p3",
            "type": "promise_to_pay",
            "payload": {"date": "2026-04-01", "amount": "5"},
            "occurred_at": "2026-03-01T10:00:00+02:00",
        },
        None,
        "write",
    ),
    ("INV-1", {"event_id": "p4", "type": "dispute_opened", "occurred_at": None}, None, "write"),
    (
        "INV-1",
        {"event_id": "p5", "type": "contact_changed", "payload": {"email": "a@b.de"}},
        None,
        "write",
    ),
    ("INV-1", {"event_id": "k1", "type": "payment_received", "payload": PAY}, "key-1", "write"),
    ("INV-1", {"event_id": "k1", "type": "payment_received", "payload": PAY}, "key-1", "write"),
    ("INV-1", {"event_id": "k2", "type": "payment_received", "payload": PAY}, "key-1", "write"),
    ("INV-1", {"event_id": "k3", "type": "payment_received", "payload": PAY}, "", "write"),
    # The limits: an event id and an Idempotency-Key of exactly the limit, and one over it.
    ("INV-1", {"event_id": "i" * ID_MAX, "type": "dispute_opened"}, None, "write"),
    ("INV-1", {"event_id": "j" * (ID_MAX + 1), "type": "dispute_opened"}, None, "write"),
    ("INV-1", {"event_id": "k4", "type": "dispute_opened"}, "k" * MAX_KEY, "write"),
    ("INV-1", {"event_id": "k5", "type": "dispute_opened"}, "l" * (MAX_KEY + 1), "write"),
    (
        "INV-1",
        {"event_id": "c1", "type": "payment_received", "payload": {**PAY, "currency": "USD"}},
        None,
        "write",
    ),
    (
        "INV-1",
        {"event_id": "v1", "type": "payment_received", "payload": {"amount": "-1"}},
        None,
        "write",
    ),
    ("INV-1", {"event_id": "v2", "type": "payment_received", "extra": 1}, None, "write"),
    ("INV-1", {"event_id": "", "type": "dispute_opened"}, None, "write"),
    ("INV-1", {"event_id": "v3", "type": "no_such_type"}, None, "write"),
    (
        "INV-1",
        {"event_id": "v4", "type": "dispute_opened", "occurred_at": "2026-03-01"},
        None,
        "write",
    ),
    ("INV-1", ["not", "an", "object"], None, "write"),
    ("INV-1", "{not json", None, "write"),
    ("NOPE", {"event_id": "u1", "type": "dispute_opened"}, None, "write"),
    ("CLOSED", {"event_id": "x1", "type": "dispute_opened"}, None, "write"),
    ("INV-1", {"event_id": "r1", "type": "dispute_opened"}, None, "read"),
    ("INV-1", {"event_id": "t1", "type": "dispute_opened"}, None, "none"),
]


def _send(app: Flask, tokens: dict[str, str], request: tuple[str, Any, str | None, str]) -> Any:
    case, body, key, scope = request
    headers = {"Authorization": f"Bearer {tokens.get(scope, 'mw_unknown')}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    path = f"/api/v1/cases/{case}/events"
    if isinstance(body, str):
        headers["Content-Type"] = "application/json"
        response = app.test_client().post(path, data=body, headers=headers)
    else:
        response = app.test_client().post(path, json=body, headers=headers)
    return response.status_code, sorted(response.headers.items()), response.get_data()


@pytest.fixture
def twins(tmp_path: Path, clock: VirtualClock) -> tuple[Any, Any]:
    """The same app twice on twin databases: with the hot path, and Flask alone."""
    hot = twin_app(tmp_path / "hot.sqlite3", clock, hot=True)
    return hot, twin_app(tmp_path / "flask.sqlite3", clock, hot=False)


def test_the_hot_path_answers_and_stores_as_the_view_does(
    twins: tuple[Any, Any], clock: VirtualClock
) -> None:
    (hot, hot_tokens), (plain, plain_tokens) = twins
    for request in REQUESTS:
        assert _send(hot, hot_tokens, request) == _send(plain, plain_tokens, request), request
    assert stored_rows(hot) == stored_rows(plain)
    assert isinstance(hot.wsgi_app, EventHotPath) and isinstance(plain.wsgi_app, EventHotPath)
    # p1, p2, p3, p4, p5, k1 and k1's replay, the event id and the key at their limits; the
    # rest went on to Flask.
    assert (hot.wsgi_app.answered, plain.wsgi_app.answered) == (9, 0)
