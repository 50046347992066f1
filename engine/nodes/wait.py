"""Wait: park the case for a duration, business days, or until a day relative to the due date."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import holidays
from marshmallow import Schema, ValidationError, fields, validate, validates

from engine.core.messages import DEFAULT_LANG, Message, msg
from engine.nodes.base import Entry, NodeType, Problem, RuleSpec, param, rule_spec

if TYPE_CHECKING:
    from engine.core.state import CaseState
    from engine.journey.document import Journey, Node

MODES = ("duration", "business_days", "due_date")
NEGATIVE_WAIT = msg(
    "A wait cannot count back: use 0 or more days (only 'due date + days' may be negative)."
)
# marshmallow takes strings: validation reads this English back into the message (from_english).
AT_TIME_FORMAT = msg("Use the form HH:MM, for example 09:00.")


class WaitParams(Schema):
    mode = fields.String(
        load_default="duration",
        validate=validate.OneOf(MODES),
        metadata=param(
            msg("Wait for"),
            msg("A duration, a number of business days, or a day relative to the due date."),
            choices={
                "duration": msg("a duration"),
                "business_days": msg("business days"),
                "due_date": msg("due date + days"),
            },
        ),
    )
    days = fields.Integer(
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


@lru_cache(maxsize=256)
def _holidays(country: str, subdivision: str | None, year: int) -> holidays.HolidayBase:
    """Public holidays of one country (and region) and year; cached because it is costly."""
    try:
        return holidays.country_holidays(country, subdiv=subdivision, years=year)
    except NotImplementedError:
        return holidays.HolidayBase()


def add_business_days(start: date, n: int, country: str, subdivision: str | None) -> date:
    """`n` business days after `start`: Mondays to Fridays that are not public holidays."""
    day = start
    while n > 0:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in _holidays(country, subdivision, day.year):
            n -= 1
    return day


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
    else:
        day = case.due_date + timedelta(days=days)
        moment = datetime.combine(day, at or time(0, 0), zone)
    return max(moment.astimezone(UTC), now)


class Wait(NodeType):
    """Park until a moment, then go on."""

    name = "wait"
    label = msg("Wait")
    help = msg(
        "Pause the journey: for some days, some business days, or until D+n after the due date."
    )
    params_schema = WaitParams
    parks = True
    triggers = ("timer",)

    def compile(self, node: Node, journey: Journey) -> list[RuleSpec]:
        return [rule_spec(node.id, "timer", "next", self.words(node.params))]

    def enter(self, node: Node, case: CaseState, now: datetime) -> Entry:
        return Entry(timer_at=timer_for(node.params, case, now))

    def check(self, node: Node, journey: Journey) -> list[Problem]:
        """Days before now make no sense for a duration or business days (D-n does)."""
        days = node.params.get("days", 0)
        mode = node.params.get("mode", "duration")
        if isinstance(days, int) and days < 0 and mode != "due_date":
            return [Problem.of(NEGATIVE_WAIT, node.id, "params.days")]
        return []

    def instant_ports(self, params: dict[str, Any]) -> frozenset[str]:
        """A wait of no time, a time of day already past, or a due-date day already come."""
        mode, days = params.get("mode", "duration"), int(params.get("days", 0))
        if mode == "due_date":
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
            return msg("{days} business days have passed{at}", days=days, at=at)
        if mode == "due_date":
            offset = f"{'+' if days >= 0 else '-'}{abs(days)}"
            return msg("the day D{offset} after the due date has come{at}", offset=offset, at=at)
        hours = int(params.get("hours", 0))
        if hours:
            return msg("{days} days {hours} hours have passed{at}", days=days, hours=hours, at=at)
        return msg("{days} days have passed{at}", days=days, at=at)

    @staticmethod
    def phrase(params: dict[str, Any], lang: str = DEFAULT_LANG) -> str:
        """The trigger as a reviewer reads it ('7 days have passed at 09:00')."""
        return Wait.words(params).text(lang)


NODE_TYPE = Wait()
