"""What a stored case owes today, read for the portal, the case page and the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.clock import as_utc
from engine.journey.document import Journey, load_journey
from engine.money.balance import Owed, owed
from engine.money.statement import rate_words
from engine.storage.models import CaseRow, VersionRow

_JOURNEYS: dict[tuple[int, str | None], Journey] = {}  # versions are frozen once cases run
_CACHE_SIZE = 256


@dataclass(frozen=True)
class CaseOwed:
    """A case's principal, fees, interest and total on a day, with the rate in words."""

    owed: Owed
    currency: str
    day: date
    rate_words: str

    def as_dict(self) -> dict[str, object]:
        """The API's form: amounts as decimals, the rate in percent (None without interest)."""
        return {
            "principal": self.owed.principal,
            "fees": self.owed.fees,
            "interest": self.owed.interest,
            "total_due": self.owed.total,
            "interest_rate": self.owed.rate,
            "currency": self.currency,
            "on": self.day,
        }


def case_journey(session: Session, version_id: int) -> Journey | None:
    """The journey a case runs on (None when its version is gone or does not load)."""
    row = session.execute(
        select(VersionRow.content_hash, VersionRow.document).where(VersionRow.id == version_id)
    ).first()
    if row is None:
        return None
    key = (version_id, row.content_hash)
    if key not in _JOURNEYS:
        try:
            journey = load_journey(row.document)
        except Exception:  # a stored document that no longer loads owes only what is booked
            return None
        if len(_JOURNEYS) >= _CACHE_SIZE:
            _JOURNEYS.clear()
        _JOURNEYS[key] = journey
    return _JOURNEYS[key]


def case_owed(session: Session, case: CaseRow | int, now: datetime, lang: str = "en") -> CaseOwed:
    """What the case (a row or its id) owes on its own today: booked fees and interest plus
    interest accrued since the last booking. LookupError for a case id that does not exist."""
    if isinstance(case, int):
        found_row = session.get(CaseRow, case)
        if found_row is None:
            raise LookupError(f"There is no case with the row id {case}.")
        case = found_row
    day = as_utc(now).astimezone(ZoneInfo(case.timezone or "UTC")).date()
    journey = case_journey(session, case.version_id) if case.status != "closed" else None
    found = owed(case, journey, day)
    if case.status == "closed":
        found = Owed(case.amount_open, found.fees, found.interest, None)
    return CaseOwed(found, case.currency, day, rate_words(case, journey, day, lang))
