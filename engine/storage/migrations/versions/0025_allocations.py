"""payment allocations and debtor credits: one checkout paying several cases of a debtor

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06 02:10:00

`payment_allocations` keeps, with the checkout's intent and before the provider is asked, which
cases a payment is for and in which order; the provider's confirmation books each case's share
once. `debtor_credits` keeps what a payment brought beyond the chosen cases' debts (unique per
intent: kept once, never dropped).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "payment_allocations",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("intent_id", BigId, sa.ForeignKey("payment_intents.id"), nullable=False),
        sa.Column("case_id", BigId, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("planned_minor", sa.BigInteger(), nullable=False),
        sa.Column("booked_minor", sa.BigInteger(), nullable=True),
        sa.Column("booked_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("intent_id", "case_id"),
    )
    op.create_index("ix_payment_allocations_intent_id", "payment_allocations", ["intent_id"])
    op.create_index("ix_payment_allocations_case_id", "payment_allocations", ["case_id"])
    op.create_table(
        "debtor_credits",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("debtor_id", BigId, sa.ForeignKey("debtors.id"), nullable=False),
        # One credit per payment: a portal checkout (its intent) or, for a payment the host or a
        # bank statement brought for one case, that case's payment event.
        sa.Column(
            "intent_id", BigId, sa.ForeignKey("payment_intents.id"), nullable=True, unique=True
        ),
        sa.Column("case_id", BigId, sa.ForeignKey("cases.id"), nullable=True),
        sa.Column("event_id", sa.String(100), nullable=True, unique=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_debtor_credits_debtor_id", "debtor_credits", ["debtor_id"])


def downgrade() -> None:
    op.drop_index("ix_debtor_credits_debtor_id", "debtor_credits")
    op.drop_table("debtor_credits")
    op.drop_index("ix_payment_allocations_case_id", "payment_allocations")
    op.drop_index("ix_payment_allocations_intent_id", "payment_allocations")
    op.drop_table("payment_allocations")
