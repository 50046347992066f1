"""Overpayments on one case kept as the debtor's credit (the portal's checkout keeps its own).

A payment the host or a bank statement brings for one case can be larger than what the case
still owes. The tick applies it (the case closes) and notes `overpaid` on the case's event
audit row; for a case that belongs to a debtor the surplus is also kept here, in the batch's
transaction, as a credit on the person: shown on the portal and the staff debtor page like a
checkout's surplus (`engine/payments/allocations.py`), never paid back automatically. A case
without a debtor keeps the note only: there is no person to hold the credit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from engine.payments.checkout import to_minor
from engine.storage.db import in_chunks
from engine.storage.models import CaseRow, DebtorCreditRow


@dataclass(frozen=True)
class Overpayment:
    """What one applied payment event brought beyond its case's debt."""

    case_id: int
    event_id: str
    amount: Decimal
    currency: str


def keep_overpayments(connection: Connection, found: list[Overpayment], at: datetime) -> int:
    """Keep each overpayment of a debtor's case as a credit on the debtor; how many were kept.

    Once per payment event (unique `event_id`); the tick applies an event once, in the same
    transaction as this write.
    """
    ids = sorted({o.case_id for o in found})
    debtors: dict[int, int] = {}
    for chunk in in_chunks(ids):
        query = select(CaseRow.id, CaseRow.debtor_id).where(
            CaseRow.id.in_(chunk), CaseRow.debtor_id.is_not(None)
        )
        debtors.update((case_id, debtor_id) for case_id, debtor_id in connection.execute(query))
    rows = [
        {
            "debtor_id": debtors[o.case_id],
            "case_id": o.case_id,
            "event_id": o.event_id,
            "amount_minor": to_minor(o.amount, o.currency),
            "currency": o.currency,
            "state": "kept",
            "created_at": at,
        }
        for o in found
        if o.case_id in debtors and o.amount > 0
    ]
    if rows:
        connection.execute(insert(DebtorCreditRow), rows)
    return len(rows)
