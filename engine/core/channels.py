"""The channels that reach a debtor (email, SMS, letter), each defined once.

A channel says which case field holds the debtor's address for it and how that address reads as
the recipient kept on an outbox row (X-02 evidence). Every reader asks this registry:
- the runtime (`CaseState.has_channel`): can the case be reached, or does the send fall back or
  get suppressed;
- the dispatcher: the recipient of a send, and whether a fallback channel has an address;
- the delivery settings: one connector profile per registered channel;
- the journey document, the send node and event intake: which channel names are valid.

A field name serves a case row (CaseRow) and a case state (CaseState) alike: both carry
`email`, `phone` and `street` (CaseState derives `street` from its address).

Extension point
---------------
``register_channel(Channel(...))`` adds a channel; the built-ins at the end of this module are
registered through it, exactly as a plugin registers its own when it is imported. A channel
that is delivered also needs a connector (a factory in the ``mahnwerk.connectors`` entry-point
group, see connectors/registry.py) and the message its connector takes
(engine/delivery/outgoing.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True, slots=True)
class Channel:
    """One way to reach a debtor, and where a case keeps the address for it."""

    name: str
    # The case field (CaseRow column and CaseState attribute) that must be filled for the
    # channel to reach the debtor.
    address_field: str
    # The recipient kept on the outbox row, from a case row; None: the address field as it is.
    recipient: Callable[[Any], str | None] | None = None

    def reaches(self, case: Any) -> bool:
        """Whether the case (row or state) has an address for this channel."""
        return bool(getattr(case, self.address_field))

    def recipient_of(self, case: Any) -> str | None:
        """Where a send on this channel goes, as evidence: address, number or postal address."""
        if self.recipient is None:
            return getattr(case, self.address_field)
        return self.recipient(case)


class ChannelError(ValueError):
    """A channel cannot be registered as given, or a name is not a registered channel."""


_CHANNELS: dict[str, Channel] = {}

# name -> Channel, in registration order; read-only and live (later registrations show).
CHANNELS: Mapping[str, Channel] = MappingProxyType(_CHANNELS)


def register_channel(channel: Channel) -> Channel:
    """Add a channel; refuse a second, different channel under the same name."""
    existing = _CHANNELS.get(channel.name)
    if existing is not None and existing != channel:
        raise ChannelError(f"The channel {channel.name!r} is already registered.")
    if not channel.name.isidentifier() or not channel.address_field.isidentifier():
        raise ChannelError(f"A channel and its address field are plain names, not {channel!r}.")
    _CHANNELS[channel.name] = channel
    return channel


def channel(name: str) -> Channel:
    """The registered channel of this name; ChannelError naming it and the known ones if none."""
    found = _CHANNELS.get(name)
    if found is None:
        known = ", ".join(_CHANNELS)
        raise ChannelError(f"Unknown channel {name!r}; registered channels: {known}.")
    return found


def postal_recipient(case: Any) -> str:
    """A letter's recipient as one line: name, street, postcode and city, country."""
    parts = (case.debtor_name, case.street, f"{case.postcode or ''} {case.city or ''}".strip())
    return ", ".join(p for p in (*parts, case.country) if p)[:300]


register_channel(Channel("email", "email"))
register_channel(Channel("sms", "phone"))
register_channel(Channel("letter", "street", recipient=postal_recipient))
# WhatsApp reaches the same mobile number as SMS; delivery is off unless a profile is configured.
register_channel(Channel("whatsapp", "phone"))
