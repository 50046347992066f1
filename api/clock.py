"""The API's clock: the wall clock, or the one a test or simulation puts in API_CLOCK."""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from engine import utcnow


def now() -> datetime:
    """The current time as the API sees it."""
    clock = current_app.config.get("API_CLOCK") or utcnow
    return clock()
