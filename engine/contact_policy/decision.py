"""The guard's answer: allow, defer to a later moment, or suppress, each with a reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class Allow:
    """Send now."""

    kind: ClassVar[str] = "allow"


@dataclass(frozen=True, slots=True)
class Defer:
    """Do not send now; ask again at `until`, the next moment every rule allows."""

    until: datetime
    reason: str  # stable machine code, e.g. 'quiet_hours'
    message: str  # one human sentence for the audit trail

    kind: ClassVar[str] = "defer"


@dataclass(frozen=True, slots=True)
class Suppress:
    """Never send this message; the reason goes to the audit trail."""

    reason: str
    message: str
    # Set when the send could have been deferred, but only to beyond the deferral horizon.
    deferred_until: datetime | None = None

    kind: ClassVar[str] = "suppress"


Decision = Allow | Defer | Suppress

# One shared instance: the allowed path is the hot path and needs no allocation.
ALLOW = Allow()
