"""Portal fixtures: a journey that waits for the debtor, a case, its message, the portal app."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

import portal
from connectors.payment_sandbox import SandboxPaymentProvider
from engine import Database, PaymentProviders, Runtime, SandboxDispatcher, VirtualClock
from engine.storage.models import CaseRow, VersionRow
from tests.factories import edge, journey_doc, make_case, node, outbox_rows, publish, template

SECRET = "portal-test-secret"
PORTAL = "https://pay.example.org/p"


def waiting_doc() -> dict[str, Any]:
    """start -> email with the portal link -> wait for a promise (7 days) -> promise -> end;
    a broken promise or no answer sends a second reminder."""
    reminder = template(body="Dear {{ debtor_name }}, settle here: {{ portal_url }}")
    reminder["variants"].append(
        {"locale": "de-DE", "tone": 1, "subject": "Rechnung", "body": "Hier: {{ portal_url }}"}
    )
    return journey_doc(
        key="portal-journey",
        templates={"reminder": reminder},
        nodes=[
            node("start", "start"),
            node("remind", "send", channel="email", template="reminder", tone=1),
            node("answer", "wait_event", events=["promise_to_pay"], timeout_days=7),
            node("promise", "promise", grace_days=2),
            node("again", "send", channel="email", template="reminder", tone=1),
            node("paid", "end", outcome="paid"),
            node("done", "end", outcome="closed"),
        ],
        edges=[
            edge("start", "remind"),
            edge("remind", "answer"),
            edge("answer", "promise", "promise_to_pay"),
            edge("answer", "again", "timeout"),
            edge("promise", "paid", "kept"),
            edge("promise", "again", "broken"),
            edge("again", "done"),
        ],
    )


@pytest.fixture
def version(db: Database, clock: VirtualClock) -> VersionRow:
    with db.transaction() as session:
        return publish(session, waiting_doc(), clock.now)


def sent_link(db: Database, clock: VirtualClock, version: VersionRow, **case: Any) -> str:
    """Open a case, tick and dispatch: the portal link of the message it was sent."""
    with db.transaction() as session:
        row = make_case(session, version, clock.now, **case)
        case_id = row.id
    Runtime(db).tick(clock.now)
    dispatcher = SandboxDispatcher(db, portal_base_url=PORTAL, link_secret=SECRET)
    try:
        dispatcher.dispatch(clock.now)
    finally:
        dispatcher.close()
    with db.transaction() as session:
        body = outbox_rows(session, case_id)[-1].body
    found = re.search(r"https://pay\.example\.org(/p/\S+)", body or "")
    assert found, body
    return found.group(1)


@pytest.fixture
def sandbox(tmp_path: Path) -> SandboxPaymentProvider:
    """The sandbox payment provider, its hosted page in the portal under test."""
    return SandboxPaymentProvider(
        tmp_path / "sandbox", "whsec-portal", "http://localhost/p/sandbox/checkout"
    )


@pytest.fixture
def app(
    db: Database, clock: VirtualClock, tmp_path: Path, sandbox: SandboxPaymentProvider
) -> Flask:
    registry = PaymentProviders({})
    registry.add("sandbox", sandbox)
    return portal.create_app(
        {
            "PAYMENT_PROVIDERS": registry,
            "TESTING": True,
            "SECRET_KEY": SECRET,
            "DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
            "PORTAL_CLOCK": lambda: clock.now,
            "CREDITOR_NAME": "Stadtwerke Test",
        }
    )


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def case_of(db: Database, external_id: str) -> CaseRow:
    with db.transaction() as session:
        from tests.factories import case_row

        row = case_row(session, external_id)
        session.expunge(row)
        return row


def form_values(html: str, action: str) -> dict[str, str]:
    """The hidden fields (csrf_token, once) of the form posting to .../<action>."""
    start = html.index(f'/{action}"')
    chunk = html[start : html.index("</form>", start)]
    return dict(re.findall(r'name="(csrf_token|once)" value="([^"]+)"', chunk))
