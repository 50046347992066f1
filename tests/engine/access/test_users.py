"""Signing in: an unknown email costs as much as a wrong password (issue 15.8)."""

from __future__ import annotations

from typing import Any

import pytest

import engine.access.passwords as passwords
from engine import Database, add_user, authenticate, utcnow


@pytest.fixture
def scrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every scrypt hash computed, counted (timing would make a flaky test)."""
    calls: list[Any] = []
    real = passwords._scrypt

    def counted(*args: Any) -> str:
        calls.append(args[2:])
        return real(*args)

    monkeypatch.setattr(passwords, "_scrypt", counted)
    return calls


def test_an_unknown_email_hashes_like_a_wrong_password(db: Database, scrypt_calls: list) -> None:
    with db.transaction() as session:
        add_user(session, "known@example.org", "the right password", "viewer", utcnow())
    scrypt_calls.clear()
    with db.transaction() as session:
        assert authenticate(session, "known@example.org", "a wrong password") is None
        wrong_password = list(scrypt_calls)
        scrypt_calls.clear()
        assert authenticate(session, "nobody@example.org", "a wrong password") is None
        unknown_email = list(scrypt_calls)
    assert wrong_password == unknown_email == [(passwords.N, passwords.R, passwords.P)]


def test_the_right_password_still_signs_in(db: Database) -> None:
    with db.transaction() as session:
        add_user(session, "known@example.org", "the right password", "viewer", utcnow())
    with db.transaction() as session:
        user = authenticate(session, " Known@example.org", "the right password")
        assert user is not None and user.email == "known@example.org"
