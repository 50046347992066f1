"""Journeys and their versions: create, submit, publish, and load for the runtime."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.authoring.validation import validate_document
from engine.core.clock import naive_utc
from engine.journey.document import Journey, dump_journey, load_journey
from engine.nodes.base import Problem
from engine.rules.compiler import CompiledJourney, compile_journey
from engine.storage.models import JourneyRow, TemplateRow, VersionRow

STATUSES = ("draft", "in_review", "approved", "published", "retired", "simulation")
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


def save_version(
    session: Session,
    doc: dict[str, Any],
    now: datetime,
    status: str = "draft",
    author: str | None = None,
) -> VersionRow:
    """Validate and store a document as the next version of its journey (creating the journey)."""
    journey, problems = validate_document(doc)
    if problems or journey is None:
        raise InvalidJourney(problems)
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
    compiled = compile_journey(journey, number)
    version = VersionRow(
        journey_id=row.id,
        number=number,
        status=status,
        document=dump_journey(journey),
        compiled=compiled.to_json(),
        ruleset=compiled.ruleset,
        author=author,
        created_at=naive_utc(now),
        submitted_at=naive_utc(now) if status in FROZEN else None,
        published_at=naive_utc(now) if status == "published" else None,
    )
    session.add(version)
    session.flush()
    session.add_all(
        TemplateRow(
            version_id=version.id,
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
    return version


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
