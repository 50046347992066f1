"""human tasks: the work a journey's task step makes for a person

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 23:30:00

One row per case, step and visit (unique), made by the task drain from the step's outbox row;
the inbox reads open tasks per queue by due date (ix_tasks_inbox).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("case_id", BigId, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("visit", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.BigInteger(), nullable=True, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("assignee", sa.String(200), nullable=True),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("claimed_by", sa.String(200), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.String(24), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("done_by", sa.String(200), nullable=True),
        sa.UniqueConstraint("case_id", "node_id", "visit"),
    )
    op.create_index("ix_tasks_case_id", "tasks", ["case_id"])
    op.create_index("ix_tasks_inbox", "tasks", ["status", "queue", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_tasks_inbox", table_name="tasks")
    op.drop_index("ix_tasks_case_id", table_name="tasks")
    op.drop_table("tasks")
