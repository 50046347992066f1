"""bank statements: imported files and their lines, each matched to a case or left for a person

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 20:30:00

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Reconciliation finds cases by the invoice reference a payer wrote.
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_reference", ["reference"], unique=False)
    op.create_table(
        "statement_imports",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("format", sa.String(length=24), nullable=False),
        sa.Column("imported_by", sa.String(length=254), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.Column("lines_total", sa.Integer(), nullable=False),
        sa.Column("lines_new", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("statement_imports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_statement_imports_sha256"), ["sha256"], unique=False)
    op.create_table(
        "statement_lines",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("line_id", sa.String(length=64), nullable=False),
        sa.Column("import_id", BIG_ID, nullable=False),
        sa.Column("place", sa.String(length=40), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("statement_id", sa.String(length=100), nullable=False),
        sa.Column("entry_ref", sa.String(length=100), nullable=False),
        sa.Column("booking_date", sa.Date(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("credit", sa.Boolean(), nullable=False),
        sa.Column("reference", sa.String(length=140), nullable=True),
        sa.Column("remittance", sa.Text(), nullable=False),
        sa.Column("debtor_name", sa.String(length=200), nullable=True),
        sa.Column("debtor_iban", sa.String(length=34), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("amount_note", sa.String(length=16), nullable=True),
        sa.Column("case_id", BIG_ID, nullable=True),
        sa.Column("event_id", sa.String(length=100), nullable=True),
        sa.Column("decided_by", sa.String(length=254), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["import_id"], ["statement_imports.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("line_id"),
    )
    with op.batch_alter_table("statement_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_statement_lines_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_statement_lines_import_id"), ["import_id"], unique=False
        )
        batch_op.create_index("ix_statement_lines_status", ["status", "import_id"], unique=False)


def downgrade() -> None:
    op.drop_table("statement_lines")
    op.drop_table("statement_imports")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_reference")
