"""Payment fixtures: the sandbox provider in a temporary folder, a journey waiting for payment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors.payment_sandbox import SandboxPaymentProvider
from engine import Database, PaymentProviders, Runtime, VirtualClock
from engine.storage.models import CaseRow, VersionRow
from tests.factories import edge, journey_doc, make_case, node, publish, template

CHECKOUT = "https://pay.example.org/p/sandbox/checkout"
URLS = ("https://pay.example.org/p/t/payment/{intent}", "https://pay.example.org/p/t")


def paying_doc(**settings: Any) -> dict[str, Any]:
    """start -> email with the portal link -> wait 14 days for a payment -> email -> end."""
    body = "Dear {{ debtor_name }}, please pay {{ format_money(amount_open) }}: {{ portal_url }}"
    doc = journey_doc(
        key="paying",
        templates={"reminder": template(body=body)},
        nodes=[
            node("start", "start"),
            node("remind", "send", channel="email", template="reminder", tone=1),
            node("answer", "wait_event", events=["payment_failed"], timeout_days=14),
            node("again", "send", channel="email", template="reminder", tone=2),
            node("done", "end", outcome="closed"),
        ],
        edges=[
            edge("start", "remind"),
            edge("remind", "answer"),
            edge("answer", "again", "payment_failed"),
            edge("answer", "again", "timeout"),
            edge("again", "done"),
        ],
    )
    if settings:
        doc["settings"] = {"payments": settings}
    return doc


@pytest.fixture
def sandbox(tmp_path: Path) -> SandboxPaymentProvider:
    return SandboxPaymentProvider(tmp_path / "sandbox", "whsec-test", CHECKOUT)


@pytest.fixture
def providers(sandbox: SandboxPaymentProvider) -> PaymentProviders:
    registry = PaymentProviders({})
    registry.add("sandbox", sandbox)
    return registry


@pytest.fixture
def version(db: Database, clock: VirtualClock) -> VersionRow:
    with db.transaction() as session:
        return publish(session, paying_doc(methods=["card", "sepa_debit"]), clock.now)


@pytest.fixture
def case(db: Database, clock: VirtualClock, version: VersionRow) -> CaseRow:
    """A case that got its first reminder and waits at 'answer' (250.00 EUR open)."""
    with db.transaction() as session:
        row = make_case(session, version, clock.now)
        session.expunge(row)
    Runtime(db).tick(clock.now)
    return row


PLAN_LIMITS = {
    "allowed": True,
    "max_instalments": 6,
    "min_instalment_minor": 2000,
    "first_within_days": 14,
    "interval": "monthly",
    "grace_days": 3,
}


def plan_doc(provider: str = "sandbox", **limits: Any) -> dict[str, Any]:
    """start -> email with the portal link -> wait for a plan (14 days) -> wait for a missed
    instalment (400 days); a missed instalment sends a firmer reminder and waits again."""
    body = "Dear {{ debtor_name }}, pay in instalments: {{ portal_url }}"
    doc = journey_doc(
        key="planning",
        templates={"reminder": template(body=body)},
        nodes=[
            node("start", "start"),
            node("remind", "send", channel="email", template="reminder", tone=1),
            node("offer", "wait_event", events=["plan_agreed"], timeout_days=14),
            node("plan", "wait_event", events=["instalment_missed"], timeout_days=400),
            node("missed", "send", channel="email", template="reminder", tone=2),
            node("again", "send", channel="email", template="reminder", tone=2),
            node("done", "end", outcome="closed"),
        ],
        edges=[
            edge("start", "remind"),
            edge("remind", "offer"),
            edge("offer", "plan", "plan_agreed"),
            edge("offer", "again", "timeout"),
            edge("plan", "missed", "instalment_missed"),
            edge("plan", "done", "timeout"),
            edge("missed", "plan"),
            edge("again", "done"),
        ],
    )
    doc["settings"] = {
        "payments": {"provider": provider, "methods": ["card", "sepa_debit"]},
        "plans": {**PLAN_LIMITS, **limits},
    }
    return doc
