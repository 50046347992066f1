"""Country profiles DE, US and UK, each value traced to its rule in compliance.md.

Scope: a cap counts the person's messages (all of a debtor's cases) unless it says
scope="debt". DE-11 (persistent unwanted contact), UK-03 and the design gaps are about the
person; US-02 (Reg F 7-in-7 and the conversation cooldown) is worded per debt, and the US
minimum gap stays the person's, so a US debtor with two debts gets both.

Which profile serves a debtor is the jurisdiction registry's answer (engine.core.jurisdictions):
the jurisdiction covering the debtor's country names a profile, or a region's overlay. Profiles
are found by name here; `register_profile` adds one, as the built-ins below are added.
"""

from __future__ import annotations

from datetime import time, timedelta

from engine.contact_policy.policy import ContactPolicy, FrequencyCap, HoldRule, weekly
from engine.contact_policy.tighten import tighten
from engine.core.jurisdictions import Jurisdiction, jurisdiction_of

WEEK = timedelta(days=7)
MON_TO_SAT = range(6)

# dispute, insolvency, deceased and vulnerability pause automation and go to a human, so a
# message already queued is suppressed, not sent late. Purposes still allowed are the notices
# the law itself requires during the hold.
_HOLDS = {
    # US-07: a written dispute stops collection until the verification is mailed; that
    # verification must still go out.
    "dispute": HoldRule(allowed_during_hold=frozenset({"verification_notice"})),
    # US-05: after a written cease request only notices that efforts end or that a specific
    # remedy will be invoked.
    "cease_contact": HoldRule(
        allowed_during_hold=frozenset({"termination_notice", "remedy_notice"})
    ),
    # US-05: an attorney is known to represent the debtor: contact goes to the attorney only,
    # which is a person's work, not the journey's.
    "attorney": HoldRule(),
    "insolvency": HoldRule(),
    "deceased": HoldRule(),
    "vulnerability": HoldRule(),
    # UK-07: Breathing Space stops repayment contact for its duration; applied in every profile
    # because a company may hold a case for the same reason elsewhere.
    "breathing_space": HoldRule(),
}

# DE-12: no statute sets hours; design default Mon-Sat 08-20, no Sundays or public holidays
# (comparator: Ireland CCA 1995 s.46).
# DE-11: persistent unwanted calls/email/SMS are banned but no number is given [U]; these caps
# are our design default and deliberately generous, since a company can only tighten them.
DE = ContactPolicy(
    name="DE",
    allowed_hours=weekly(time(8), time(20), MON_TO_SAT),  # DE-12
    no_sundays=True,  # DE-12
    no_public_holidays=True,  # DE-12
    caps=(
        FrequencyCap(None, 5, WEEK),  # DE-11 (design: number not in law)
        FrequencyCap("call", 3, WEEK),  # DE-11 (design)
        FrequencyCap("sms", 3, WEEK),  # DE-11 (design)
        FrequencyCap("whatsapp", 3, WEEK),  # DE-11 (design), as SMS
    ),
    min_gap=timedelta(hours=12),  # DE-11 (design): no two immediate messages within half a day
    # DE-13: collection needs no consent (interp.); WhatsApp's Business policy requires an
    # opt-in before a business may message a person, in every country.
    channels_requiring_consent=frozenset({"whatsapp"}),
    holds=_HOLDS,
    deferral_horizon=timedelta(days=14),  # design: a reminder older than two weeks is stale
)

