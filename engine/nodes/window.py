"""A step's allowed weekdays and hours: its message waits in the outbox for the next slot.

Send and webhook steps share these params (e.g. a service suspension only Monday to Thursday,
08:00-16:00). The case moves on at once; the outbox row's `not_before` is the next moment
inside the slot in the debtor's time zone, and the dispatcher's contact policy applies on top.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from engine.core.messages import Joined, Message, Text, Verbatim, msg
from engine.journey.calendar import WEEKDAY_WORDS, WEEKDAYS, Slot
from engine.nodes.base import param

if TYPE_CHECKING:
    from engine.core.state import CaseState

TIME_FORMAT = msg("Use the form HH:MM, for example 16:00.")
NO_WEEKDAY = msg("Pick at least one weekday, or leave the list empty for every day.")
UNTIL_AFTER_FROM = msg("The end of the hours ({until}) must be after their start ({start}).")


def _time(value: Any) -> time | None:
    """An HH:MM value as a time; None when empty or malformed."""
    if not value or not isinstance(value, str):
        return None
    try:
        return time.fromisoformat(value)
    except ValueError:
        return None


class SlotParams(Schema):
    """Allowed weekdays and hours of a step (all optional: no limit by default)."""

    allowed_weekdays = fields.List(
        fields.String(validate=validate.OneOf(WEEKDAYS)),
        load_default=None,
        allow_none=True,
        metadata=param(
            msg("Allowed weekdays"),
            msg("Let the message go only on these days (empty: every day)."),
            choices=dict(WEEKDAY_WORDS),
        ),
    )
    allowed_from = fields.String(
        load_default=None,
        allow_none=True,
        metadata=param(
            msg("Allowed from"), msg("Earliest local time (HH:MM, debtor's time zone).")
        ),
    )
    allowed_until = fields.String(
        load_default=None,
        allow_none=True,
        metadata=param(msg("Allowed until"), msg("Latest local time (HH:MM), exclusive.")),
    )
    skip_holidays = fields.Boolean(
        load_default=False,
        metadata=param(
            msg("Not on public holidays"),
            msg("Wait past public holidays of the debtor's region too."),
        ),
    )

    @validates_schema
    def _valid_slot(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        for name in ("allowed_from", "allowed_until"):
            if data.get(name) and _time(data[name]) is None:
                errors[name] = [TIME_FORMAT.text()]
        if data.get("allowed_weekdays") == []:
            errors["allowed_weekdays"] = [NO_WEEKDAY.text()]
        start, until = _time(data.get("allowed_from")), _time(data.get("allowed_until"))
        if start and until and until <= start:
            words = UNTIL_AFTER_FROM.with_params(
                until=data["allowed_until"], start=data["allowed_from"]
            )
            errors["allowed_until"] = [words.text()]
        if errors:
            raise ValidationError(errors)


SLOT_ERRORS = (TIME_FORMAT, NO_WEEKDAY, UNTIL_AFTER_FROM)


def slot_of(params: dict[str, Any]) -> Slot | None:
    """The step's slot, or None when it sets no limit."""
    days, start = params.get("allowed_weekdays"), _time(params.get("allowed_from"))
    until, holidays = _time(params.get("allowed_until")), bool(params.get("skip_holidays"))
    if not days and start is None and until is None and not holidays:
        return None
    weekdays = frozenset(WEEKDAYS.index(d) for d in days) if days else frozenset(range(7))
    return Slot(weekdays, start or time(0, 0), until, holidays)


def release_at(params: dict[str, Any], case: CaseState, now: datetime) -> datetime | None:
    """The next moment inside the step's slot (UTC), or None when the step may send now."""
    slot = slot_of(params)
    if slot is None:
        return None
    opens = slot.next_open(now, ZoneInfo(case.timezone), case.country, case.subdivision)
    opens = opens.astimezone(UTC)
    return opens if opens > now else None


def slot_words(params: dict[str, Any]) -> Text | None:
    """'only Monday, Tuesday, Wednesday, Thursday, 08:00-16:00, not on public holidays'."""
    slot = slot_of(params)
    if slot is None:
        return None
    parts: list[Text] = []
    days = params.get("allowed_weekdays")
    if days:
        ordered = sorted(days, key=WEEKDAYS.index)
        parts.append(Joined(tuple(WEEKDAY_WORDS[d] for d in ordered), ", "))
    if params.get("allowed_from") or params.get("allowed_until"):
        start = params.get("allowed_from") or "00:00"
        parts.append(Verbatim(f"{start}-{params.get('allowed_until') or '24:00'}"))
    if slot.skip_holidays:
        parts.append(msg("not on public holidays"))
    return msg("to go out only {slot}", slot=Joined(tuple(parts), ", "))


def with_slot(queued: Message, params: dict[str, Any]) -> Text:
    """A step's rule phrase, with its slot when it has one."""
    words = slot_words(params)
    if words is None:
        return queued
    return msg("{queued} ({slot})", queued=queued, slot=words)
