"""tighten(): a company may make a profile stricter, never looser."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from engine.contact_policy.policy import ContactPolicy, FrequencyCap, HoldRule, WeeklyHours


class LoosenedPolicyError(ValueError):
    """An override would make a profile less strict than the law or the company allows."""

    def __init__(self, field: str, detail: str) -> None:
        """Name the field, so the company's admin sees which override to fix."""
        super().__init__(f"tighten() refuses to loosen '{field}': {detail}")
        self.field = field


def tighten(profile: ContactPolicy, **overrides: Any) -> ContactPolicy:
    """Return a copy of `profile` with `overrides`, refusing any that loosens a rule."""
    for field, value in overrides.items():
        check = _CHECKS.get(field)
        if check is None:
            raise TypeError(f"tighten() got an unknown ContactPolicy field '{field}'")
        problem = check(getattr(profile, field), value)
        if problem is not None:
            raise LoosenedPolicyError(field, problem)
    return dataclasses.replace(profile, **overrides)


def _hours(base: WeeklyHours, new: WeeklyHours) -> str | None:
    if len(new) != 7:
        return "needs one entry per weekday (7)"
    for day, (old, tight) in enumerate(zip(base, new, strict=True)):
        if tight is not None and (old is None or not old.contains(tight)):
            return f"weekday {day} window {tight} is not inside {old or 'closed'}"
    return None


def _flag(base: bool, new: bool) -> str | None:
    return "cannot switch a ban off" if base and not new else None


def _longer(base: timedelta, new: timedelta) -> str | None:
    return f"{new} is shorter than {base}" if new < base else None


def _shorter(base: timedelta, new: timedelta) -> str | None:
    # A shorter horizon suppresses more sends instead of delivering them late.
    return f"{new} is longer than {base}" if new > base else None


def _superset(base: frozenset[str], new: frozenset[str]) -> str | None:
    missing = set(base) - set(new)
    return f"drops {sorted(missing)}" if missing else None


def _subset(base: frozenset[str], new: frozenset[str]) -> str | None:
    extra = set(new) - set(base)
    return f"adds {sorted(extra)}" if extra else None


def _caps(base: tuple[FrequencyCap, ...], new: tuple[FrequencyCap, ...]) -> str | None:
    # A cap with fewer messages over a longer window is at least as strict; one counted over
    # the person (all their debts) is at least as strict as the same cap counted per debt.
    for cap in base:
        if not any(
            c.channel == cap.channel
            and c.max_count <= cap.max_count
            and c.window >= cap.window
            and (c.scope == "person" or cap.scope == "debt")
            for c in new
        ):
            return f"no cap as strict as {cap.code}"
    return None


def _gaps(base: Mapping[str, timedelta], new: Mapping[str, timedelta]) -> str | None:
    for channel, gap in base.items():
        if new.get(channel, timedelta(0)) < gap:
            return f"gap for {channel} is shorter than {gap}"
    return None


def _holds(base: Mapping[str, HoldRule], new: Mapping[str, HoldRule]) -> str | None:
    for hold, rule in base.items():
        tight = new.get(hold)
        if tight is None:
            return f"drops hold '{hold}'"
        if rule.action == "suppress" and tight.action != "suppress":
            return f"hold '{hold}' would defer instead of suppress"
        if extra := tight.allowed_during_hold - rule.allowed_during_hold:
            return f"hold '{hold}' would let {sorted(extra)} through"
    return None


def _scope(base: str, new: str) -> str | None:
    return (
        "cannot count per debt what is counted per person"
        if (base, new)
        == (
            "person",
            "debt",
        )
        else None
    )


def _any(base: object, new: object) -> str | None:
    return None


_CHECKS: dict[str, Callable[[Any, Any], str | None]] = {
    "name": _any,
    "allowed_hours": _hours,
    "no_sundays": _flag,
    "no_public_holidays": _flag,
    "caps": _caps,
    "min_gap": _longer,
    "channel_min_gap": _gaps,
    "conversation_cooldown": _longer,
    "conversation_scope": _scope,
    "channels_requiring_consent": _superset,
    "holds": _holds,
    "deferral_horizon": _shorter,
    "posted_channels": _subset,
}
