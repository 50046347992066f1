"""Build a connector from a profile's settings dict, naming any missing or unknown key."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from connectors.base import ConnectorConfigError

T = TypeVar("T")


def from_settings(factory: Callable[..., T], settings: Mapping[str, Any]) -> T:
    """Call factory(**settings), but say which keys are wrong instead of raising TypeError."""
    params = inspect.signature(factory).parameters
    unknown = sorted(set(settings) - set(params))
    if unknown:
        raise ConnectorConfigError(
            f"Unknown setting(s) {', '.join(unknown)}; expected some of {', '.join(params)}"
        )
    missing = [
        name
        for name, p in params.items()
        if p.default is inspect.Parameter.empty and name not in settings
    ]
    if missing:
        raise ConnectorConfigError(f"Missing required setting(s) {', '.join(missing)}")
    return factory(**settings)


def as_decimal(name: str, value: object) -> Decimal | None:
    """Read a price setting given as str, int or Decimal (never float: prices must be exact)."""
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        raise ConnectorConfigError(f"Setting {name} must be a string like '0.075', not a float")
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise ConnectorConfigError(f"Setting {name} is not a number: {value!r}") from exc
