"""remembered import mappings per user

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 10:00:00

A mapping remembered before this revision has no user: it stays as a shared default
(user_id NULL) that every user is offered under their own choices, and is never written again,
so nothing remembered is lost and nobody's prefill changes on the upgrade. The table is
small (one row per header layout), so its rows are read, the table made anew (an id key and
(user_id, signature) unique) and the rows written back: the same on SQLite and PostgreSQL, with
the constraint names a fresh database has.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_FIELDS = (
    sa.column("signature", sa.String(64)),
    sa.column("columns", sa.JSON()),
    sa.column("journey", sa.String(64)),
    sa.column("updated_at", sa.DateTime()),
)


def _rows(*extra: sa.ColumnClause[Any]) -> list[dict[str, Any]]:
    table = sa.table("import_mappings", *_FIELDS, *extra)
    return [dict(r) for r in op.get_bind().execute(sa.select(table)).mappings()]


def upgrade() -> None:
    rows = _rows()
    op.drop_table("import_mappings")
    table = op.create_table(
        "import_mappings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("journey", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "signature"),
    )
    with op.batch_alter_table("import_mappings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_import_mappings_signature"), ["signature"], unique=False
        )
    if rows:
        op.bulk_insert(table, [{**r, "user_id": None} for r in rows])


def downgrade() -> None:
    # One mapping per header again: the newest anyone chose.
    newest: dict[str, dict[str, Any]] = {}
    for row in sorted(_rows(), key=lambda r: r["updated_at"]):
        newest[row["signature"]] = row
    op.drop_table("import_mappings")
    table = op.create_table(
        "import_mappings",
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("journey", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("signature"),
    )
    if newest:
        op.bulk_insert(table, list(newest.values()))
