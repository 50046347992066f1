"""Fixtures for the designer: an app on a temp SQLite file, a client, users of every role."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from designer import create_app
from engine import ROLES, Database, add_user, save_version, utcnow
from mahnwerk_web.db import get_db
from tests.factories import example_doc

PASSWORD = "correct-horse-battery"


def email(role: str) -> str:
    """The test user's address for a role."""
    return f"{role}@example.org"


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database with one user per role, made once and copied for each test."""
    path = tmp_path_factory.mktemp("designer") / "template.sqlite3"
    db = Database(f"sqlite:///{path}")
    db.create_all()
    with db.transaction() as session:
        for role in ROLES:
            add_user(session, email(role), PASSWORD, role, utcnow())
    db.dispose()  # closing the last connection folds the WAL into the file: a plain copy is whole
    return path


@pytest.fixture
def app(tmp_path: Path, template_db: Path) -> Iterator[Flask]:
    """The designer on a fresh database with one user per role; CSRF off for unit tests only."""
    path = tmp_path / "designer.sqlite3"
    shutil.copyfile(template_db, path)
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "WTF_CSRF_ENABLED": False,
            "DATABASE_URL": f"sqlite:///{path}",
        }
    )
    yield app
    with app.app_context():
        get_db().dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A browser without a session."""
    return app.test_client()


def login(client: FlaskClient, role: str) -> FlaskClient:
    """Sign the client in as the test user with this role."""
    response = client.post("/login", data={"email": email(role), "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def manager(client: FlaskClient) -> FlaskClient:
    """A client signed in as a manager."""
    return login(client, "manager")


@pytest.fixture
def viewer(client: FlaskClient) -> FlaskClient:
    """A client signed in as a viewer."""
    return login(client, "viewer")


@pytest.fixture
def journey(app: Flask) -> dict[str, Any]:
    """journeys_examples/minimal.json stored as version 1 of journey 'minimal'."""
    doc = example_doc("minimal")
    with app.app_context(), get_db().transaction() as session:
        save_version(session, doc, utcnow(), author="manager@example.org")
    return doc


@pytest.fixture
def other_worker(app: Flask) -> Iterator[Flask]:
    """A second app on the same database file, as another web worker process would build it."""
    same = ("TESTING", "SECRET_KEY", "WTF_CSRF_ENABLED", "DATABASE_URL")
    other = create_app({name: app.config[name] for name in same})
    yield other
    with other.app_context():
        get_db().dispose()


@pytest.fixture
def elsewhere(other_worker: Flask) -> FlaskClient:
    """The manager, signed in at the other worker."""
    return login(other_worker.test_client(), "manager")
