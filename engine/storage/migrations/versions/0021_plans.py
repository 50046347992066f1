"""instalment plans: a plan per case and its instalments

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 23:10:00

A debtor agrees a plan on the portal (or a person on the case page): the plan, its SEPA
mandate's masked IBAN and reference, and one row per instalment with its due date, amount and
status, which the scheduler's plan check turns into instalment_paid / instalment_missed events.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ACTIVE = sa.text("status = 'active'")


def upgrade() -> None:
    op.create_table(
        "payment_plans",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("case_id", BigId, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("key", sa.String(100), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("interval", sa.String(16), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("agreed_by", sa.String(254), nullable=False),
        sa.Column("agreed_at", sa.DateTime(), nullable=False),
        sa.Column("provider", sa.String(32)),
        sa.Column("account_holder", sa.String(70)),
        sa.Column("iban_masked", sa.String(40)),
        sa.Column("mandate_reference", sa.String(35)),
        sa.Column("provider_mandate", sa.String(64)),
        sa.Column("provider_schedule", sa.String(64)),
        sa.Column("completed_at", sa.DateTime()),
    )
    op.create_index("ix_payment_plans_case_id", "payment_plans", ["case_id"])
    op.create_index(
        "ux_payment_plans_active",
        "payment_plans",
        ["case_id"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )
    op.create_table(
        "plan_instalments",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("plan_id", BigId, sa.ForeignKey("payment_plans.id"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("paid_at", sa.DateTime()),
        sa.Column("missed_at", sa.DateTime()),
        sa.UniqueConstraint("plan_id", "seq"),
    )
    op.create_index("ix_plan_instalments_due", "plan_instalments", ["status", "due_date"])


def downgrade() -> None:
    op.drop_index("ix_plan_instalments_due", table_name="plan_instalments")
    op.drop_table("plan_instalments")
    op.drop_index("ux_payment_plans_active", table_name="payment_plans")
    op.drop_index("ix_payment_plans_case_id", table_name="payment_plans")
    op.drop_table("payment_plans")
