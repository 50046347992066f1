"""Public holidays per country, subdivision and year, looked up once and then cached."""

from __future__ import annotations

from datetime import date
from functools import cache

import holidays


class UnknownRegionError(ValueError):
    """The holidays package knows no such country or subdivision."""


def holiday_name(country: str, subdivision: str | None, day: date) -> str | None:
    """Return the name of the public holiday on `day`, or None on a working day."""
    return _year(country, subdivision, day.year).get(day)


@cache
def _year(country: str, subdivision: str | None, year: int) -> dict[date, str]:
    # Building a holidays calendar takes milliseconds; the guard runs per message.
    try:
        calendar = holidays.country_holidays(country, subdiv=subdivision, years=year)
    except NotImplementedError as error:
        raise UnknownRegionError(
            f"No public holiday calendar for country {country!r}, subdivision {subdivision!r}"
        ) from error
    return dict(calendar.items())
