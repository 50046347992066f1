"""analytics facts: case facts, experiment exposures, step counts, cohort and arm counts

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 20:15:00

The engine writes these tables as it runs
(engine/analytics); an installation upgraded with running cases fills them for its past with
`mahnwerk analytics-recount` (engine.analytics.recount), which reads the audit trail.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "case_facts",
        sa.Column("case_id", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("journey_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("original_minor", sa.BigInteger(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("entered_at", sa.DateTime(), nullable=False),
        sa.Column("collected_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("payments", sa.Integer(), server_default="0", nullable=False),
        sa.Column("first_paid_at", sa.DateTime(), nullable=True),
        sa.Column("last_paid_at", sa.DateTime(), nullable=True),
        sa.Column("paid_full_at", sa.DateTime(), nullable=True),
        sa.Column("days_to_pay", sa.Integer(), nullable=True),
        *(
            sa.Column(f"{kind}_{channel}", sa_type, server_default="0", nullable=False)
            for kind, sa_type in (("messages", sa.Integer()), ("cost", sa.BigInteger()))
            for channel in ("email", "sms", "letter")
        ),
        sa.Column("disputes", sa.Integer(), server_default="0", nullable=False),
        sa.Column("opt_outs", sa.Integer(), server_default="0", nullable=False),
        sa.Column("complaints", sa.Integer(), server_default="0", nullable=False),
        sa.Column("bounces", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_index(
        "ix_case_facts_journey_entered", "case_facts", ["journey_id", "entered_at"], unique=False
    )
    op.create_table(
        "experiment_exposures",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("journey_id", sa.Integer(), nullable=False),
        sa.Column("experiment", sa.String(length=64), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("arm", sa.String(length=64), nullable=False),
        sa.Column("exposed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "experiment"),
    )
    op.create_index(
        "ix_exposures_experiment_arm",
        "experiment_exposures",
        ["journey_id", "experiment", "arm"],
        unique=False,
    )
    op.create_table(
        "step_counts",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("journey_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("port", sa.String(length=64), nullable=False),
        sa.Column("cases", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("journey_id", "day", "node_id", "kind", "port"),
    )
    op.create_table(
        "cohort_counts",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("journey_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("metric", sa.String(length=24), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("journey_id", "day", "currency", "metric", "bucket"),
    )
    op.create_table(
        "arm_counts",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("journey_id", sa.Integer(), nullable=False),
        sa.Column("experiment", sa.String(length=64), nullable=False),
        sa.Column("arm", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("metric", sa.String(length=24), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "journey_id", "experiment", "arm", "day", "currency", "metric", "bucket"
        ),
    )


def downgrade() -> None:
    op.drop_table("arm_counts")
    op.drop_table("cohort_counts")
    op.drop_table("step_counts")
    op.drop_index("ix_exposures_experiment_arm", table_name="experiment_exposures")
    op.drop_table("experiment_exposures")
    op.drop_index("ix_case_facts_journey_entered", table_name="case_facts")
    op.drop_table("case_facts")
