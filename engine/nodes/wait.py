"""Wait: park the case for a duration, business days, until a day relative to the due date, the
next weekday, a day of the month (salary day, shifted off weekends and holidays) or month end."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from engine.core.messages import DEFAULT_LANG, Message, msg
from engine.journey.calendar import (
    SHIFTS,
    WEEKDAY_WORDS,
    WEEKDAYS,
    add_business_days,
    next_month_day,
    next_weekday,
)
from engine.nodes.base import Entry, NodeType, RuleSpec, WholeDays, param, rule_spec

if TYPE_CHECKING:
    from engine.core.state import CaseState
    from engine.journey.document import Journey, Node

MODES = ("duration", "business_days", "due_date", "weekday", "month_day", "month_end")
# marshmallow takes strings: validation reads this English back into the message (from_english).
AT_TIME_FORMAT = msg("Use the form HH:MM, for example 09:00.")
NO_NEGATIVE_WAIT = msg(
    "A wait of {days} days would end before it starts; only a wait relative to the due date "
    "may count back. Give 0 or more days."
)
NEEDS_WEEKDAY = msg("A wait until a weekday needs the weekday.")
NEEDS_MONTH_DAY = msg("A wait until a day of the month needs the day (1 to 31).")


class WaitParams(Schema):
    mode = fields.String(
        load_default="duration",
        validate=validate.OneOf(MODES),
        metadata=param(
            msg("Wait for"),
            msg(
                "A duration, business days, a day relative to the due date, the next weekday, "
                "a day of the month (e.g. salary day) or the end of the month."
            ),
            choices={
                "duration": msg("a duration"),
                "business_days": msg("business days"),
                "due_date": msg("due date + days"),
                "weekday": msg("the next weekday"),
                "month_day": msg("a day of the month"),
                "month_end": msg("the end of the month"),
            },
        ),
    )
    days = WholeDays(
        load_default=0,
        validate=validate.Range(min=-365, max=3650),
        metadata=param(
            msg("Days"), msg("Days to wait; with 'due date + days' the day D+n (may be negative).")
        ),
    )
    hours = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0, max=23 * 24),
        metadata=param(msg("Hours"), msg("Extra hours to wait (duration mode only).")),
    )
    weekday = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(WEEKDAYS),
        metadata=param(
            msg("Weekday"),
            msg("With 'the next weekday': which one (never today itself)."),
            choices=dict(WEEKDAY_WORDS),
        ),
    )
    month_day = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=1, max=31),
        metadata=param(
            msg("Day of the month"),
            msg("With 'a day of the month': 1 to 31 (31 is each month's last day)."),
        ),
    )
    shift = fields.String(
        load_default="none",
        validate=validate.OneOf(SHIFTS),
        metadata=param(
            msg("On a weekend or holiday"),
            msg("Where a day of the month or month end that is no business day moves."),
            choices={
                "none": msg("stay on that day"),
                "before": msg("the business day before"),
                "after": msg("the business day after"),
            },
        ),
    )
    at_time = fields.String(
        load_default=None,
        allow_none=True,
        metadata=param(
            msg("At time"), msg("Local time of day (HH:MM, debtor's time zone) to move on.")
        ),
    )

    @validates("at_time")
    def _valid_time(self, value: str | None, **_: Any) -> None:
        if value is None:
            return
        try:
            time.fromisoformat(value)
        except ValueError as exc:
            raise ValidationError(AT_TIME_FORMAT.text()) from exc

    @validates_schema
    def _not_backwards(self, data: dict[str, Any], **_: Any) -> None:
        """Only D-n counts back: a negative duration or business-day wait is a typo."""
        days, mode = data.get("days", 0), data.get("mode", "duration")
        if mode in ("duration", "business_days") and isinstance(days, int) and days < 0:
            raise ValidationError(NO_NEGATIVE_WAIT.with_params(days=days).text(), "days")
        if mode == "weekday" and not data.get("weekday"):
            raise ValidationError(NEEDS_WEEKDAY.text(), "weekday")
        if mode == "month_day" and not data.get("month_day"):
            raise ValidationError(NEEDS_MONTH_DAY.text(), "month_day")


def _day(params: dict[str, Any], case: CaseState, today: date) -> date | None:
    """The day a calendar wait (weekday, month day, month end) ends; None for other modes."""
    mode = params.get("mode", "duration")
    direction = params.get("shift") or "none"
    if mode == "weekday":
        return next_weekday(today, params["weekday"])
    if mode == "month_day":
        dom = int(params["month_day"])
        return next_month_day(today, dom, direction, case.country, case.subdivision)
    if mode == "month_end":
        return next_month_day(today, 31, direction, case.country, case.subdivision)
    return None


def timer_for(params: dict[str, Any], case: CaseState, now: datetime) -> datetime:
    """When the wait is over, as an aware UTC datetime."""
    zone = ZoneInfo(case.timezone)
    local_now = now.astimezone(zone)
    mode = params.get("mode", "duration")
    days = int(params.get("days", 0))
    at = time.fromisoformat(params["at_time"]) if params.get("at_time") else None
    if mode == "duration":
        moment = local_now + timedelta(days=days, hours=int(params.get("hours", 0)))
        if at is not None:
            moment = datetime.combine(moment.date(), at, zone)
    elif mode == "business_days":
        day = add_business_days(local_now.date(), days, case.country, case.subdivision)
        moment = datetime.combine(day, at or local_now.time(), zone)
    elif mode == "due_date":
        day = case.due_date + timedelta(days=days)
        moment = datetime.combine(day, at or time(0, 0), zone)
    else:
        calendar_day = _day(params, case, local_now.date())
        assert calendar_day is not None  # the schema admits only these modes
        moment = datetime.combine(calendar_day, at or time(0, 0), zone)
    return max(moment.astimezone(UTC), now)


_MONTH_DAY_WORDS = {
    "none": msg("it is day {day} of the month{at}"),
    "before": msg(
        "it is day {day} of the month (the business day before if that is a weekend or holiday){at}"
    ),
    "after": msg(
        "it is day {day} of the month (the business day after if that is a weekend or holiday){at}"
    ),
}
_MONTH_END_WORDS = {
    "none": msg("it is the last day of the month{at}"),
    "before": msg("it is the last business day of the month{at}"),
    "after": msg(
        "it is the last day of the month (the business day after if that is a weekend or "
        "holiday){at}"
    ),
}


class Wait(NodeType):
    """Park until a moment, then go on."""

    name = "wait"
    label = msg("Wait")
    help = msg(
        "Pause the journey: for some days or business days, until D+n after the due date, the "
        "next weekday, a day of the month or the end of the month."
    )
    params_schema = WaitParams
    parks = True
    triggers = ("timer",)

    def compile(self, node: Node, journey: Journey) -> list[RuleSpec]:
        return [rule_spec(node.id, "timer", "next", self.words(node.params))]

    def enter(self, node: Node, case: CaseState, now: datetime) -> Entry:
        return Entry(timer_at=timer_for(node.params, case, now))

    def instant_ports(self, params: dict[str, Any]) -> frozenset[str]:
        """A wait of no time, a time of day already past, or a due-date day already come."""
        mode, days = params.get("mode", "duration"), int(params.get("days", 0))
        if mode in ("weekday", "month_day", "month_end"):
            zero = False  # always a day after today
        elif mode == "due_date":
            zero = True  # D+n may be over when the case arrives
        elif mode == "business_days":
            zero = days <= 0
        else:
            zero = days * 24 + int(params.get("hours", 0)) <= 0 or (
                days <= 0 and bool(params.get("at_time"))
            )
        return frozenset({"next"}) if zero else frozenset()

    @staticmethod
    def words(params: dict[str, Any]) -> Message:
        """The trigger as a reviewer reads it, in any language."""
        mode = params.get("mode", "duration")
        days = int(params.get("days", 0))
        at = msg(" at {time}", time=params["at_time"]) if params.get("at_time") else ""
        if mode == "business_days":
            return msg("{days:#business day has|business days have} passed{at}", days=days, at=at)
        if mode == "due_date":
            if days < 0:
                return msg(
                    "it is {days:#day|days} before the due date (D-{days}){at}", days=-days, at=at
                )
            if days > 0:
                return msg(
                    "it is {days:#day|days} after the due date (D+{days}){at}", days=days, at=at
                )
            return msg("it is the due date (D+0){at}", at=at)
        calendar = Wait._calendar_words(params, at)
        if calendar is not None:
            return calendar
        hours = int(params.get("hours", 0))
        if hours:
            return msg(
                "{days:#day|days} {hours:#hour|hours} have passed{at}",
                days=days,
                hours=hours,
                at=at,
            )
        return msg("{days:#day has|days have} passed{at}", days=days, at=at)

    @staticmethod
    def _calendar_words(params: dict[str, Any], at: Message | str) -> Message | None:
        """A wait until a weekday, a day of the month or the month end, in words."""
        mode = params.get("mode")
        direction = params.get("shift") or "none"
        if mode == "weekday":
            day = WEEKDAY_WORDS.get(params.get("weekday") or "", msg("Monday"))
            return msg("it is the next {weekday}{at}", weekday=day, at=at)
        if mode == "month_day":
            words = _MONTH_DAY_WORDS[direction]
            return words.with_params(day=int(params.get("month_day") or 1), at=at)
        if mode == "month_end":
            return _MONTH_END_WORDS[direction].with_params(at=at)
        return None

    @staticmethod
    def phrase(params: dict[str, Any], lang: str = DEFAULT_LANG) -> str:
        """The trigger as a reviewer reads it ('7 days have passed at 09:00')."""
        return Wait.words(params).text(lang)


NODE_TYPE = Wait()
