"""The portal's optional second factor: a fact of the case the debtor must know to see it.

A journey's `settings.portal.second_factor` chooses it: "none" (the default), "postcode",
"date_of_birth" or "invoice_number". The value compared with is the host's:

- postcode: the case's `postcode` field;
- date_of_birth: the case attribute `date_of_birth` (YYYY-MM-DD);
- invoice_number: the case attribute `invoice_number`, else the case's `reference`.

Answers are normalised (postcode and invoice number without spaces, in capitals; a date of birth
in the German, English and ISO forms) and compared in constant time. Every answer is counted
before it is checked, in the database (so every web worker and a restart see the same count),
against the case and against the client address; a right answer takes the case's back. When a
case has `factor_failures` counted within `factor_lockout_minutes` its links are locked until the
oldest of those leaves that time, and no answer (not even the right one) is checked meanwhile. A
client address has its own budget across cases (`ClientLimit`). Keys are sha256 digests.

A right answer is worth a pass (`factor_pass`): a value signed for that case and its link
generation, valid for minutes, which the portal keeps in a cookie of that link alone.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from marshmallow import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.access.signing import timed_serializer
from engine.core.clock import naive_utc
from engine.journey.document import PortalSettingsSchema
from engine.storage.models import CaseRow, PortalFactorFailureRow, VersionRow

SALT = "mahnwerk.portal.factor"
CASE, CLIENT = "case", "client"
_SPACES = re.compile(r"[\s\-]+")
_DOTTED = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_SLASHED = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
MAX_ANSWER = 100


@dataclass(frozen=True)
class FactorSettings:
    """A journey's second factor: which, how many failures lock, and for how long."""

    kind: str = "none"
    failures: int = 5
    lockout: timedelta = timedelta(minutes=60)

    @property
    def required(self) -> bool:
        """Whether the portal asks anything before it shows the case."""
        return self.kind != "none"


@dataclass(frozen=True)
class ClientLimit:
    """How many answers one client address may get wrong within `window`, over all cases."""

    failures: int = 30
    window: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class FactorAnswer:
    """What an answer got: 'ok', 'wrong' (with `left` tries), 'locked' (with `wait`), or
    'unanswerable' (the case holds no value to compare with: only the creditor can help)."""

    result: str
    left: int = 0
    wait: timedelta | None = None


def factor_settings(session: Session, case_id: int) -> FactorSettings:
    """The second factor of the journey version a case runs on."""
    document = session.scalar(
        select(VersionRow.document)
        .join(CaseRow, CaseRow.version_id == VersionRow.id)
        .where(CaseRow.id == case_id)
    )
    raw = ((document or {}).get("settings") or {}).get("portal") or {}
    try:
        loaded = PortalSettingsSchema().load(raw)
    except ValidationError:  # a stored document is validated on save; never open on a bad one
        loaded = PortalSettingsSchema().load({"second_factor": "invoice_number"})
    return FactorSettings(
        kind=loaded["second_factor"],
        failures=loaded["factor_failures"],
        lockout=timedelta(minutes=loaded["factor_lockout_minutes"]),
    )


def _text(raw: str) -> str:
    return _SPACES.sub("", raw.strip()).upper()


def _day(raw: str, month_first: bool = False) -> date | None:
    text = raw.strip()
    for pattern, order in (
        (_ISO, "ymd"),
        (_DOTTED, "dmy"),
        (_SLASHED, "mdy" if month_first else "dmy"),
    ):
        found = pattern.match(text)
        if found:
            parts = dict(zip(order, (int(p) for p in found.groups()), strict=True))
            try:
                return date(parts["y"], parts["m"], parts["d"])
            except ValueError:
                return None
    return None


def normalise(kind: str, raw: Any, locale: str = "") -> str | None:
    """An answer or a stored value as compared: None when it cannot be one.

    A date with slashes is day first (DE, UK), month first for a US locale (en_US)."""
    if not isinstance(raw, str | date) or kind == "none":
        return None
    if isinstance(raw, date):
        return raw.isoformat() if kind == "date_of_birth" else None
    if len(raw) > MAX_ANSWER:
        return None
    if kind == "date_of_birth":
        day = _day(raw, month_first=locale.replace("-", "_").lower() == "en_us")
        return day.isoformat() if day else None
    text = _text(raw)
    return text or None


def expected_value(case: CaseRow, kind: str) -> str | None:
    """What the host sent for this factor, normalised; None when the case has none."""
    attributes = case.attributes or {}
    if kind == "postcode":
        return normalise(kind, case.postcode or "")
    if kind == "date_of_birth":
        return normalise(kind, str(attributes.get("date_of_birth") or ""))
    if kind == "invoice_number":
        return normalise(kind, str(attributes.get("invoice_number") or case.reference or ""))
    return None


