"""Fixtures for the contact-policy guard tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.contact_policy import ContactContext

BERLIN = ZoneInfo("Europe/Berlin")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


@pytest.fixture
def berlin() -> ZoneInfo:
    """The German debtors' zone."""
    return BERLIN


@pytest.fixture
def los_angeles() -> ZoneInfo:
    """A US debtor's zone, nine hours behind Berlin."""
    return LOS_ANGELES


@pytest.fixture
def de_context() -> Callable[..., ContactContext]:
    """Build a German SMS context; keyword arguments override any field."""

    def build(**fields: Any) -> ContactContext:
        defaults: dict[str, Any] = {"time_zone": "Europe/Berlin", "country": "DE", "channel": "sms"}
        return ContactContext(**(defaults | fields))

    return build


@pytest.fixture
def us_context() -> Callable[..., ContactContext]:
    """Build a Californian email context; keyword arguments override any field."""

    def build(**fields: Any) -> ContactContext:
        defaults: dict[str, Any] = {
            "time_zone": "America/Los_Angeles",
            "country": "US",
            "subdivision": "CA",
            "channel": "email",
            "consents": {"sms": True},
        }
        return ContactContext(**(defaults | fields))

    return build
