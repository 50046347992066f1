"""One engine.Database per Flask app, kept in app.extensions: the designer's and the API's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app
from sqlalchemy.orm import Session

from engine import Database

KEY = "mahnwerk_db"


def init_app(app: Flask, database: Database | None = None) -> None:
    """Open the database named by DATABASE_URL (or take the one given) for this app."""
    app.extensions[KEY] = database or Database(app.config["DATABASE_URL"])


def get_db() -> Database:
    """The app's database."""
    return current_app.extensions[KEY]


@contextmanager
def transaction() -> Iterator[Session]:
    """A session for one request's work, committed on success."""
    with get_db().transaction() as session:
        yield session


@contextmanager
def reading() -> Iterator[Session]:
    """A session for a request that only reads (no write lock on SQLite)."""
    with get_db().reading() as session:
        yield session
