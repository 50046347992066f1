"""Idempotency-Key: a replayed request gets the first answer; another body is a conflict."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.api.conftest import case_json


def _post(client: FlaskClient, auth: dict[str, str], key: str, **overrides: str):
    headers = {**auth, "Idempotency-Key": key}
    return client.post("/api/v1/cases", json=case_json(**overrides), headers=headers)


def test_a_replay_returns_the_first_answer(client: FlaskClient, auth: dict[str, str]) -> None:
    first = _post(client, auth, "k1")
    again = _post(client, auth, "k1")
    assert (again.status_code, again.data) == (first.status_code, first.data)


def test_a_replay_says_so(client: FlaskClient, auth: dict[str, str]) -> None:
    _post(client, auth, "k1")
    assert _post(client, auth, "k1").headers["Idempotent-Replayed"] == "true"


def test_the_same_key_with_another_body_is_a_conflict(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    _post(client, auth, "k1")
    response = _post(client, auth, "k1", debtor_name="Someone Else")
    assert (response.status_code, list(response.json["errors"])) == (422, ["Idempotency-Key"])


def test_keys_belong_to_one_token(client: FlaskClient, auth: dict[str, str], api_db, clock) -> None:
    from engine.access.api_tokens import create_token

    with api_db.transaction() as session:
        other = create_token(session, "other", ["write"], clock.now)[1]
    _post(client, auth, "k1")
    response = _post(client, {"Authorization": f"Bearer {other}"}, "k1", debtor_name="B")
    assert "Idempotent-Replayed" not in response.headers
