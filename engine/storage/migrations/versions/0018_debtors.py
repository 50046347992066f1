"""debtors merged into another: debtors.merged_into_id, merged_at; the person's history index

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 23:20:00

A host merges a debtor into another (engine/intake/debtor_merge.py): the cases move to the
debtor that stays, and the merged row stays behind pointing at it, so a later case or import
naming the old customer id reaches the debtor that stays and a repeated merge is answered again.

The dispatcher's guard reads, once per batch, the recent messages of every case of the persons
in the batch; ix_outbox_person (case_id, status, sent_at) lets it read just those rows instead
of every sent message (the status index alone would).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("debtors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into_id", BIG_ID, nullable=True))
        batch_op.add_column(sa.Column("merged_at", sa.DateTime(), nullable=True))
        batch_op.create_foreign_key(
            "fk_debtors_merged_into_id", "debtors", ["merged_into_id"], ["id"]
        )
    op.create_index("ix_outbox_person", "outbox", ["case_id", "status", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_person", table_name="outbox")
    with op.batch_alter_table("debtors", schema=None) as batch_op:
        batch_op.drop_constraint("fk_debtors_merged_into_id", type_="foreignkey")
        batch_op.drop_column("merged_at")
        batch_op.drop_column("merged_into_id")
