"""Stable reason codes and the human sentence that goes with each."""

from __future__ import annotations

from datetime import datetime

QUIET_HOURS = "quiet_hours"
PREFERRED_HOURS = "preferred_hours"
SUNDAY = "sunday"
PUBLIC_HOLIDAY = "public_holiday"
MIN_GAP = "min_gap"
CONVERSATION_COOLDOWN = "conversation_cooldown"
NO_CONSENT = "no_consent"
OPTED_OUT = "opted_out"
FREQUENCY_CAP_PREFIX = "frequency_cap:"
HOLD_PREFIX = "hold:"

_SENTENCES = {
    QUIET_HOURS: "Outside the allowed contact hours in the debtor's time zone ({zone}).",
    PREFERRED_HOURS: "Outside the hours the debtor asked to be contacted ({preferred}).",
    SUNDAY: "No contact on Sundays in the debtor's time zone ({zone}).",
    PUBLIC_HOLIDAY: "No contact on a public holiday in {region}.",
    MIN_GAP: "Too soon after the previous message to this debtor.",
    CONVERSATION_COOLDOWN: "A telephone conversation took place recently; no calls for a while.",
    NO_CONSENT: "No consent on record for contact by {channel}.",
    OPTED_OUT: "The debtor opted out of contact by {channel}.",
}


def channel_gap_code(channel: str) -> str:
    """Reason code for the minimum gap between two messages on one channel."""
    return f"{MIN_GAP}:{channel}"


def hold_code(hold: str) -> str:
    """Reason code for an active hold, e.g. 'hold:dispute'."""
    return f"{HOLD_PREFIX}{hold}"


def explain(code: str, **facts: str) -> str:
    """Return the human sentence for a reason code, filled in with `facts`."""
    if code.startswith(FREQUENCY_CAP_PREFIX):
        channel, limit = code[len(FREQUENCY_CAP_PREFIX) :].split(":", 1)
        return f"Frequency cap reached: at most {limit} messages on channel '{channel}'."
    if code.startswith(HOLD_PREFIX):
        hold = code[len(HOLD_PREFIX) :]
        return f"Contact is on hold ({hold}); a {facts.get('purpose')} may not be sent now."
    if code.startswith(MIN_GAP + ":"):
        return f"Too soon after the previous {facts.get('channel')} message to this debtor."
    return _SENTENCES[code].format_map(_Blank(facts))


def deferred(sentence: str, until: datetime) -> str:
    """Add the deferral moment to a reason sentence."""
    return f"{sentence} Deferred to {until.isoformat(timespec='minutes')}."


def beyond_horizon(sentence: str, until: datetime | None, horizon_days: float) -> str:
    """Add why a blocked send is suppressed instead of deferred."""
    if until is None:
        return f"{sentence} No allowed moment within the {horizon_days:g}-day deferral horizon."
    when = until.isoformat(timespec="minutes")
    return (
        f"{sentence} The next allowed moment, {when}, is beyond the {horizon_days:g}-day horizon."
    )


class _Blank(dict[str, str]):
    """Format mapping that leaves unknown placeholders visibly empty instead of failing."""

    def __missing__(self, key: str) -> str:
        return "?"
