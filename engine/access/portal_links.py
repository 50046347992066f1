"""The debtor portal's signed links: one per case, expiring, revocable.

A message's portal link is `{MAHNWERK_PORTAL_URL}/<token>`: the token is signed with the
installation's secret key (itsdangerous, a salt of its own so that no other signed value of
the project opens the portal) and carries the case's row id and its link generation. The
external id never appears in it, so a guessed or known external id opens nothing.

- **Expiry**: the signature carries the moment the message was rendered (the engine's clock,
  not the wall clock, so a simulated or tested `now` works the same); a token older than
  MAHNWERK_PORTAL_LINK_DAYS is refused.
- **Revocation**: `revoke_portal_links` raises the case's `portal_link_gen`; every token of an
  older generation is refused. A closed case's links are refused as well (the portal shows
  that the case is closed, no data).

`portal_url` is the one function that makes the link; the dispatcher and the template context
(`engine.delivery.rendering.case_context`) both call it.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.access.signing import timed_serializer
from engine.core.case_status import is_open
from engine.core.channels import CHANNELS
from engine.core.clock import naive_utc
from engine.core.settings import load_settings
from engine.storage.models import AuditRow, CaseRow

SALT = "mahnwerk.portal.link"
# The path a sample case (the designer's template preview) links to: it opens no case.
SAMPLE_TOKEN = "sample"


class PortalLinkError(ValueError):
    """A token that opens nothing; `reason`: 'invalid', 'expired', 'revoked' or 'closed'."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class PortalAccess:
    """What a valid token opens: the case's row id and external id (for the event intake)."""

    case_id: int
    external_id: str
    generation: int


@lru_cache(maxsize=1)
def _fallback_key() -> str:
    """A random key for a process without one (tests, a bare `mahnwerk tick` before `init`):
    its links verify nowhere else, which is the safe way to be wrong."""
    return secrets.token_urlsafe(32)


def link_secret(secret: str | None = None) -> str:
    """The key links are signed with: the one given, else the installation's session key."""
    return secret or load_settings().secret_key or _fallback_key()


def link_days() -> int:
    """How many days a link opens the portal (MAHNWERK_PORTAL_LINK_DAYS)."""
    return load_settings().portal_link_days


def _serializer(secret: str, now: datetime) -> URLSafeTimedSerializer:
    """The links' serializer, its clock set to the engine's `now`."""
    return timed_serializer(secret, SALT, now)


def portal_token(case_id: int, generation: int, now: datetime, secret: str | None = None) -> str:
    """The signed token of one case's link, issued at `now`."""
    return str(_serializer(link_secret(secret), now).dumps([int(case_id), int(generation)]))


def portal_url(case: Any, now: datetime, base_url: str, secret: str | None = None) -> str:
    """The portal link of a case (a row or a state with `id` and `portal_link_gen`)."""
    base = base_url.rstrip("/")
    case_id = getattr(case, "id", None)
    if case_id is None:  # a sample case: a link of the right shape that opens nothing
        return f"{base}/{SAMPLE_TOKEN}"
    generation = getattr(case, "portal_link_gen", 0) or 0
    return f"{base}/{portal_token(case_id, generation, now, secret)}"


def read_token(
    token: str, now: datetime, days: int | None = None, secret: str | None = None
) -> tuple[int, int]:
    """(case id, generation) of a token signed by us and not older than `days`; else
    PortalLinkError('invalid' or 'expired')."""
    max_age = (link_days() if days is None else days) * 86400
    if len(token) > 400:
        raise PortalLinkError("invalid")
    try:
        value = _serializer(link_secret(secret), now).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise PortalLinkError("expired") from exc
    except BadSignature as exc:
        raise PortalLinkError("invalid") from exc
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise PortalLinkError("invalid")
    return value[0], value[1]


def open_portal(
    session: Session,
    token: str,
    now: datetime,
    days: int | None = None,
    secret: str | None = None,
    closed_ok: bool = False,
) -> PortalAccess:
    """The case a token opens, or PortalLinkError saying why none: invalid, expired, revoked
    (an older generation, or a case that no longer exists) or closed (unless `closed_ok`: the
    page a payment returns to must still answer after the payment closed the case)."""
    case_id, generation = read_token(token, now, days, secret)
    row = session.execute(
        select(CaseRow.id, CaseRow.external_id, CaseRow.portal_link_gen, CaseRow.status).where(
            CaseRow.id == case_id
        )
    ).one_or_none()
    if row is None or row.portal_link_gen != generation:
        raise PortalLinkError("revoked")
    if not is_open(row.status) and not closed_ok:
        raise PortalLinkError("closed")
    return PortalAccess(row.id, row.external_id, generation)


def revoke_portal_links(session: Session, case_id: int, now: datetime, by: str = "") -> int:
    """Refuse every link sent for this case so far; returns the new generation. Audited."""
    session.execute(
        update(CaseRow)
        .where(CaseRow.id == case_id)
        .values(portal_link_gen=CaseRow.portal_link_gen + 1)
    )
    generation = session.scalar(select(CaseRow.portal_link_gen).where(CaseRow.id == case_id))
    if generation is None:
        raise LookupError(f"There is no case with the row id {case_id}.")
    case = session.get(CaseRow, case_id)
    assert case is not None
    session.add(
        AuditRow(
            at=naive_utc(now),
            case_id=case_id,
            version_id=case.version_id,
            node_id=case.node_id,
            kind="portal_links_revoked",
            detail={"generation": generation, "by": by},
        )
    )
    return int(generation)


@dataclass(frozen=True)
class PortalCase:
    """What the portal shows the debtor of their case, and nothing more."""

    external_id: str
    reference: str
    debtor_name: str
    amount_open: Decimal
    amount_original: Decimal
    currency: str
    due_date: date
    locale: str
    timezone: str
    status: str
    hold_reason: str | None
    promise_date: date | None
    channels: tuple[str, ...]
    opted_out: tuple[str, ...]


def portal_case(
    session: Session, access: PortalAccess, in_use: Collection[str] | None = None
) -> PortalCase:
    """The case a valid token opened, as the portal shows it; `in_use`: the channels the company
    sends on (None: every registered channel), the ones the person may opt out of."""
    case = session.get(CaseRow, access.case_id)
    if case is None:
        raise PortalLinkError("revoked")
    # Every channel that reaches the person (WhatsApp and a plugin's too): the one registry.
    channels = tuple(
        name
        for name, channel in CHANNELS.items()
        if channel.reaches(case) and (in_use is None or name in in_use)
    )
    return PortalCase(
        external_id=case.external_id,
        reference=case.reference or case.external_id,
        debtor_name=case.debtor_name,
        amount_open=case.amount_open,
        amount_original=case.amount_original,
        currency=case.currency,
        due_date=case.due_date,
        locale=case.locale,
        timezone=case.timezone,
        status=case.status,
        hold_reason=case.hold_reason,
        promise_date=case.promise_date,
        channels=channels,
        opted_out=tuple((case.contact_prefs or {}).get("opted_out", [])),
    )