def _digest(scope: str, value: str) -> str:
    return hashlib.sha256(f"{scope}\0{value}".encode()).hexdigest()


def _same(given: str | None, expected: str | None) -> bool:
    """Constant time in the values: both sides hashed to equal length first."""
    if given is None or expected is None:
        hmac.compare_digest(b"\0" * 32, b"\1" * 32)
        return False
    left = hashlib.sha256(given.encode()).digest()
    right = hashlib.sha256(expected.encode()).digest()
    return hmac.compare_digest(left, right)


def _wait(
    session: Session, key: str, limit: int, window: timedelta, now: datetime
) -> timedelta | None:
    since = naive_utc(now) - window
    times = session.scalars(
        select(PortalFactorFailureRow.at)
        .where(PortalFactorFailureRow.key == key, PortalFactorFailureRow.at > since)
        .order_by(PortalFactorFailureRow.at.desc())
        .limit(limit)
    ).all()
    if len(times) >= limit:  # free again when the limit-th newest leaves the window
        return max(times[-1] - since, timedelta(seconds=1))
    return None


def factor_wait(
    session: Session,
    case_id: int,
    client: str,
    now: datetime,
    settings: FactorSettings,
    client_limit: ClientLimit = ClientLimit(),
) -> timedelta | None:
    """How long the case's links (or this client) must wait before the next answer; None: may."""
    waits = [
        _wait(session, _digest(CASE, str(case_id)), settings.failures, settings.lockout, now),
        _wait(session, _digest(CLIENT, client), client_limit.failures, client_limit.window, now),
    ]
    found = [w for w in waits if w is not None]
    return max(found) if found else None


def check_factor(
    session: Session,
    case_id: int,
    answer: str,
    client: str,
    now: datetime,
    client_limit: ClientLimit = ClientLimit(),
) -> FactorAnswer:
    """Check one answer to the case's second factor; counted first, so that answers sent at
    once from many workers cannot pass the limit between the count and the check."""
    settings = factor_settings(session, case_id)
    if not settings.required:
        return FactorAnswer("ok")
    wait = factor_wait(session, case_id, client, now, settings, client_limit)
    if wait is not None:
        return FactorAnswer("locked", wait=wait)
    at = naive_utc(now)
    oldest = at - max(settings.lockout, client_limit.window)
    session.execute(delete(PortalFactorFailureRow).where(PortalFactorFailureRow.at <= oldest))
    case_key, client_key = _digest(CASE, str(case_id)), _digest(CLIENT, client)
    client_row = PortalFactorFailureRow(key=client_key, at=at)
    session.add_all([PortalFactorFailureRow(key=case_key, at=at), client_row])
    session.flush()
    counted = _count(session, case_key, at - settings.lockout)
    if counted > settings.failures:  # answers sent at once: only the first `failures` count
        return FactorAnswer("locked", wait=factor_wait(session, case_id, client, now, settings))
    case = session.get(CaseRow, case_id)
    assert case is not None
    expected = expected_value(case, settings.kind)
    if expected is None:
        return FactorAnswer("unanswerable")
    if _same(normalise(settings.kind, answer, case.locale), expected):
        forget = delete(PortalFactorFailureRow).where(PortalFactorFailureRow.key == case_key)
        session.execute(forget)
        session.delete(client_row)
        return FactorAnswer("ok")
    wait = factor_wait(session, case_id, client, now, settings, client_limit)
    if wait is not None:
        return FactorAnswer("locked", wait=wait)
    return FactorAnswer("wrong", left=max(0, settings.failures - counted))


def _count(session: Session, key: str, since: datetime) -> int:
    query = select(PortalFactorFailureRow.id).where(
        PortalFactorFailureRow.key == key, PortalFactorFailureRow.at > since
    )
    return len(session.scalars(query).all())


def _serializer(secret: str, now: datetime) -> URLSafeTimedSerializer:
    return timed_serializer(secret, SALT, now)


def factor_pass(case_id: int, generation: int, now: datetime, secret: str) -> str:
    """The signed pass a right answer earns: this case and link generation, issued at `now`."""
    return str(_serializer(secret, now).dumps([int(case_id), int(generation)]))


def has_factor_pass(
    value: str | None, case_id: int, generation: int, now: datetime, secret: str, minutes: int
) -> bool:
    """Whether `value` is a pass for exactly this case and generation, younger than `minutes`."""
    if not value or len(value) > 400:
        return False
    try:
        loaded = _serializer(secret, now).loads(value, max_age=minutes * 60)
    except BadSignature:  # SignatureExpired is one
        return False
    return loaded == [int(case_id), int(generation)]
