"""What an event does to a case's data, before any rule looks at it. Pure: no SQL."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from engine.core.state import CaseState
from engine.money import balance


def apply(
    cs: CaseState,
    kind: str,
    payload: dict[str, Any],
    now: datetime | None = None,
    allocation: str = balance.ALLOCATIONS[0],
) -> dict[str, Any]:
    """Change the case for one event at `now`; returns what the audit trail should note.

    A payment is spread over fees, interest and principal in the journey's `allocation` order.
    """
    if kind == "payment_received":
        note = _payment(cs, payload, allocation)
    else:
        handler = _HANDLERS.get(kind)
        note = handler(cs, payload) if handler else {}
    if now is not None and kind in _HISTORY:
        cs.payment_history = _HISTORY[kind](dict(cs.payment_history), payload, now)
    return note


def _paid(history: dict[str, Any], payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A payment's day: the day the engine applied it (events are applied within a tick)."""
    return {**history, "last_paid_on": now.date().isoformat()}


def _failed(history: dict[str, Any], payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A failed payment: its reason as the host gave it, and one more failure counted."""
    reason = str(payload.get("reason") or "unknown")[:100]
    failed = int(history.get("failed_payments", 0)) + 1
    return {**history, "last_failure_reason": reason, "failed_payments": failed}


_HISTORY = {"payment_received": _paid, "payment_failed": _failed}


def _payment(cs: CaseState, payload: dict[str, Any], allocation: str) -> dict[str, Any]:
    amount = Decimal(str(payload["amount"]))
    before = cs.amount_open
    charged = bool(cs.charges.get("fees") or cs.charges.get("interest"))
    split = balance.allocate(cs, amount, allocation)
    cs.payments_count += 1
    note: dict[str, Any] = {
        "amount": str(amount),
        "open_before": str(before),
        "open_after": str(cs.amount_open),
    }
    if charged:  # a case without fees or interest notes what it always noted
        note.update({k: v for k, v in split.items() if k != "overpaid"})
    if "overpaid" in split:
        note["overpaid"] = split["overpaid"]
    return note


def _chargeback(cs: CaseState, payload: dict[str, Any]) -> dict[str, Any]:
    """The debtor's bank took a payment back: that amount is open again."""
    amount = Decimal(str(payload["amount"]))
    before = cs.amount_open
    cs.amount_open = before + amount
    return {"amount": str(amount), "open_before": str(before), "open_after": str(cs.amount_open)}


def _promise(cs: CaseState, payload: dict[str, Any]) -> dict[str, Any]:
    cs.promise_date = date.fromisoformat(str(payload["date"]))
    cs.promise_amount = Decimal(str(payload.get("amount") or cs.amount_open))
    cs.promise_baseline = cs.amount_open
    return {"promise_date": cs.promise_date.isoformat(), "promise_amount": str(cs.promise_amount)}


def _contact(cs: CaseState, payload: dict[str, Any]) -> dict[str, Any]:
    changed = []
    for key in ("email", "phone"):
        if key in payload:
            setattr(cs, key, payload[key] or None)
            changed.append(key)
    address = {k: payload[k] for k in ("street", "postcode", "city") if k in payload}
    if address:
        cs.address = {**(cs.address or {}), **address}
        changed.append("address")
    return {"changed": changed}


def _consent(cs: CaseState, payload: dict[str, Any]) -> dict[str, Any]:
    consent = dict(cs.contact_prefs.get("consent", {}))
    consent[payload["channel"]] = bool(payload["granted"])
    cs.contact_prefs = {**cs.contact_prefs, "consent": consent}
    return {"channel": payload["channel"], "granted": bool(payload["granted"])}


def _opt_out(cs: CaseState, payload: dict[str, Any]) -> dict[str, Any]:
    opted = sorted({*cs.contact_prefs.get("opted_out", []), payload["channel"]})
    cs.contact_prefs = {**cs.contact_prefs, "opted_out": opted}
    return {"channel": payload["channel"]}


_HANDLERS = {
    "fee_charged": balance.charge_fee,
    "interest_booked": balance.book_interest,
    "chargeback": _chargeback,
    "promise_to_pay": _promise,
    "task_promise_taken": _promise,  # a promise taken on a call is a promise like any other
    "contact_changed": _contact,
    "consent_changed": _consent,
    "opted_out": _opt_out,
}
