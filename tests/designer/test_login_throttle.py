"""Sign-in throttling per account and per client address, shared by every web worker."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from designer import create_app
from mahnwerk_web.db import get_db
from tests.designer.conftest import PASSWORD, email


@pytest.fixture
def strict(app: Flask) -> Iterator[Flask]:
    """The designer with small limits: 3 failures per account, 5 per address, in 15 minutes."""
    config = {name: app.config[name] for name in ("TESTING", "SECRET_KEY", "DATABASE_URL")}
    config |= {"WTF_CSRF_ENABLED": False, "LOGIN_FAILURES_PER_ACCOUNT": 3}
    config |= {"LOGIN_FAILURES_PER_ADDRESS": 5, "LOGIN_FAILURE_WINDOW": timedelta(minutes=15)}
    strict = create_app(config)
    yield strict
    with strict.app_context():
        get_db().dispose()


def _client(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _try(client: FlaskClient, role: str, password: str, **headers: str) -> int:
    return client.post(
        "/login", data={"email": email(role), "password": password}, headers=headers
    ).status_code


def test_an_account_is_throttled_after_n_failures_from_any_addresses(strict: Flask) -> None:
    for n in range(3):
        assert _try(_client(strict, f"10.0.0.{n}"), "manager", "wrong password") == 401
    answer = _client(strict, "10.0.0.9").post(
        "/login", data={"email": email("manager"), "password": PASSWORD}
    )
    assert answer.status_code == 429  # even the right password waits: guessing must stop
    assert int(answer.headers["Retry-After"]) > 14 * 60
    assert "Too many failed sign-ins" in answer.get_data(as_text=True)
    assert _try(_client(strict, "10.0.0.9"), "reviewer", PASSWORD) == 302  # others sign in


def test_an_address_is_throttled_after_n_failures_on_any_accounts(strict: Flask) -> None:
    attacker = _client(strict, "203.0.113.7")
    for n in range(5):
        assert _try(attacker, ["manager", "viewer", "admin"][n % 3] + "x", "guess") == 401
    assert _try(attacker, "reviewer", PASSWORD) == 429
    answer = attacker.post(
        "/login",
        data={"email": email("reviewer"), "password": PASSWORD},
        headers={"Accept-Language": "de"},
    )
    assert answer.status_code == 429
    assert "Zu viele fehlgeschlagene Anmeldungen" in answer.get_data(as_text=True)
    assert _try(_client(strict, "198.51.100.1"), "reviewer", PASSWORD) == 302


def test_other_web_workers_count_the_same_failures(strict: Flask) -> None:
    """The counts are in the database: a second app on the same file sees them."""
    config = {name: strict.config[name] for name in strict.config if name.startswith("LOGIN_")}
    same = ("TESTING", "SECRET_KEY", "DATABASE_URL", "WTF_CSRF_ENABLED")
    config |= {name: strict.config[name] for name in same}
    other = create_app(config)
    for app in (strict, other, strict):
        assert _try(_client(app, "10.1.1.1"), "admin", "wrong password") == 401
    assert _try(_client(other, "10.1.1.2"), "admin", PASSWORD) == 429
    with other.app_context():
        get_db().dispose()


def test_two_hundred_wrong_passwords_are_not_fine(client: FlaskClient) -> None:
    """The default limits: the 11th wrong password in 15 minutes is refused unchecked."""
    statuses = [_try(client, "viewer", f"wrong {n}") for n in range(11)]
    assert statuses == [401] * 10 + [429]
