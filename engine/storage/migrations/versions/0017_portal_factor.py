"""the portal's second factor: failed answers counted per case and client

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 23:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per answer and key (engine.access.portal_factor); pruned after the lockout.
    op.create_table(
        "portal_factor_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("portal_factor_failures", schema=None) as batch_op:
        batch_op.create_index("ix_portal_factor_failures_key_at", ["key", "at"], unique=False)
        batch_op.create_index("ix_portal_factor_failures_at", ["at"], unique=False)


def downgrade() -> None:
    op.drop_table("portal_factor_failures")
