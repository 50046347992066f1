"""the designer's case list sorts on indexes

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 21:50:00

The case list pages through a million cases sorted by due date, open amount or step, each
ending with the id so that equal values keep one order. With an index per sort key (ending with
the id) a page reads its rows in order and stops after them instead of sorting every case.
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_cases_list_due": ["due_date", "id"],
    "ix_cases_list_amount": ["amount_open", "id"],
    "ix_cases_list_step": ["node_id", "id"],
    "ix_cases_list_status": ["status", "id"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "cases", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="cases")
