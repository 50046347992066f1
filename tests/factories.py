"""Builders for journey documents, published versions and cases, shared by the engine tests."""

from __future__ import annotations

import copy
import itertools
import json
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from engine.authoring.versions import save_version
from engine.intake.cases import CaseSchema, case_values, open_case
from engine.storage.models import AuditRow, CaseRow, OutboxRow, VersionRow

EXAMPLES = Path(__file__).resolve().parent.parent / "journeys_examples"
_external_ids = itertools.count(1)


@cache
def _example(name: str) -> str:
    return (EXAMPLES / f"{name}.json").read_text(encoding="utf-8")


def example_doc(name: str = "minimal") -> dict[str, Any]:
    """A fresh copy of an example journey document."""
    return json.loads(_example(name))


def node(node_id: str, type_: str, x: float = 0, **params: Any) -> dict[str, Any]:
    """One node of a journey document."""
    return {
        "id": node_id,
        "type": type_,
        "label": node_id,
        "params": params,
        "position": {"x": x, "y": 0},
    }


def edge(source: str, target: str, port: str = "next") -> dict[str, str]:
    """One wire of a journey document."""
    return {"from": source, "port": port, "to": target}


def template(
    channel: str = "email",
    body: str = "Dear {{ debtor_name }}, please pay {{ format_money(amount_open) }}.",
    subject: str = "Invoice {{ reference }}",
    locale: str = "en-GB",
    tone: int = 1,
) -> dict[str, Any]:
    """A template with one variant."""
    return {
        "channel": channel,
        "variants": [{"locale": locale, "tone": tone, "subject": subject, "body": body}],
    }


def journey_doc(
    nodes: list[dict[str, Any]] | None = None,
    edges: list[dict[str, str]] | None = None,
    templates: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A valid journey document; by default start -> send email -> wait 3 days -> end."""
    if nodes is None:
        nodes = [
            node("start", "start"),
            node("remind", "send", channel="email", template="reminder", tone=1),
            node("wait", "wait", mode="duration", days=3),
            node("done", "end", outcome="closed"),
        ]
        edges = [edge("start", "remind"), edge("remind", "wait"), edge("wait", "done")]
    doc: dict[str, Any] = {
        "schema_version": 2,
        "key": "test-journey",
        "name": "Test journey",
        "locale": "en-GB",
        "currency": "EUR",
        "nodes": nodes,
        "edges": edges or [],
        "templates": {"reminder": template()} if templates is None else templates,
    }
    doc.update(fields)
    return doc


def publish(session: Session, doc: dict[str, Any], now: datetime) -> VersionRow:
    """Save a document as a published version."""
    return save_version(session, copy.deepcopy(doc), now, status="published", author="tests")


def case_data(**overrides: Any) -> dict[str, Any]:
    """Raw case data as a host system hands it over; keywords override any field."""
    data: dict[str, Any] = {
        "external_id": f"INV-{next(_external_ids):06d}",
        "debtor_name": "Erika Mustermann",
        "email": "erika@example.org",
        "country": "DE",
        "currency": "EUR",
        "amount": "250.00",
        "due_date": "2026-03-02",
        "reference": None,
    }
    data.update(overrides)
    if isinstance(data["due_date"], date):
        data["due_date"] = data["due_date"].isoformat()
    return data


def make_case(session: Session, version: VersionRow, now: datetime, **overrides: Any) -> CaseRow:
    """Open one case at the start of a version."""
    row, created = open_case(session, case_data(**overrides), version, now)
    assert created
    return row


def make_cases(
    session: Session, version: VersionRow, now: datetime, count: int, **overrides: Any
) -> list[str]:
    """Open many cases at once (one insert); returns their external ids."""
    schema = CaseSchema()
    rows = [case_values(schema.load(case_data(**overrides)), version, now) for _ in range(count)]
    session.execute(insert(CaseRow), rows)
    return [r["external_id"] for r in rows]


def case_row(session: Session, external_id: str) -> CaseRow:
    """A case by its external id."""
    row = session.scalar(select(CaseRow).where(CaseRow.external_id == external_id))
    assert row is not None, external_id
    return row


def outbox_rows(session: Session, case_id: int | None = None) -> list[OutboxRow]:
    """Outbox rows in the order they were written."""
    query = select(OutboxRow).order_by(OutboxRow.id)
    if case_id is not None:
        query = query.where(OutboxRow.case_id == case_id)
    return list(session.scalars(query))


def audit_rows(session: Session, case_id: int | None = None, kind: str | None = None) -> list[Any]:
    """Audit rows in the order they were written."""
    query = select(AuditRow).order_by(AuditRow.id)
    if case_id is not None:
        query = query.where(AuditRow.case_id == case_id)
    if kind is not None:
        query = query.where(AuditRow.kind == kind)
    return list(session.scalars(query))


def split_doc(key: str = "split-journey", holdout: float = 0) -> dict[str, Any]:
    """A journey with an A/B split: arm A closes at once, arm B sends a firm email, then a text.

    In the simulation's response model only a message makes a debtor pay, so B collects more:
    a clear winner with a few hundred cases, and one journey cycle of 9 days after the split.
    """
    arms = [
        {"name": "A", "weight": (100 - holdout) / 2},
        {"name": "B", "weight": (100 - holdout) / 2},
    ]
    nodes = [
        node("start", "start"),
        node("test", "split", experiment="reminder-test", arms=arms, holdout=holdout),
        node("firm", "send", channel="email", template="reminder", tone=4),
        node("pause", "wait", mode="duration", days=2),
        node("text", "send", channel="sms", template="nudge", tone=4, fallback_channel="email"),
        node("wait", "wait", mode="duration", days=7),
        node("done", "end", outcome="closed"),
    ]
    edges = [
        edge("start", "test"),
        edge("test", "done", "A"),
        edge("test", "firm", "B"),
        edge("firm", "pause"),
        edge("pause", "text"),
        edge("text", "wait"),
        edge("wait", "done"),
    ]
    if holdout:
        edges.append(edge("test", "done", "holdout"))
    templates = {
        "reminder": template(tone=4),
        "nudge": template("sms", body="Please pay {{ format_money(amount_open) }}.", tone=4),
    }
    return journey_doc(nodes, edges, templates, key=key)
