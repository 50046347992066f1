"""What a case owes: principal, fees and interest; booking them and allocating payments to them.

`amount_open` stays the principal still open (every rule and field that reads it reads the
same); fees and interest live in the case's `charges` (one JSON column):

    {"fees": "5.00", "interest": "1.23",          what is open of each
     "fees_charged": "5.00", "interest_charged": "1.23",   what was ever booked
     "interest_to": "2026-03-01"}                 interest is booked for the days before this

Interest is booked (an `interest_booked` event on the case) when a payment arrives, before it
is allocated, and when a `send` or `fee` step is entered, so a demand states what it booked;
between bookings `owed` adds what has accrued since, unbooked, for texts and pages. Payments
are allocated by § 367 BGB (costs, then interest, then principal) unless the journey's
`settings.balance.allocation` says principal first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from engine.money import interest, rates

if TYPE_CHECKING:
    from engine.core.state import CaseState
    from engine.journey.document import Journey

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
INTEREST_MODES = ("off", "statutory", "fixed")
INTEREST_FROM = ("due_date", "default")
ALLOCATIONS = ("costs_interest_principal", "principal_costs_interest")
CLOSE_WHEN = ("all_paid", "principal_paid")
DEFAULT_AFTER_DAYS = 30  # § 286 Abs. 3 BGB: default 30 days after due date and invoice


@dataclass(frozen=True)
class InterestSettings:
    """A journey's interest: off, statutory (from data) or a fixed annual rate; from when."""

    mode: str = "off"
    rate: Decimal | None = None  # percent a year, for `fixed`
    start: str = "due_date"  # or "default": `default_after_days` after the due date
    default_after_days: int = DEFAULT_AFTER_DAYS


@dataclass(frozen=True)
class BalanceSettings:
    """How payments are allocated and when the case closes."""

    allocation: str = ALLOCATIONS[0]
    close_when: str = "all_paid"


@dataclass(frozen=True)
class Owed:
    """What a case owes on a day: principal, fees, interest (booked + accrued) and the total."""

    principal: Decimal
    fees: Decimal
    interest: Decimal
    rate: Decimal | None  # the annual rate (percent) on that day, None without interest

    @property
    def total(self) -> Decimal:
        """Everything owed."""
        return self.principal + self.fees + self.interest


def interest_settings(journey: Journey | None) -> InterestSettings:
    """The journey's interest settings (off where it has none)."""
    raw = ((journey.settings or {}) if journey is not None else {}).get("interest") or {}
    rate = raw.get("rate")
    return InterestSettings(
        mode=str(raw.get("mode", "off")),
        rate=None if rate in (None, "") else Decimal(str(rate)),
        start=str(raw.get("from", "due_date")),
        default_after_days=int(raw.get("default_after_days", DEFAULT_AFTER_DAYS)),
    )


def balance_settings(journey: Journey | None) -> BalanceSettings:
    """The journey's allocation order and closing rule (defaults: § 367 BGB, all paid)."""
    raw = ((journey.settings or {}) if journey is not None else {}).get("balance") or {}
    return BalanceSettings(
        allocation=str(raw.get("allocation", ALLOCATIONS[0])),
        close_when=str(raw.get("close_when", "all_paid")),
    )


def amount(charges: dict[str, Any], key: str) -> Decimal:
    """One component of `charges` as a Decimal (0.00 when absent)."""
    return Decimal(str(charges.get(key) or "0.00"))


def interest_start(cs: CaseState, settings: InterestSettings) -> date:
    """The first day that earns interest: the day after the due date, or after default."""
    days = settings.default_after_days if settings.start == "default" else 0
    return cs.due_date + timedelta(days=days + 1)


def annual_rate(cs: CaseState, journey: Journey, settings: InterestSettings, day: date) -> Decimal:
    """The annual rate (percent) on `day` (rates.NoStatutoryRate where the law has none)."""
    if settings.mode == "fixed":
        return settings.rate or ZERO
    return rates.rate_on(journey.jurisdiction, debtor_type(cs), day)


def accrued(cs: CaseState, journey: Journey | None, day: date) -> Decimal:
    """Interest earned since the last booking, for the days before `day`, not yet booked."""
    settings = interest_settings(journey)
    if journey is None or settings.mode == "off" or cs.amount_open <= 0:
        return ZERO
    start = max(interest_start(cs, settings), _booked_to(cs) or date.min)
    if start >= day:
        return ZERO
    principal = int(cs.amount_open / CENT)
    if settings.mode == "fixed":
        minor = interest.fixed_interest(principal, settings.rate or ZERO, start, day)
    else:
        minor = interest.statutory_interest(
            principal, journey.jurisdiction, debtor_type(cs), start, day
        )
    return Decimal(minor) * CENT


