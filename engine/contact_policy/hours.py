"""Contact hours, Sundays and public holidays in the debtor's local time."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from engine.contact_policy.context import ContactContext
from engine.contact_policy.policy import ContactPolicy, HoursWindow
from engine.contact_policy.public_holidays import holiday_name
from engine.contact_policy.reasons import PREFERRED_HOURS, PUBLIC_HOLIDAY, QUIET_HOURS, SUNDAY

_ONE_DAY = timedelta(days=1)


def hours_block(policy: ContactPolicy, context: ContactContext, local: datetime) -> str | None:
    """Return the reason code that forbids contact at `local` (debtor's time), or None."""
    day = local.date()
    weekday = day.weekday()
    if weekday == 6 and policy.no_sundays:
        return SUNDAY
    if policy.no_public_holidays and holiday_name(context.country, context.subdivision, day):
        return PUBLIC_HOLIDAY
    window = policy.allowed_hours[weekday]
    clock = local.time()
    if window is None or not window.start <= clock < window.end:
        return QUIET_HOURS
    preferred = context.preferred_hours
    if preferred is not None and not preferred.start <= clock < preferred.end:
        return PREFERRED_HOURS
    return None


def next_open(
    policy: ContactPolicy,
    context: ContactContext,
    zone: ZoneInfo,
    start: datetime,
    limit: datetime,
) -> datetime | None:
    """Return the first moment at or after `start` inside contact hours, or None by `limit`."""
    local = start.astimezone(zone)
    day = local.date()
    last_day = limit.astimezone(zone).date()
    while day <= last_day:
        window = _open_window(policy, context, day)
        if window is not None:
            if day != local.date() or local.time() < window.start:
                return _opening(day, window, zone, start)
            if local.time() < window.end:
                return local
        day += _ONE_DAY
    return None


def _open_window(policy: ContactPolicy, context: ContactContext, day: date) -> HoursWindow | None:
    """Return the window in which the debtor may be contacted on `day`, or None."""
    weekday = day.weekday()
    if weekday == 6 and policy.no_sundays:
        return None
    if policy.no_public_holidays and holiday_name(context.country, context.subdivision, day):
        return None
    window = policy.allowed_hours[weekday]
    return None if window is None else window.intersect(context.preferred_hours)


def _opening(day: date, window: HoursWindow, zone: ZoneInfo, start: datetime) -> datetime:
    """Return the aware moment the window opens on `day`."""
    # A wall time skipped by a DST jump resolves (fold=0) to the instant just after the jump,
    # which is still inside the window.
    opening = datetime.combine(day, window.start, tzinfo=zone)
    if opening < start:
        # Only on a fall-back day, when `start` is the repeated hour's second pass: take the
        # opening's second pass too, so the answer never lies before `start`.
        opening = opening.replace(fold=1)
    return opening
