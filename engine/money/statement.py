"""What is owed, as texts, the portal, the case page and the API show it (never hard-coded in a
template: the rate comes from the rates data through the journey's interest settings)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from engine.core.messages import Text, msg, number_text
from engine.money import rates
from engine.money.balance import Owed, debtor_type, interest_settings, interest_start, owed

if TYPE_CHECKING:
    from engine.journey.document import Journey


def rate_words(case: Any, journey: Journey | None, day: date, lang: str) -> str:
    """The interest rate in words for the debtor's language ('' when the case earns none).

    Statutory: '6.27 % a year (5 percentage points above the base rate, § 288 Abs. 1 BGB)';
    fixed: '8.5 % a year (the rate agreed in the contract)'.
    """
    settings = interest_settings(journey)
    if journey is None or settings.mode == "off":
        return ""
    if settings.mode == "fixed":
        words: Text = msg(
            "{rate} % a year (the rate agreed in the contract)",
            rate=number_text(settings.rate or Decimal(0), lang),
        )
        return words.text(lang)
    rule = rates.statutory(journey.jurisdiction, debtor_type(case))
    found = rates.jurisdiction(journey.jurisdiction)
    if rule is None or found is None:
        return ""
    try:
        rate = rates.rate_on(journey.jurisdiction, debtor_type(case), day)
    except rates.NoStatutoryRate:
        return ""
    words = msg(
        "{rate} % a year ({points} percentage points above the base rate ({base}) of "
        "{base_rate} %, {law})",
        rate=number_text(rate, lang),
        points=number_text(rule.points, lang),
        base=found.base_rate_name,
        base_rate=number_text(rate - rule.points, lang),
        law=rule.law,
    )
    return words.text(lang)


def owed_values(case: Any, journey: Journey | None, day: date, lang: str) -> dict[str, Any]:
    """Template variables: principal, fees, interest, total_due, interest_rate(_words/_from)."""
    found: Owed = owed(case, journey, day)
    settings = interest_settings(journey)
    return {
        "principal": found.principal,
        "fees": found.fees,
        "interest": found.interest,
        "total_due": found.total,
        "interest_rate": found.rate if found.rate is not None else "",
        "interest_rate_words": rate_words(case, journey, day, lang),
        "interest_from": interest_start(case, settings) if settings.mode != "off" else "",
    }
