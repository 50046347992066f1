"""Change or cancel an active instalment plan: what life changes, without breaking the plan.

`change_plan` replaces the case's active plan by a new one for what is still open, within the
same limits as a new plan: in one transaction the old plan becomes `replaced` (its open
instalments `cancelled`), the new one `active` (keeping the old plan's SEPA mandate), and
`plan_changed {plan, replaces, ...}` goes through the one event intake. Its key is made from the
form's one-time value (as `agree_plan`), so a double submit stores one change. `cancel_plan`
makes the plan `cancelled` (its open instalments too) and records `plan_cancelled {plan, by}`.

Both move the old plan by a conditional UPDATE (`status = 'active'` in its WHERE): of two forms
racing on the same plan one wins, the other finds it moved and is refused as stale (or, with the
same key, finds the change the first made). Paid and missed instalments stay as they were; a
debit already asked of the provider stays and its money is booked as any payment when it
arrives. A plan the provider collects on its own schedule (GoCardless) is refused: the payment
contract has no call to cancel a schedule, so changing it here would leave it live there.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.core.clock import naive_utc
from engine.core.messages import msg
from engine.intake.events import record_event
from engine.payments.checkout import to_minor
from engine.payments.plan_book import (
    PlanView,
    _open_case,
    _view,
    book_schedule,
    case_today,
    plan_limits,
    plan_row,
)
from engine.payments.plans import PlanRefused, schedule
from engine.storage.models import CaseRow, PaymentPlanRow, PlanInstalmentRow


class PlanStale(PlanRefused):
    """The plan a form was made for is no longer active (changed, cancelled, completed)."""


class PlanNotFound(PlanRefused):
    """The form names a plan this case does not have (another case's, or none)."""


def provider_collects(plan: PaymentPlanRow | PlanView) -> bool:
    """True for a plan the provider collects on its own schedule (no way to cancel it there)."""
    return plan.provider_mandate is not None


def changeable_plan(session: Session, case_id: int, plan_id: int) -> PlanView:
    """The case's active plan `plan_id`, if it may be changed or cancelled (PlanRefused if not)."""
    return _view(session, _active(session, case_id, plan_id))


def _active(session: Session, case_id: int, plan_id: int) -> PaymentPlanRow:
    plan = session.get(PaymentPlanRow, plan_id)
    if plan is None or plan.case_id != case_id:
        raise PlanNotFound("plan", msg("There is no such instalment plan for this case."))
    if plan.status != "active":
        raise PlanStale("plan", msg("This instalment plan was changed or has ended meanwhile."))
    if provider_collects(plan):
        raise PlanRefused(
            "plan",
            msg(
                "This plan is collected by our payment provider on its own schedule: "
                "please contact us to change it."
            ),
        )
    return plan


def _retire(session: Session, plan_id: int, status: str) -> bool:
    """Move an active plan to `status` and cancel its open instalments; False if it moved."""
    moved = session.execute(
        update(PaymentPlanRow)
        .where(PaymentPlanRow.id == plan_id, PaymentPlanRow.status == "active")
        .values(status=status)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        return False
    session.execute(
        update(PlanInstalmentRow)
        .where(PlanInstalmentRow.plan_id == plan_id, PlanInstalmentRow.status == "open")
        .values(status="cancelled")
        .execution_options(synchronize_session=False)
    )
    session.expire_all()
    return True


def _by_key(session: Session, key: str) -> PaymentPlanRow | None:
    return session.scalar(select(PaymentPlanRow).where(PaymentPlanRow.key == key))


def change_plan(
    session: Session,
    case_id: int,
    plan_id: int,
    key: str,
    count: int,
    first: date,
    now: datetime,
    by: str = "portal",
) -> tuple[PlanView, bool]:
    """Replace the active plan by one for what is open; returns (new plan, created)."""
    existing = _by_key(session, key)
    if existing is not None:
        return _view(session, existing), False
    old = _active(session, case_id, plan_id)
    case = _open_case(session, case_id)
    limits = plan_limits(session, case)
    total = to_minor(case.amount_open, case.currency)
    parts = schedule(limits, total, count, first, case_today(case, now))
    mandate = (old.provider, old.account_holder, old.iban_masked, old.mandate_reference)
    if not _retire(session, plan_id, "replaced"):
        again = _by_key(session, key)  # the same form a moment ago in another request
        if again is not None:
            return _view(session, again), False
        raise PlanStale("plan", msg("This instalment plan was changed or has ended meanwhile."))
    plan = plan_row(
        case,
        key,
        total,
        limits,
        by,
        # Payments up to this moment are in the balance it spreads; only later ones pay it.
        naive_utc(now) + timedelta(microseconds=1),
        provider=mandate[0],
        account_holder=mandate[1],
        iban_masked=mandate[2],
        mandate_reference=mandate[3],  # the mandate the debtor gave stays the same mandate
    )
    try:
        with session.begin_nested():
            session.add(plan)
            session.flush()
    except IntegrityError:  # the partial unique index: another plan became active meanwhile
        raise PlanStale(
            "plan", msg("This instalment plan was changed or has ended meanwhile.")
        ) from None
    book_schedule(session, case, plan, parts, "changed", now, replaces=plan_id)
    return _view(session, plan), True


def cancel_plan(
    session: Session, case_id: int, plan_id: int, now: datetime, by: str = "portal"
) -> bool:
    """Cancel the active plan and record `plan_cancelled`; False if it was cancelled already."""
    plan = session.get(PaymentPlanRow, plan_id)
    if plan is not None and plan.case_id == case_id and plan.status == "cancelled":
        return False  # a double submit: cancelled by the first
    _active(session, case_id, plan_id)
    case = session.get(CaseRow, case_id)
    assert case is not None
    if not _retire(session, plan_id, "cancelled"):
        again = session.get(PaymentPlanRow, plan_id)
        if again is not None and again.status == "cancelled":
            return False
        raise PlanStale("plan", msg("This instalment plan was changed or has ended meanwhile."))
    payload = {"plan": plan_id, "by": by}
    record_event(
        session, case.external_id, f"plan:{plan_id}:cancelled", "plan_cancelled", payload, now
    )
    session.flush()
    return True
