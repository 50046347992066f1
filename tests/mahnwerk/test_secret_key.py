"""The session key: random per installation, never a published development value (issue 15.1)."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

import mahnwerk.serve
from engine import Database, add_user, utcnow
from mahnwerk.cli import main
from mahnwerk.wsgi import create_app

OLD_DEV_KEY = "dev-only-change-me"  # the default until issue 15


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty instance folder and a database, with no key in the environment."""
    folder = tmp_path / "instance"
    monkeypatch.setenv("MAHNWERK_INSTANCE", str(folder))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'key.sqlite3'}")
    monkeypatch.delenv("MAHNWERK_SECRET_KEY", raising=False)
    return folder


def _forged_cookie(key: str, user_id: str) -> str:
    """A session cookie an outsider signs with a key they know."""
    forger = Flask("forger")
    forger.secret_key = key
    serializer = SecureCookieSessionInterface().get_signing_serializer(forger)
    assert serializer is not None
    return serializer.dumps({"_user_id": user_id, "_fresh": True})


def test_init_writes_a_random_key_readable_only_by_its_owner(instance: Path) -> None:
    result = CliRunner().invoke(main, ["init"])
    assert result.exit_code == 0, result.output
    key_file = instance / "secret_key"
    key = key_file.read_text().strip()
    assert len(key) >= 32 and key != OLD_DEV_KEY
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    CliRunner().invoke(main, ["init"])
    assert key_file.read_text().strip() == key  # a second init keeps the sessions valid


def test_a_cookie_forged_with_the_old_development_key_is_refused(instance: Path) -> None:
    assert CliRunner().invoke(main, ["init"]).exit_code == 0
    db = Database(f"sqlite:///{instance.parent / 'key.sqlite3'}")
    with db.transaction() as session:
        user_id = add_user(session, "boss@example.org", "a long password", "admin", utcnow()).id
    db.dispose()
    client = create_app({"WTF_CSRF_ENABLED": False}).test_client()
    client.set_cookie("session", _forged_cookie(OLD_DEV_KEY, str(user_id)))
    answer = client.get("/journeys")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    assert client.application.config["SECRET_KEY"] == (instance / "secret_key").read_text().strip()


@pytest.mark.parametrize("key", [OLD_DEV_KEY, None])
def test_the_program_refuses_a_development_key_or_none(instance: Path, key: Any) -> None:
    config = {} if key is None else {"SECRET_KEY": key}
    with pytest.raises(RuntimeError, match="MAHNWERK_SECRET_KEY"):
        create_app(config)
    assert create_app({**config, "TESTING": True, "SECRET_KEY": "test"})  # tests bring their own


def test_serve_refuses_a_development_key(instance: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Any] = []
    monkeypatch.setattr(mahnwerk.serve, "serve", lambda *args, **kw: started.append(args))
    monkeypatch.setenv("MAHNWERK_SECRET_KEY", OLD_DEV_KEY)
    result = CliRunner().invoke(main, ["serve", "--no-scheduler"])
    assert result.exit_code == 1 and not started
    assert "MAHNWERK_SECRET_KEY" in result.output and "development" in result.output


def test_serve_refuses_without_a_key(instance: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Any] = []
    monkeypatch.setattr(mahnwerk.serve, "serve", lambda *args, **kw: started.append(args))
    result = CliRunner().invoke(main, ["serve", "--no-scheduler"])
    assert result.exit_code == 1 and not started
    assert "mahnwerk init" in result.output
