"""What the payment providers share: currency exponents, exact amounts, request checks, secrets."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from connectors.base import ConnectorConfigError
from connectors.payment import CheckoutRequest, PaymentError, RefundRequest

# ISO 4217 minor-unit exponents that are not 2. Written out rather than taken from CLDR, whose
# "digits" are display rules (e.g. IQD 0 where ISO says 3) and would move money by a factor.
_ZERO = ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI")
_EXPONENTS: dict[str, int] = {
    **dict.fromkeys((*_ZERO, "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}
_CURRENCY = re.compile(r"[A-Z]{3}")
_DECIMAL_STRING = re.compile(r"-?\d+(\.\d+)?")
MAX_KEY = 255  # Stripe's limit for an Idempotency-Key, the shortest of the three providers


def exponent(currency: str) -> int:
    """Decimal places of the currency's minor unit (EUR 2, JPY 0, KWD 3)."""
    return _EXPONENTS.get(currency.upper(), 2)


def to_decimal_string(amount_minor: int, currency: str) -> str:
    """Minor units as the decimal string Mollie wants: 1000 EUR -> "10.00", 1000 JPY -> "1000"."""
    places = exponent(currency)
    value = Decimal(amount_minor).scaleb(-places)
    return f"{value:.{places}f}"


def from_decimal_string(value: str, currency: str) -> int:
    """A provider's decimal string back to minor units, refusing anything that is not exact."""
    if not isinstance(value, str) or not _DECIMAL_STRING.fullmatch(value):
        raise PaymentError(f"The provider sent the amount {value!r}, which is not a decimal")
    minor = Decimal(value).scaleb(exponent(currency))
    if minor != minor.to_integral_value():
        raise PaymentError(f"The amount {value} {currency} has more decimals than {currency} has")
    return int(minor)


def check_checkout(request: CheckoutRequest) -> None:
    """Refuse a request no provider should see; the reason names the field."""
    _check_key(request.idempotency_key)
    if not request.case_ref.strip():
        raise PaymentError("case_ref is empty")
    if not request.description.strip():
        raise PaymentError("description is empty: the debtor sees it on the payment page")
    _check_amount("amount_minor", request.amount_minor)
    if not isinstance(request.currency, str) or not _CURRENCY.fullmatch(request.currency):
        raise PaymentError(
            f"currency must be an ISO 4217 code in capitals, not {request.currency!r}"
        )
    for name in ("return_url", "cancel_url"):
        url = getattr(request, name)
        if not url.startswith(("https://", "http://")):
            raise PaymentError(f"{name} must be an http(s) URL, not {url!r}")
    if not request.methods:
        raise PaymentError("methods is empty")


def check_refund(request: RefundRequest) -> None:
    """Refuse a refund request with an empty key or a non-positive amount."""
    _check_key(request.idempotency_key)
    if not request.payment_id.strip():
        raise PaymentError("payment_id is empty")
    if request.amount_minor is not None:
        _check_amount("amount_minor", request.amount_minor)


def _check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY:
        raise PaymentError(f"idempotency_key must have 1 to {MAX_KEY} characters")


def _check_amount(name: str, amount: object) -> None:
    # bool is an int in Python; True cents is still not an amount.
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise PaymentError(f"{name} must be a positive whole number of minor units, not {amount!r}")


def require_secrets(provider: str, settings: Mapping[str, Any], keys: tuple[str, ...]) -> None:
    """Name a missing secret and where it comes from (never the settings file)."""
    for key in keys:
        if not settings.get(key):
            raise ConnectorConfigError(
                f"The {provider} payment profile needs the secret {key}; set it in the "
                f"environment as MAHNWERK_PAYMENT_<NAME>_{key.upper()}"
            )
