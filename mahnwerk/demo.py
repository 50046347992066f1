"""The embedded defaults: example journeys published, a demo portfolio, demo users."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from engine.access.users import add_user
from engine.authoring.lifecycle import journey_state, publish_as_system
from engine.authoring.versions import published_version
from engine.intake.cases import audit_opened, case_values
from engine.simulation import synthetic_cases
from engine.storage.db import Database
from engine.storage.models import CaseRow, JourneyRow, UserRow
from mahnwerk_files import JOURNEYS_EXAMPLES

EXAMPLES = JOURNEYS_EXAMPLES
DEMO_USERS = (
    ("admin@mahnwerk.local", "admin"),
    ("manager@mahnwerk.local", "manager"),
    ("reviewer@mahnwerk.local", "reviewer"),
)
DEMO_PASSWORD = "mahnwerk-demo"


@dataclass
class InitReport:
    """What `mahnwerk init` did."""

    journeys: list[str] = field(default_factory=list)
    cases: int = 0
    users: list[tuple[str, str]] = field(default_factory=list)


def example_files(folder: Path = EXAMPLES) -> list[Path]:
    """The example journey documents shipped with Mahnwerk."""
    return sorted(folder.glob("*.json"))


def publish_examples(db: Database, now: datetime, folder: Path = EXAMPLES) -> list[str]:
    """Publish each example journey that was never published, through the whole lifecycle.

    Saved, submitted, approved and published by the system actor "mahnwerk init" (shipped
    content needs no four eyes), so each example's history shows how it went live. A journey
    that is live, paused or retired is left as it is: init never undoes an operator's pause
    or retirement.
    """
    published = []
    with db.transaction() as session:
        for path in example_files(folder):
            doc = json.loads(path.read_text(encoding="utf-8"))
            journey = session.scalar(select(JourneyRow).where(JourneyRow.key == doc["key"]))
            if journey is None or journey_state(session, journey) == "draft":
                publish_as_system(session, doc, now, author="mahnwerk init")
                published.append(doc["key"])
    return published


def demo_portfolio(db: Database, now: datetime, per_journey: int = 60, seed: int = 1) -> int:
    """Open a few demo cases per published journey, once (due dates in the last days)."""
    rng = random.Random(seed)
    with db.transaction() as session:
        if session.scalar(select(func.count()).select_from(CaseRow)):
            return 0
        created = 0
        for key in session.scalars(select(JourneyRow.key).order_by(JourneyRow.key)):
            version = published_version(session, key)
            if version is None:
                continue
            rows = []
            for data in synthetic_cases(version.document, per_journey, rng, now.date()):
                data["external_id"] = f"DEMO-{key}-{data['external_id'][4:]}"
                data["due_date"] = now.date() - timedelta(days=rng.randint(0, 6))
                rows.append(case_values(data, version, now))
            session.execute(insert(CaseRow), rows)
            audit_opened(session, [r["external_id"] for r in rows], now, "demo")
            created += len(rows)
    return created


def demo_users(db: Database, now: datetime) -> list[tuple[str, str]]:
    """Demo users with a known password, created once."""
    made = []
    with db.transaction() as session:
        for email, role in DEMO_USERS:
            if session.scalar(select(UserRow).where(UserRow.email == email)) is None:
                add_user(session, email, DEMO_PASSWORD, role, now)
                made.append((email, role))
    return made
