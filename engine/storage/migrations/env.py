"""Alembic environment: runs on the connection engine.storage.migrate hands over."""

from __future__ import annotations

from alembic import context

import engine.storage.api_models  # noqa: F401
from engine.storage.models import Base

connection = context.config.attributes.get("connection")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite can only alter tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
