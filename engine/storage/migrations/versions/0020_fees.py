"""Cases: fees and interest open and booked, beside the principal (issue 18 item 3).

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """One nullable JSON column: rows from before read as owing no fees and no interest."""
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("charges", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop it again."""
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("charges")