US = ContactPolicy(
    name="US",
    # US-03: after 08:00 and before 21:00 consumer local time, every day; no federal Sunday or
    # holiday ban.
    allowed_hours=weekly(time(8), time(21)),
    no_sundays=False,  # US-03 sets only hours
    no_public_holidays=False,  # US-03 sets only hours
    caps=(
        # US-02: more than 7 calls in 7 days per debt (12 CFR 1006.14(b)(2)(i): "about a
        # particular debt"), so counted per debt, not per person.
        FrequencyCap("call", 7, WEEK, scope="debt"),
        FrequencyCap("sms", 7, WEEK, scope="debt"),  # US-02 extended to texts (design)
        FrequencyCap("whatsapp", 7, WEEK, scope="debt"),  # as SMS (design)
    ),
    min_gap=timedelta(hours=4),  # design: Reg F sets no gap across channels; per person
    # US-02: no call within 7 days after a conversation "in connection with the collection of
    # such debt" (1006.14(b)(2)(ii)): per debt.
    conversation_cooldown=WEEK,
    conversation_scope="debt",
    # US-12: TCPA prior express consent; WhatsApp's opt-in policy.
    channels_requiring_consent=frozenset({"sms", "whatsapp"}),
    holds=_HOLDS,  # US-05 cease, US-07 dispute, X-01
    deferral_horizon=timedelta(days=14),  # design
)

UK = ContactPolicy(
    name="UK",
    # UK-03 sets no hours, only "no unreasonable times"; design choice: Mon-Sat 08-20, no
    # Sundays or bank holidays, the same as DE-12.
    allowed_hours=weekly(time(8), time(20), MON_TO_SAT),
    no_sundays=True,  # UK-03 (design)
    no_public_holidays=True,  # UK-03 (design)
    caps=(
        FrequencyCap(None, 5, WEEK),  # UK-02/UK-03: no pressure (design numbers)
        FrequencyCap("call", 3, WEEK),  # design
        FrequencyCap("sms", 3, WEEK),  # design
        FrequencyCap("whatsapp", 3, WEEK),  # design, as SMS
    ),
    min_gap=timedelta(hours=12),  # design
    # CONC 7 needs no consent for collection contact; WhatsApp's opt-in policy does.
    channels_requiring_consent=frozenset({"whatsapp"}),
    holds=_HOLDS,  # UK-07 breathing space, X-01
    deferral_horizon=timedelta(days=14),  # design
)

# US-13: state overlays, strictest wins. Massachusetts (compliance.md [42]): at most 2 calls or
# texts per 7 days, counted over the person (940 CMR 7.04(1)(f) counts communications "to the
# debtor"; the strictest reading).
US_MA = tighten(
    US,
    name="US-MA",
    caps=(
        FrequencyCap("call", 2, WEEK),
        FrequencyCap("sms", 2, WEEK),
        FrequencyCap("whatsapp", 2, WEEK),
    ),
)

_PROFILES: dict[str, ContactPolicy] = {}


def register_profile(policy: ContactPolicy) -> ContactPolicy:
    """Add a profile under its name, for a jurisdiction (or overlay) to name."""
    existing = _PROFILES.get(policy.name)
    if existing is not None and existing != policy:
        raise ValueError(f"A different contact-policy profile is already called {policy.name!r}")
    _PROFILES[policy.name] = policy
    return policy


def profile_named(name: str) -> ContactPolicy:
    """The profile registered under this name; LookupError naming it when there is none."""
    profile = _PROFILES.get(name)
    if profile is None:
        raise LookupError(f"No contact-policy profile called {name!r}")
    return profile


def jurisdiction_profiles(jurisdiction: Jurisdiction) -> tuple[ContactPolicy, ...]:
    """Every profile a debtor under this jurisdiction can meet: its own, then its overlays."""
    return tuple(profile_named(name) for name in jurisdiction.profile_names())


def profile_for(country: str, subdivision: str | None = None) -> ContactPolicy:
    """Return the profile for a debtor's country, with a state overlay where one exists.

    `country` is an ISO code or a jurisdiction's code ('GB' or 'UK'); a country no jurisdiction
    covers raises LookupError.
    """
    jurisdiction = jurisdiction_of(country)
    if jurisdiction is None:
        raise LookupError(f"No contact-policy profile for country {country!r}")
    return profile_named(jurisdiction.profile_name(subdivision))


for _profile in (DE, US, UK, US_MA):
    register_profile(_profile)
