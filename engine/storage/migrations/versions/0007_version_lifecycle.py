"""version lifecycle: review, approvals bound to a content hash, publish, pause, retire

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("journeys", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("approvals_required", sa.Integer(), server_default="1", nullable=False)
        )
        batch_op.add_column(sa.Column("paused_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("retired_at", sa.DateTime(), nullable=True))

    with op.batch_alter_table("journey_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("submitted_by", sa.String(length=254), nullable=True))
        batch_op.add_column(
            sa.Column("approvals", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("approved_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("published_by", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("publish_at", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("publish_move", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("publish_by", sa.String(length=254), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_journey_versions_publish_at"), ["publish_at"], unique=False
        )

    op.create_table(
        "version_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("journey_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("anchor", sa.String(length=200), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("once", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(["journey_id"], ["journeys.id"]),
        sa.ForeignKeyConstraint(["version_id"], ["journey_versions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("once"),
    )
    with op.batch_alter_table("version_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_version_events_journey_id"), ["journey_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_version_events_version_id"), ["version_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("version_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_version_events_version_id"))
        batch_op.drop_index(batch_op.f("ix_version_events_journey_id"))
    op.drop_table("version_events")

    with op.batch_alter_table("journey_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_journey_versions_publish_at"))
        for name in (
            "publish_by",
            "publish_move",
            "publish_at",
            "published_by",
            "approved_hash",
            "approvals",
            "submitted_by",
            "content_hash",
        ):
            batch_op.drop_column(name)

    with op.batch_alter_table("journeys", schema=None) as batch_op:
        for name in ("retired_at", "paused_at", "approvals_required"):
            batch_op.drop_column(name)