def owed(cs: CaseState, journey: Journey | None, day: date) -> Owed:
    """What the case owes on `day`, with interest accrued since the last booking."""
    settings = interest_settings(journey)
    rate = None
    if journey is not None and settings.mode != "off":
        try:
            rate = annual_rate(cs, journey, settings, day)
        except rates.NoStatutoryRate:
            rate = None
    return Owed(
        principal=cs.amount_open,
        fees=amount(charges_of(cs), "fees"),
        interest=amount(charges_of(cs), "interest") + accrued(cs, journey, day),
        rate=rate,
    )


def left_to_close(cs: CaseState, journey: Journey | None) -> Decimal:
    """What must still be paid before a payment closes the case (the journey's `close_when`)."""
    if balance_settings(journey).close_when == "principal_paid":
        return cs.amount_open
    return booked_total(cs)


def booked_total(case: Any) -> Decimal:
    """The principal open plus the fees and interest booked and not yet paid."""
    charges = charges_of(case)
    return case.amount_open + amount(charges, "fees") + amount(charges, "interest")


def interest_payload(cs: CaseState, journey: Journey, day: date) -> dict[str, Any] | None:
    """The `interest_booked` event for interest accrued up to `day`; None when there is none."""
    settings = interest_settings(journey)
    if settings.mode == "off":
        return None
    try:
        due = accrued(cs, journey, day)
        rate = annual_rate(cs, journey, settings, day - timedelta(days=1))
    except rates.NoStatutoryRate:
        return None  # validation refuses statutory interest where the data has none
    if due <= 0:
        return None
    start = max(interest_start(cs, settings), _booked_to(cs) or date.min)
    return {
        "amount": str(due),
        "currency": cs.currency,
        "from": start.isoformat(),
        "to": day.isoformat(),
        "rate": str(rate),
        "mode": settings.mode,
    }


def debtor_type(case: Any) -> str:
    """A case's debtor type (a sample without one: consumer, the stricter law)."""
    return str(getattr(case, "debtor_type", None) or "consumer")


def charges_of(case: Any) -> dict[str, Any]:
    """A case's charges, from a CaseState, a case row or a sample (none: {})."""
    return getattr(case, "charges", None) or {}


def _booked_to(cs: CaseState) -> date | None:
    value = charges_of(cs).get("interest_to")
    return date.fromisoformat(value) if value else None


# -- the effects of the two events (engine/intake/event_effects.py calls these) -----------------


def charge_fee(cs: CaseState, payload: dict[str, Any]) -> dict[str, Any]:
    """A fee is charged: it is open, and counted among the fees ever charged."""
    fee = Decimal(str(payload["amount"]))
    charges = dict(cs.charges)
    charges["fees"] = str(amount(charges, "fees") + fee)
    charges["fees_charged"] = str(amount(charges, "fees_charged") + fee)
    cs.charges = charges
    return {"amount": str(fee), "fees_open": charges["fees"], "name": payload.get("name")}


def book_interest(cs: CaseState, payload: dict[str, Any]) -> dict[str, Any]:
    """Interest is booked: it is open, and the days up to `to` count as booked."""
    due = Decimal(str(payload["amount"]))
    charges = dict(cs.charges)
    charges["interest"] = str(amount(charges, "interest") + due)
    charges["interest_charged"] = str(amount(charges, "interest_charged") + due)
    if payload.get("to"):
        charges["interest_to"] = str(payload["to"])
    cs.charges = charges
    return {
        "amount": str(due),
        "interest_open": charges["interest"],
        **{k: payload[k] for k in ("from", "to", "rate") if payload.get(k)},
    }


def allocate(cs: CaseState, paid: Decimal, allocation: str = ALLOCATIONS[0]) -> dict[str, Any]:
    """Spread a payment over the open parts in the journey's order; returns the split."""
    charges = dict(cs.charges)
    parts = {"fees": amount(charges, "fees"), "interest": amount(charges, "interest")}
    order = ("fees", "interest", "principal")
    if allocation == "principal_costs_interest":
        order = ("principal", "fees", "interest")
    left, split = paid, {}
    for part in order:
        open_ = cs.amount_open if part == "principal" else parts[part]
        take = min(left, open_)
        left -= take
        split[part] = take
        if part == "principal":
            cs.amount_open = open_ - take
        else:
            charges[part] = str(open_ - take)
    if charges != cs.charges and (parts["fees"] or parts["interest"]):
        cs.charges = charges
    return {f"to_{k}": str(v) for k, v in split.items() if v} | (
        {"overpaid": str(left)} if left > 0 else {}
    )
