"""Bearer tokens guard the API; errors are problems, never a sign-in redirect."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from engine import Database, VirtualClock
from engine.access.api_tokens import revoke_token
from tests.api.conftest import case_json


@pytest.mark.parametrize(
    "url", ["/api/v1/cases", "/api/v1/journeys", "/api/v1/cases/X", "/api/v1/openapi.json"]
)
def test_no_token_is_401(client: FlaskClient, url: str) -> None:
    assert client.get(url).status_code == 401


def test_401_is_a_problem_with_a_challenge(client: FlaskClient) -> None:
    response = client.get("/api/v1/cases")
    assert (response.content_type, response.headers["WWW-Authenticate"][:6]) == (
        "application/problem+json",
        "Bearer",
    )


def test_a_wrong_token_is_401(client: FlaskClient) -> None:
    response = client.get("/api/v1/cases", headers={"Authorization": "Bearer mw_wrong"})
    assert response.status_code == 401


def test_a_read_token_reads(client: FlaskClient, read_token: str) -> None:
    response = client.get("/api/v1/cases", headers={"Authorization": f"Bearer {read_token}"})
    assert response.status_code == 200


def test_a_read_token_cannot_write(client: FlaskClient, read_token: str) -> None:
    response = client.post(
        "/api/v1/cases", json=case_json(), headers={"Authorization": f"Bearer {read_token}"}
    )
    assert response.status_code == 403


def test_a_revoked_token_is_401(
    client: FlaskClient, api_db: Database, clock: VirtualClock, write_token: str
) -> None:
    with api_db.transaction() as session:
        from engine.access.api_tokens import list_tokens

        revoke_token(session, list_tokens(session)[0].id, clock.now)
    response = client.get("/api/v1/cases", headers={"Authorization": f"Bearer {write_token}"})
    assert response.status_code == 401


def test_posts_need_no_csrf_token(client: FlaskClient, auth: dict[str, str]) -> None:
    """The designer protects forms with CSRF; the API is exempt (tokens are not cookies)."""
    client.application.config["WTF_CSRF_ENABLED"] = True
    assert client.post("/api/v1/cases", json=case_json(), headers=auth).status_code == 201


def test_the_docs_page_uses_the_vendored_swagger_ui(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    page = client.get("/api/v1/docs", headers=auth).get_data(as_text=True)
    assert "/static/vendor/swagger-ui-dist-5.35.0/swagger-ui-bundle.js" in page


def test_the_vendored_swagger_ui_is_served(client: FlaskClient) -> None:
    response = client.get("/static/vendor/swagger-ui-dist-5.35.0/swagger-ui-bundle.js")
    assert response.status_code == 200
