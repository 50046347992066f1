"""Contact-policy guard: may this message reach this debtor now, later, or never."""

from engine.contact_policy.context import ContactContext, SentRecord
from engine.contact_policy.decision import ALLOW, Allow, Decision, Defer, Suppress
from engine.contact_policy.guard import decide
from engine.contact_policy.policy import (
    POSTED_CHANNELS,
    ContactPolicy,
    FrequencyCap,
    HoldRule,
    HoursWindow,
    weekly,
)
from engine.contact_policy.profiles import (
    DE,
    UK,
    US,
    US_MA,
    jurisdiction_profiles,
    profile_for,
    profile_named,
    register_profile,
)
from engine.contact_policy.public_holidays import UnknownRegionError
from engine.contact_policy.tighten import LoosenedPolicyError, tighten

__all__ = [
    "ALLOW",
    "DE",
    "POSTED_CHANNELS",
    "UK",
    "US",
    "US_MA",
    "Allow",
    "ContactContext",
    "ContactPolicy",
    "Decision",
    "Defer",
    "FrequencyCap",
    "HoldRule",
    "HoursWindow",
    "LoosenedPolicyError",
    "SentRecord",
    "Suppress",
    "UnknownRegionError",
    "decide",
    "jurisdiction_profiles",
    "profile_for",
    "profile_named",
    "register_profile",
    "tighten",
    "weekly",
]
