"""decide(): the one question every send asks before a connector is called."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo

from engine.contact_policy import reasons
from engine.contact_policy.context import ContactContext, SentRecord
from engine.contact_policy.decision import ALLOW, Decision, Defer, Suppress
from engine.contact_policy.hours import hours_block, next_open
from engine.contact_policy.pacing import Sent, paced_from, pacing_block, to_utc
from engine.contact_policy.policy import ContactPolicy, HoldRule
from engine.contact_policy.public_holidays import holiday_name

# A hold the policy does not name still blocks: an unknown hold must fail closed.
_UNKNOWN_HOLD = HoldRule()


def decide(
    policy: ContactPolicy,
    context: ContactContext,
    history: Sequence[SentRecord],
    now: datetime,
) -> Decision:
    """Allow, defer or suppress one send to one debtor at `now` (timezone-aware)."""
    if now.tzinfo is None:
        raise ValueError("decide() needs a timezone-aware `now`")
    refusal = _refusal(policy, context)
    if refusal is not None:
        return Suppress(refusal, _sentence(refusal, context, now))
    now = now.astimezone(UTC)
    zone = _zone(context.time_zone)
    hold = _blocking_hold(policy, context)
    if hold is not None and hold[1].action == "suppress":
        return Suppress(hold[0], _sentence(hold[0], context, now))
    sent = to_utc(history)
    if hold is None:
        code = _timing_block(policy, context, sent, now, zone)
        if code is None:
            return ALLOW
        start = now
    else:
        code, rule = hold
        start = now + rule.recheck
    return _defer_or_suppress(policy, context, sent, now=now, start=start, zone=zone, code=code)


def _refusal(policy: ContactPolicy, context: ContactContext) -> str | None:
    """Return why the debtor refuses this channel (opt-out or missing consent), or None."""
    channel = context.channel
    if channel in context.opted_out:
        return reasons.OPTED_OUT
    consent = context.consents.get(channel)
    # An explicit False is a refusal even where the law needs no consent (US-12 revocation).
    if consent is False or (consent is None and channel in policy.channels_requiring_consent):
        return reasons.NO_CONSENT
    return None


def _blocking_hold(policy: ContactPolicy, context: ContactContext) -> tuple[str, HoldRule] | None:
    """Return (code, rule) of the strictest hold that blocks this message's purpose, or None."""
    if not context.holds:
        return None
    blocking = []
    for hold in sorted(context.holds):  # sorted: the same holds always give the same reason
        rule = policy.holds.get(hold, _UNKNOWN_HOLD)
        if context.purpose not in rule.allowed_during_hold:
            blocking.append((reasons.hold_code(hold), rule))
    # Suppressing is stricter than deferring, so a suppressing hold wins.
    blocking.sort(key=lambda item: item[1].action != "suppress")
    return blocking[0] if blocking else None


def _timing_block(
    policy: ContactPolicy,
    context: ContactContext,
    sent: Sent,
    now: datetime,
    zone: ZoneInfo,
) -> str | None:
    """Return the code of the first hours, cap or gap rule that blocks sending now, or None."""
    if context.channel not in policy.posted_channels:
        code = hours_block(policy, context, now.astimezone(zone))
        if code is not None:
            return code
    return pacing_block(policy, context, sent, now)


def _defer_or_suppress(
    policy: ContactPolicy,
    context: ContactContext,
    sent: Sent,
    *,
    now: datetime,
    start: datetime,
    zone: ZoneInfo,
    code: str,
) -> Defer | Suppress:
    """Defer to the next moment every rule allows, or suppress if that lies past the horizon."""
    limit = now + policy.deferral_horizon
    paced = paced_from(policy, context, sent, start)
    until: datetime | None
    # Caps and gaps only relax with time, so moving forward to open hours keeps them passing.
    if paced <= limit and context.channel not in policy.posted_channels:
        until = next_open(policy, context, zone, paced, limit)
    else:
        until = paced.astimezone(zone)
    sentence = _sentence(code, context, now)
    if until is None or until > limit:
        days = policy.deferral_horizon.total_seconds() / 86400
        return Suppress(code, reasons.beyond_horizon(sentence, until, days), until)
    return Defer(until, code, reasons.deferred(sentence, until))


def _sentence(code: str, context: ContactContext, now: datetime) -> str:
    """Explain a reason code with this context's facts."""
    preferred = context.preferred_hours
    region = context.country + (f"-{context.subdivision}" if context.subdivision else "")
    if code == reasons.PUBLIC_HOLIDAY:
        local_day = now.astimezone(_zone(context.time_zone)).date()
        region += f", {holiday_name(context.country, context.subdivision, local_day)}"
    return reasons.explain(
        code,
        zone=context.time_zone,
        channel=context.channel,
        purpose=context.purpose.replace("_", " "),
        preferred=str(preferred) if preferred else "",
        region=region,
    )


@cache
def _zone(name: str) -> ZoneInfo:
    """Return the ZoneInfo for an IANA name (cached: the constructor is not free)."""
    return ZoneInfo(name)
