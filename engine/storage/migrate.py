"""Schema migrations with Alembic, run programmatically (no alembic.ini to keep in step)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from engine.core.messages import msg

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


class SchemaOutdated(RuntimeError):
    """The database's schema is not the one this code was built for."""


def schema_revisions(db: Database) -> tuple[frozenset[str], frozenset[str]]:
    """The database's current revisions and the code's head revisions."""
    heads = frozenset(ScriptDirectory.from_config(alembic_config(db)).get_heads())
    with db.engine.connect() as connection:
        current = frozenset(MigrationContext.configure(connection).get_current_heads())
    return current, heads


def check_schema(db: Database, lang: str = "en") -> None:
    """Refuse to run against a schema older (or newer) than this code's migrations.

    A worker of a new release started before `mahnwerk init` (which migrates) ran would write
    rows the old schema cannot hold, or miss a constraint that keeps messages exactly-once; a
    worker of an old release beside a migrated database would do the same the other way round.
    """
    current, heads = schema_revisions(db)
    if current == heads:
        return
    found = ", ".join(sorted(current)) or msg("none (an empty database)").text(lang)
    raise SchemaOutdated(
        msg(
            "The database schema is at revision {found}, this Mahnwerk needs {needed}. Run "
            "`mahnwerk init` (it applies the migrations) with this release before starting "
            "workers, and stop workers of other releases.",
            found=found,
            needed=", ".join(sorted(heads)),
        ).text(lang)
    )
