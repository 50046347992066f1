"""Schema migrations with Alembic, run programmatically (no alembic.ini to keep in step)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config

if TYPE_CHECKING:
    from engine.storage.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"
# Alembic keeps the running migration's context in a module global (`alembic.context`), so two
# programmatic runs at once in one process read each other's connection: one at a time. An
# in-memory database (a simulation) migrates in milliseconds, so the wait is short.
_ALEMBIC_LOCK = threading.Lock()


def alembic_config(db: Database) -> Config:
    """An Alembic config pointing at our migrations and database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return config


def upgrade_to_head(db: Database) -> None:
    """Bring the database schema up to the newest migration."""
    config = alembic_config(db)
    with _ALEMBIC_LOCK, db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def revision(db: Database, message: str) -> None:
    """Autogenerate a new migration against the database (a developer's tool)."""
    config = alembic_config(db)
    with _ALEMBIC_LOCK, db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
