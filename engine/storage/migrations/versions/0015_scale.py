"""the outbox's due index ends with the id

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 20:35:00

The dispatcher claims the earliest due messages of one status, ordered by (not_before, id),
500 at a time. With (status, not_before) alone PostgreSQL read every due row, joined all of
them to their cases and sorted them on disk for each claim (4 s per claim at 150,000 pending
messages: the day's dispatch grew with the square of its size). With the id in the index, a
claim reads its rows in order and stops after them.
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.create_index("ix_outbox_due", "outbox", ["status", "not_before", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.create_index("ix_outbox_due", "outbox", ["status", "not_before"])
