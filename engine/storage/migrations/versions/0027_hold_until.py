"""a hold's last day on the case: released by the schedule when that day comes

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 05:10:00

`cases.hold_until` keeps the `until` date of the event that put the case on hold (NULL for a
hold without one, and for a case not on hold); the hold job (engine/intake/hold_until.py)
reads the held cases whose day has come through its index.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("hold_until", sa.Date(), nullable=True))
    op.create_index("ix_cases_hold_until", "cases", ["hold_until"])


def downgrade() -> None:
    op.drop_index("ix_cases_hold_until", "cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("hold_until")
