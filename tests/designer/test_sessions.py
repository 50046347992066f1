"""Designer sessions: sign-out ends them, they expire, their cookie is HttpOnly and SameSite."""

from __future__ import annotations

import time
from typing import Any

import itsdangerous.timed
import pytest
from flask import Flask
from flask.testing import FlaskClient

from designer import create_app
from tests.designer.conftest import login

HOUR = 3600


def _cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def test_a_cookie_copied_before_sign_out_no_longer_works(app: Flask, manager: FlaskClient) -> None:
    copied = _cookie(manager)
    assert manager.get("/journeys").status_code == 200
    manager.post("/logout")
    thief = app.test_client()
    thief.set_cookie("session", copied)
    answer = thief.get("/journeys")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_signing_out_ends_the_other_sessions_of_that_user_only(app: Flask) -> None:
    laptop, phone = login(app.test_client(), "manager"), login(app.test_client(), "manager")
    colleague = login(app.test_client(), "reviewer")
    laptop.post("/logout")
    assert phone.get("/journeys").status_code == 302  # "sign out" signs out everywhere
    assert colleague.get("/journeys").status_code == 200
    assert login(phone, "manager").get("/journeys").status_code == 200  # and in again


def test_the_session_cookie_is_httponly_samesite_lax_and_expires(client: FlaskClient) -> None:
    answer = client.post("/login", data={"email": "viewer@example.org", "password": "x" * 9})
    assert answer.status_code == 401
    login(client, "viewer")
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert cookie.expires is not None  # a permanent session: it has a lifetime
    assert not cookie.secure  # served over plain http here


def test_a_session_ends_after_its_lifetime(
    app: Flask, manager: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert app.permanent_session_lifetime.total_seconds() == 12 * HOUR
    real = time.time

    class Later:
        @staticmethod
        def time() -> float:
            return real() + 12 * HOUR + 60

    monkeypatch.setattr(itsdangerous.timed, "time", Later)
    answer = manager.get("/journeys")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_lifetime_and_secure_cookies_come_from_the_settings(
    monkeypatch: pytest.MonkeyPatch, app: Flask
) -> None:
    monkeypatch.setenv("MAHNWERK_SESSION_HOURS", "2")
    monkeypatch.setenv("MAHNWERK_PUBLIC_URL", "https://mahnwerk.example.com")
    config: dict[str, Any] = {"TESTING": True, "DATABASE_URL": app.config["DATABASE_URL"]}
    other = create_app({**config, "SECRET_KEY": "test"})
    assert other.permanent_session_lifetime.total_seconds() == 2 * HOUR
    assert other.config["SESSION_COOKIE_SECURE"] is True
