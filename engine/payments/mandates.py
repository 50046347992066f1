"""SEPA mandates for instalment plans: the account holder and IBAN a debtor enters, checked.

The IBAN is checked with schwifty (check digits, a SEPA country it knows, that country's length
and structure); only the masked IBAN (country, check digits and the last four characters) is
kept with the plan, never the whole number: the provider that collects holds the mandate.
"""

from __future__ import annotations

import re

from schwifty import IBAN
from schwifty.exceptions import (
    InvalidChecksumDigits,
    InvalidCountryCode,
    InvalidLength,
    SchwiftyException,
)

from connectors.payment import PaymentError
from engine.core.messages import Text, msg
from engine.payments.providers import PaymentProviders

# Providers whose plans collect instalments by direct debit (the sandbox plays one out).
DEBIT_PROVIDERS = ("gocardless", "sandbox")
HOLDER = re.compile(r"^[^\x00-\x1f\x7f<>]{2,70}$")
# The SEPA scheme's countries (EPC409-09): an IBAN elsewhere cannot be debited in euro.
SEPA = frozenset(
    [
        "AD",
        "AT",
        "BE",
        "BG",
        "CH",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GB",
        "GI",
        "GR",
        "HR",
        "HU",
        "IE",
        "IS",
        "IT",
        "LI",
        "LT",
        "LU",
        "LV",
        "MC",
        "MT",
        "NL",
        "NO",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
        "SM",
        "VA",
    ]
)


class MandateRefused(ValueError):
    """A field of the mandate form that cannot be used; `field` names it, `words` say why."""

    def __init__(self, field: str, words: Text) -> None:
        super().__init__(words.text())
        self.field = field
        self.words = words


def takes_debits(provider: str, methods: tuple[str, ...]) -> bool:
    """Whether a journey's provider collects a plan's instalments by SEPA direct debit."""
    return provider in DEBIT_PROVIDERS and "sepa_debit" in methods


def check_holder(raw: str) -> str:
    """The account holder's name, trimmed; MandateRefused for an empty or odd one."""
    name = " ".join((raw or "").split())
    if not HOLDER.match(name):
        raise MandateRefused("account_holder", msg("Please enter the account holder's name."))
    return name


def check_iban(raw: str) -> str:
    """The IBAN in its compact form; MandateRefused naming the `iban` field when it is wrong."""
    text = re.sub(r"[\s-]", "", raw or "").upper()
    if not text:
        raise MandateRefused("iban", msg("Please enter your IBAN."))
    if len(text) > 34 or not text.isalnum():
        raise MandateRefused("iban", msg("An IBAN has only letters and digits, at most 34."))
    try:
        iban = IBAN(text)
    except InvalidCountryCode:
        raise MandateRefused(
            "iban", msg("The IBAN must start with a country code, such as DE.")
        ) from None
    except InvalidLength:
        raise MandateRefused(
            "iban", msg("The IBAN has the wrong length for {country}.", country=text[:2])
        ) from None
    except InvalidChecksumDigits:
        raise MandateRefused(
            "iban", msg("The IBAN's check digits do not match: please check for a typo.")
        ) from None
    except SchwiftyException:
        raise MandateRefused("iban", msg("This is not a valid IBAN.")) from None
    if iban.country_code not in SEPA:
        raise MandateRefused("iban", msg("Direct debits are possible from SEPA countries only."))
    return str(iban.compact)


def provider_mandate(
    providers: PaymentProviders,
    provider: str,
    key: str,
    holder: str,
    iban: str,
    currency: str,
    case_ref: str,
) -> str | None:
    """The mandate at a provider that keeps it (GoCardless), made from the entered details
    under the plan's key (a retry makes no second); None for a provider that does not."""
    if provider not in providers.profiles:
        return None
    make = getattr(providers.get(provider), "create_mandate", None)
    if not callable(make):
        return None
    try:
        return str(make(key, holder, iban, currency, f"Mandate {case_ref}", case_ref))
    except PaymentError as exc:
        if exc.temporary:
            raise MandateRefused(
                "plan",
                msg("The payment service did not answer. Nothing was agreed; please try again."),
            ) from exc
        raise MandateRefused(
            "iban", msg("The payment service refused this account. Please check the IBAN.")
        ) from exc


def mask_iban(compact: str) -> str:
    """Country, check digits and the last four characters: DE89 **** 3000."""
    return f"{compact[:4]} **** {compact[-4:]}"
