"""Shared fixtures: a fresh SQLite database, a virtual clock, a published journey, PostgreSQL."""

from __future__ import annotations

import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from engine import Database, VirtualClock
from engine.storage.models import VersionRow
from tests.factories import example_doc, publish

# A Monday, 08:00 UTC (09:00 in Berlin); no public holiday near it in Germany.
MONDAY = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> VirtualClock:
    """A virtual clock standing at Monday 2 March 2026, 08:00 UTC."""
    return VirtualClock(MONDAY)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A fresh SQLite file database with the schema made by the migrations."""
    database = Database(f"sqlite:///{tmp_path / 'mahnwerk.sqlite3'}")
    database.create_all()
    yield database
    database.dispose()


@pytest.fixture
def published(db: Database, clock: VirtualClock) -> VersionRow:
    """journeys_examples/minimal.json, published as version 1."""
    with db.transaction() as session:
        return publish(session, example_doc("minimal"), clock.now)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """A real PostgreSQL server for the whole test session, started with pgserver."""
    # Not under pytest's basetemp: concurrent pytest runs prune old basetemps, data dir included.
    data_dir = Path(tempfile.mkdtemp(prefix="mahnwerk-pg-"))
    try:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            import pgserver

            server = pgserver.get_server(data_dir, cleanup_mode="stop")
    except Exception as exc:  # no binaries for this platform: say why instead of failing
        pytest.skip(f"pgserver could not start PostgreSQL: {exc}")
    yield server
    server.cleanup()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_url(pg_server: Any) -> str:
    """The server's maintenance database as a SQLAlchemy psycopg2 URL."""
    url = make_url(pg_server.get_uri()).set(drivername="postgresql+psycopg2")
    return url.render_as_string(hide_password=False)


@contextmanager
def fresh_pg_database(pg_url: str) -> Iterator[str]:
    """Create an empty PostgreSQL database, yield its URL, and drop it afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_database_url(pg_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    with fresh_pg_database(pg_url) as url:
        yield url


@pytest.fixture
def pg_db(pg_database_url: str) -> Iterator[Database]:
    """A fresh PostgreSQL database with the schema made by the migrations."""
    database = Database(pg_database_url)
    database.create_all()
    yield database
    database.dispose()
