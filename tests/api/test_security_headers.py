"""Security headers on API answers, from Flask and from the event hot path (issue 15.8)."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient

from engine import VirtualClock
from tests.api.conftest import twin_app

DATA_CSP = "default-src 'none'"


def _secured(answer: object, default_src: str) -> None:
    headers = answer.headers  # type: ignore[attr-defined]
    csp = headers["Content-Security-Policy"]
    assert csp.startswith(default_src) and "frame-ancestors 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


def test_json_and_problems_run_nothing(client: FlaskClient, read_token: str) -> None:
    auth = {"Authorization": f"Bearer {read_token}"}
    _secured(client.get("/api/v1/journeys", headers=auth), DATA_CSP)
    _secured(client.get("/api/v1/journeys"), DATA_CSP)  # 401 problem
    _secured(client.get("/api/v1/openapi.json", headers=auth), DATA_CSP)


def test_the_hot_path_answers_with_the_same_headers(tmp_path: Path, clock: VirtualClock) -> None:
    app, tokens = twin_app(tmp_path / "hot.sqlite3", clock)
    answer = app.test_client().post(
        "/api/v1/cases/INV-1/events",
        json={"event_id": "e-1", "type": "dispute_opened"},
        headers={"Authorization": f"Bearer {tokens['write']}"},
    )
    assert answer.status_code == 202
    assert app.wsgi_app.answered == 1  # type: ignore[attr-defined]
    _secured(answer, DATA_CSP)


def test_the_docs_page_starts_swagger_ui_from_a_file(client: FlaskClient, read_token: str) -> None:
    answer = client.get("/api/v1/docs", headers={"Authorization": f"Bearer {read_token}"})
    assert answer.status_code == 200
    _secured(answer, "default-src 'self'")
    assert "script-src 'self';" in answer.headers["Content-Security-Policy"]
    page = answer.get_data(as_text=True)
    assert "/static/js/swagger-init.js" in page
    assert "<script>" not in page and 'data-spec-url="/api/v1/openapi.json"' in page
