"""Frequency caps and minimum gaps between messages to the same debtor.

The history is the person's (every message to the debtor, about any of their cases); each cap
and the conversation cooldown say whether they count the person's messages or only this debt's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

from engine.contact_policy.context import ContactContext, SentRecord
from engine.contact_policy.policy import ContactPolicy
from engine.contact_policy.reasons import CONVERSATION_COOLDOWN, MIN_GAP, channel_gap_code

# All arithmetic here is on UTC instants: a '7 day' window is 168 real hours, even across a
# DST switch, and comparisons never depend on the zone a record was stored in. Comparing
# datetimes of different zones costs about a microsecond each, so every record is brought to
# UTC once per decision and compared cheaply after that.

# (channel, sent_at in UTC, conversation, about this debt): the history is the person's, every
# message to the debtor; a debt-scoped rule looks only at the records about this debt.
Sent = list[tuple[str, datetime, bool, bool]]


def to_utc(history: Sequence[SentRecord]) -> Sent:
    """Return the history as (channel, UTC moment, conversation, same debt) tuples."""
    return [
        (
            r.channel,
            r.sent_at if r.sent_at.tzinfo is UTC else r.sent_at.astimezone(UTC),
            r.conversation,
            r.same_debt,
        )
        for r in history
    ]


def pacing_block(
    policy: ContactPolicy, context: ContactContext, sent: Sent, now: datetime
) -> str | None:
    """Return the first cap or gap code that forbids sending at `now` (UTC), or None."""
    if not sent:
        return None
    channel = context.channel
    for cap in policy.caps:
        capped = cap.channel
        if capped is not None and capped != channel:
            continue
        since = now - cap.window
        per_debt = cap.scope == "debt"
        count = 0
        for sent_channel, sent_at, _, same_debt in sent:
            if (
                sent_at > since
                and (capped is None or sent_channel == capped)
                and (same_debt or not per_debt)
            ):
                count += 1
        if count >= cap.max_count:
            return cap.code
    for code, gap, moments in _gaps_for(policy, channel, sent):
        since = now - gap
        if any(moment > since for moment in moments):
            return code
    return None


def paced_from(
    policy: ContactPolicy, context: ContactContext, sent: Sent, start: datetime
) -> datetime:
    """Return the first moment at or after `start` (UTC) when every cap and gap passes."""
    # Each rule only relaxes as time goes on (the history is fixed), so the latest of the
    # individual earliest moments satisfies them all at once.
    channel = context.channel
    moment = start
    for cap in policy.caps:
        if cap.channel not in (None, channel):
            continue
        per_debt = cap.scope == "debt"
        times = sorted(
            (
                at
                for ch, at, _, same_debt in sent
                if cap.channel in (None, ch) and (same_debt or not per_debt)
            ),
            reverse=True,
        )
        if len(times) >= cap.max_count:
            # Free once the max_count-th most recent message has left the window.
            moment = max(moment, times[cap.max_count - 1] + cap.window)
    for _code, gap, moments in _gaps_for(policy, channel, sent):
        if moments:
            moment = max(moment, max(moments) + gap)
    return moment


def _gaps_for(
    policy: ContactPolicy, channel: str, sent: Sent
) -> Iterator[tuple[str, timedelta, list[datetime]]]:
    """Yield (code, gap, moments that start the gap) for each gap rule that applies.

    Minimum gaps are the person's: every message to the debtor starts one, whichever case
    sent it. The conversation cooldown follows the profile's `conversation_scope`.
    """
    posted = policy.posted_channels
    if policy.min_gap and channel not in posted:
        yield MIN_GAP, policy.min_gap, [at for ch, at, _, _ in sent if ch not in posted]
    channel_gap = policy.channel_min_gap.get(channel)
    if channel_gap:
        moments = [at for ch, at, _, _ in sent if ch == channel]
        yield channel_gap_code(channel), channel_gap, moments
    if policy.conversation_cooldown and channel == "call":
        cooldown = policy.conversation_cooldown
        per_debt = policy.conversation_scope == "debt"
        talks = [at for _, at, talked, same in sent if talked and (same or not per_debt)]
        yield CONVERSATION_COOLDOWN, cooldown, talks
