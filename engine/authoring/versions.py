"""Journeys and their versions: save drafts, and load versions for the runtime.

The review and publishing of a version (submit, approve, publish, pause, retire) are in
engine/authoring/lifecycle.py.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from engine.authoring.validation import blocking, validate_document
from engine.core.clock import naive_utc
from engine.core.messages import msg
from engine.journey.document import Journey, dump_journey, load_journey
from engine.nodes.base import Problem
from engine.rules.compiler import CompiledJourney, compile_journey
from engine.storage.models import JourneyRow, TemplateRow, VersionRow

STATUSES = (
    "draft",
    "in_review",
    "approved",
    "changes_requested",
    "published",
    "superseded",
    "retired",
    "simulation",
)
VERSION_STATUSES = STATUSES  # its public name: engine.STATUSES are the case statuses
FROZEN = frozenset(STATUSES) - {"draft"}


class InvalidJourney(ValueError):
    """A journey document with problems; `problems` names each node and field."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


class VersionFrozen(ValueError):
    """A submitted version cannot change."""


@dataclass(frozen=True)
class LoadedVersion:
    """A version as the runtime uses it."""

    id: int
    journey: Journey
    compiled: CompiledJourney


def content_hash(document: dict[str, Any]) -> str:
    """sha256 of a stored journey document (templates included) as canonical JSON.

    Sorted keys and no whitespace: the same content always gives the same hash, whatever order
    the keys were stored in. An approval records it; publishing checks it again.
    """
    canonical = json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _compiled(journey: Journey, number: int, problems: list[Problem]) -> CompiledJourney:
    """The compiled rules; a draft with problems may not compile, and then has none yet."""
    try:
        return compile_journey(journey, number)
    except Exception:
        if not blocking(problems):
            raise
        return CompiledJourney(f"{journey.key}.v{number}.unfinished", (), ())


def save_version(
    session: Session,
    doc: dict[str, Any],
    now: datetime,
    status: str = "draft",
    author: str | None = None,
    allow_problems: bool = False,
) -> VersionRow:
    """Validate and store a document as the next version of its journey (creating the journey).

    A document with problems is refused (InvalidJourney), unless `allow_problems` and the
    status is draft: an unfinished draft is kept as it is (it cannot be submitted until its
    problems are fixed, `lifecycle.submit_version`). A document that does not even parse as a
    journey is always refused.
    """
    journey, problems = validate_document(doc)
    errors = blocking(problems)  # warnings (HIGH/MED compliance findings) never refuse a save
    if journey is None or (errors and not (allow_problems and status == "draft")):
        raise InvalidJourney(errors)
    row = session.scalar(select(JourneyRow).where(JourneyRow.key == journey.key))
    if row is None:
        row = JourneyRow(key=journey.key, name=journey.name, created_at=naive_utc(now))
        session.add(row)
        session.flush()
    row.name = journey.name
    number = (
        session.scalar(select(func.max(VersionRow.number)).where(VersionRow.journey_id == row.id))
        or 0
    ) + 1
    compiled = _compiled(journey, number, problems)
    document = dump_journey(journey)
    version = VersionRow(
        journey_id=row.id,
        number=number,
        status=status,
        document=document,
        content_hash=content_hash(document),
        compiled=compiled.to_json(),
        ruleset=compiled.ruleset,
        author=author,
        created_at=naive_utc(now),
        submitted_at=naive_utc(now) if status in FROZEN else None,
        published_at=naive_utc(now) if status == "published" else None,
    )
    session.add(version)
    session.flush()
    _add_templates(session, version.id, journey)
    return version


def _add_templates(session: Session, version_id: int, journey: Journey) -> None:
    session.add_all(
        TemplateRow(
            version_id=version_id,
            key=t.key,
            channel=t.channel,
            locale=v.locale,
            tone=v.tone,
            subject=v.subject,
            body=v.body,
            html=v.html,
        )
        for t in journey.templates.values()
        for v in t.variants
    )


def update_draft(
    session: Session, version: VersionRow, doc: dict[str, Any], now: datetime
) -> list[Problem]:
    """Replace the document of a draft in place (same number); returns its problems.

    Only a draft changes (VersionFrozen otherwise); the row is locked and re-checked, so an
    edit racing a submit either lands before it or is refused. The journey key cannot change.
    """
    journey, problems = validate_document(doc)
    if journey is None:
        raise InvalidJourney(problems)
    row = session.get(JourneyRow, version.journey_id)
    if row is None or journey.key != row.key:
        other = msg(
            "The document is journey '{other}', not '{journey}'.",
            other=journey.key,
            journey=row.key if row else "?",
        )
        raise InvalidJourney([Problem.of(other, None, "key")])
    compiled = _compiled(journey, version.number, problems)
    document = dump_journey(journey)
    changed = session.execute(
        update(VersionRow)
        .where(VersionRow.id == version.id, VersionRow.status == "draft")
        .values(
            document=document,
            content_hash=content_hash(document),
            compiled=compiled.to_json(),
            ruleset=compiled.ruleset,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise VersionFrozen(f"version {version.number} is no longer a draft")
    row.name = journey.name
    session.execute(delete(TemplateRow).where(TemplateRow.version_id == version.id))
    _add_templates(session, version.id, journey)
    session.flush()
    session.refresh(version)
    return problems


def published_version(session: Session, key: str) -> VersionRow | None:
    """The newest published version of a journey."""
    return session.scalar(
        select(VersionRow)
        .join(JourneyRow)
        .where(JourneyRow.key == key, VersionRow.status == "published")
        .order_by(VersionRow.number.desc())
        .limit(1)
    )


class VersionCache:
    """Parsed journeys and compiled rules per version id; safe because versions are immutable."""

    def __init__(self) -> None:
        self._loaded: dict[int, LoadedVersion] = {}

    def get(self, session: Session, version_id: int) -> LoadedVersion:
        """The loaded version, read from the database once."""
        found = self._loaded.get(version_id)
        if found is None:
            row = session.get(VersionRow, version_id)
            if row is None:
                raise KeyError(f"journey version {version_id} does not exist")
            found = LoadedVersion(
                row.id, load_journey(row.document), CompiledJourney.from_json(row.compiled)
            )
            if row.status in FROZEN:
                self._loaded[version_id] = found
        return found
