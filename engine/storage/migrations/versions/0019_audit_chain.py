"""the tamper-evident audit trail: each audit row's predecessor hash and own hash

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 21:45:00

Rows written before this migration keep empty hashes and are not chained: a backfill would
have to hash every existing row of every installation inside the upgrade, and a trail that
was never protected gains nothing from being hashed after the fact. Each chain starts at its
first row written afterwards; `mahnwerk audit verify` says from which row the chain starts
and how many rows came before it (docs/compliance.md).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit") as batch:
        batch.add_column(sa.Column("prev_hash", sa.LargeBinary(32), nullable=True))
        batch.add_column(sa.Column("hash", sa.LargeBinary(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit") as batch:
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
