"""consolidation: an outbox row absorbed into a combined message points at its carrier

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 02:05:00

A journey with `settings.consolidate` combines a debtor's messages due on one channel within a
window into one (engine/delivery/consolidation.py). The rows whose content went out in another
row's message keep that row's id in `combined_into` (status 'combining' while the carrier is in
flight, 'combined' once it was handed over), so they are never sent on their own.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("combined_into", BigId, nullable=True))
        batch.create_index("ix_outbox_combined_into", ["combined_into"])


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_combined_into")
        batch.drop_column("combined_into")
