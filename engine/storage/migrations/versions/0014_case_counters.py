"""Cases: a journey's counters and the payment history conditions read (issue 18).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Two nullable JSON columns: rows from before read as empty."""
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("counters", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("payment_history", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("payment_history")
        batch.drop_column("counters")
