"""settling a debtor's credit: paid back or set off against an open case, by whom and when

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 05:10:00

A kept credit (`debtor_credits`) is settled by staff or the host once: paid back (the day, a
reference, a note) or set off against one open case of the person (`set_off_case_id`; the
booked payment is the case event `credit:<credit id>`). `settled_minor` is what it settled;
the rest of a credit larger than the case's debt is a new kept row whose `rest_of_id` (unique)
names the one it came from.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
COLUMNS = (
    "settled_minor",
    "settled_on",
    "settled_at",
    "settled_by",
    "settled_by_user_id",
    "set_off_case_id",
    "reference",
    "note",
    "rest_of_id",
)


def upgrade() -> None:
    with op.batch_alter_table("debtor_credits") as batch:
        batch.add_column(sa.Column("settled_minor", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("settled_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("settled_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("settled_by", sa.String(254), nullable=True))
        batch.add_column(sa.Column("settled_by_user_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("set_off_case_id", BigId, nullable=True))
        batch.add_column(sa.Column("reference", sa.String(100), nullable=True))
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("rest_of_id", BigId, nullable=True))
        batch.create_foreign_key(
            "fk_debtor_credits_set_off_case_id_cases", "cases", ["set_off_case_id"], ["id"]
        )
        batch.create_foreign_key(
            "fk_debtor_credits_rest_of_id_debtor_credits", "debtor_credits", ["rest_of_id"], ["id"]
        )
        batch.create_unique_constraint("uq_debtor_credits_rest_of_id", ["rest_of_id"])


def downgrade() -> None:
    with op.batch_alter_table("debtor_credits") as batch:
        batch.drop_constraint("uq_debtor_credits_rest_of_id", type_="unique")
        batch.drop_constraint("fk_debtor_credits_rest_of_id_debtor_credits", type_="foreignkey")
        batch.drop_constraint("fk_debtor_credits_set_off_case_id_cases", type_="foreignkey")
        for column in reversed(COLUMNS):
            batch.drop_column(column)
