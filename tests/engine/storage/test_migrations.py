"""Alembic migrations: the one way the schema is made, and in step with the models."""

from __future__ import annotations

import contextlib
import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, inspect, text

from engine import Database
from engine.storage.migrate import alembic_config
from engine.storage.models import Base


def target_metadata() -> MetaData:
    """The models' metadata, with every module that adds tables to it imported."""
    for module in ("engine.storage.models", "engine.storage.api_models"):
        with contextlib.suppress(ModuleNotFoundError):  # not written yet: adds no tables
            importlib.import_module(module)
    return Base.metadata


def schema_diff(db: Database) -> list[Any]:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True}
        )
        return compare_metadata(context, target_metadata())


def test_there_is_exactly_one_head(db: Database) -> None:
    assert len(ScriptDirectory.from_config(alembic_config(db)).get_heads()) == 1


def test_the_head_matches_the_models_on_sqlite(db: Database) -> None:
    assert schema_diff(db) == []


def test_every_model_table_is_created(db: Database) -> None:
    tables = set(inspect(db.engine).get_table_names())

    assert set(target_metadata().tables) <= tables


def test_the_database_is_stamped_with_the_head(db: Database) -> None:
    head = ScriptDirectory.from_config(alembic_config(db)).get_current_head()
    with db.engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == head


def test_upgrading_an_up_to_date_database_changes_nothing(db: Database) -> None:
    db.create_all()

    assert schema_diff(db) == []


def test_downgrade_to_base_removes_every_table_and_upgrade_restores_them(db: Database) -> None:
    config = alembic_config(db)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    left = set(inspect(db.engine).get_table_names()) - {"alembic_version"}

    db.create_all()

    assert (left, schema_diff(db)) == (set(), [])


@pytest.mark.postgres
def test_the_head_matches_the_models_on_postgresql(pg_db: Database) -> None:
    assert schema_diff(pg_db) == []


def _migrate(db: Database, target: str, down: bool = False) -> None:
    config = alembic_config(db)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, target)


def test_0010_keeps_the_mappings_remembered_before_as_shared_defaults(tmp_path: Path) -> None:
    # Issue 15, point 9d: mappings become per user; the ones stored before are not lost.
    _check_0010(Database(f"sqlite:///{tmp_path / 'old.sqlite3'}"))


@pytest.mark.postgres
def test_0010_keeps_the_shared_mappings_on_postgresql(pg_database_url: str) -> None:
    _check_0010(Database(pg_database_url))


def _check_0010(db: Database) -> None:
    _migrate(db, "0009")
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO import_mappings (signature, columns, journey, updated_at) "
                "VALUES ('abc', '{\"Nr\": \"external_id\"}', 'minimal', '2026-12-01 10:00:00')"
            )
        )
    _migrate(db, "head")
    with db.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT user_id, signature, columns, journey FROM import_mappings")
        ).all()
    assert [
        (r[0], r[1], json.loads(r[2]) if isinstance(r[2], str) else r[2], r[3]) for r in rows
    ] == [(None, "abc", {"Nr": "external_id"}, "minimal")]
    with db.engine.begin() as connection:  # a user's own, beside the shared one
        connection.execute(
            text(
                "INSERT INTO import_mappings (user_id, signature, columns, journey, updated_at) "
                "VALUES (7, 'abc', '{\"Nr\": \"\"}', 'other', '2026-12-02 10:00:00')"
            )
        )
    _migrate(db, "0009", down=True)  # back to one per header: the newest
    with db.engine.connect() as connection:
        rows = connection.execute(text("SELECT signature, journey FROM import_mappings")).all()
    assert [tuple(r) for r in rows] == [("abc", "other")]
    db.dispose()
