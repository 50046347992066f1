"""Alembic migrations: the one way the schema is made, and in step with the models."""

from __future__ import annotations

import contextlib
import importlib
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, inspect

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
