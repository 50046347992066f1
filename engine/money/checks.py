"""Whether a journey's interest settings can be carried out where it runs, as problems."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.core.messages import Verbatim, msg
from engine.money import rates
from engine.money.balance import interest_settings
from engine.nodes.base import Problem

if TYPE_CHECKING:
    from engine.journey.document import Journey

FIELD = "settings.interest"
BROKEN_RATES = msg("The rate data cannot be used: {problem}")


def rates_problems() -> list[Problem]:
    """The rate data itself, when it cannot be used (an admin's edit of rates.toml broke it)."""
    try:
        rates.rates()
    except rates.RatesError as exc:
        return [Problem.of(BROKEN_RATES.with_params(problem=Verbatim(str(exc))))]
    return []


def interest_problems(journey: Journey) -> list[Problem]:
    """A fixed rate without a rate; statutory interest where the law has none for a debtor."""
    from engine.compliance.legal import debtor_types  # the compliance room reads the graph

    uses_fees = any(n.type == "fee" for n in journey.nodes)
    if uses_fees or interest_settings(journey).mode != "off":
        broken = rates_problems()
        if broken:
            return broken

    settings = interest_settings(journey)
    if settings.mode == "fixed" and settings.rate is None:
        words = msg("Give the annual rate the contract states, e.g. 8 (percent a year).")
        return [Problem.of(words, None, f"{FIELD}.rate")]
    if settings.mode != "statutory":
        return []
    found = rates.jurisdiction(journey.jurisdiction)
    if found is None:
        words = msg(
            "The rates data has no statutory interest for the jurisdiction '{jurisdiction}': "
            "charge a fixed rate from the contract instead.",
            jurisdiction=journey.jurisdiction,
        )
        return [Problem.of(words, None, f"{FIELD}.mode")]
    missing = sorted(debtor_types(journey) - set(found.statutory))
    if not missing:
        return []
    words = msg(
        "{name} has no statutory interest for {debtors} debtors: filter the start step on "
        "debtor_type, or charge a fixed rate from the contract.",
        name=found.name,
        debtors=", ".join(missing),
    )
    return [Problem.of(words, None, f"{FIELD}.mode")]
