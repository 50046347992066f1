"""POST /hooks/payments/<provider>: signed events stored once, 2xx fast; 400 and 404 problems."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

import api
from connectors.payment_sandbox import SandboxPaymentProvider
from engine import Database, PaymentProviders, VirtualClock, start_checkout
from engine.storage.models import EventRow, ProviderEventRow
from tests.engine.payments.conftest import CHECKOUT, URLS, paying_doc
from tests.factories import make_case, publish


@pytest.fixture
def sandbox(tmp_path: Path) -> SandboxPaymentProvider:
    return SandboxPaymentProvider(tmp_path / "sandbox", "whsec-api", CHECKOUT)


@pytest.fixture
def registry(sandbox: SandboxPaymentProvider) -> PaymentProviders:
    providers = PaymentProviders({})
    providers.add("sandbox", sandbox)
    return providers


@pytest.fixture
def hook_app(api_db: Database, database_url: str, clock: VirtualClock, registry) -> Flask:
    return api.create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test",
            "API_CLOCK": clock,
            "PAYMENT_PROVIDERS": registry,
            "PAYMENTS_PROCESS": "inline",
        }
    )


@pytest.fixture
def hooks(hook_app: Flask) -> FlaskClient:
    return hook_app.test_client()


@pytest.fixture
def payment_id(api_db: Database, clock: VirtualClock, registry) -> str:
    with api_db.transaction() as session:
        version = publish(session, paying_doc(), clock.now)
        case_id = make_case(session, version, clock.now, external_id="HOOK-1").id
    return start_checkout(api_db, registry, case_id, "card", URLS, clock.now).payment_id


def count(db: Database, model: type) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_signed_webhook_is_stored_and_processed(
    hooks: FlaskClient, api_db: Database, sandbox: SandboxPaymentProvider, payment_id: str
) -> None:
    hook = sandbox.complete(payment_id, "pay")
    answer = hooks.post("/hooks/payments/sandbox", data=hook.body, headers=hook.headers)
    assert answer.status_code == 202, answer.get_data(as_text=True)
    assert answer.json["stored"] is True
    with api_db.transaction() as session:
        assert session.scalar(select(EventRow.type)) == "payment_received"


def test_a_replay_is_200_already_stored(
    hooks: FlaskClient, api_db: Database, sandbox: SandboxPaymentProvider, payment_id: str
) -> None:
    hook = sandbox.complete(payment_id, "pay")
    first = hooks.post("/hooks/payments/sandbox", data=hook.body, headers=hook.headers)
    again = hooks.post("/hooks/payments/sandbox", data=hook.body, headers=hook.headers)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json == {
        "stored": False,
        "event_id": first.json["event_id"],
        "detail": "already stored",
    }
    assert count(api_db, ProviderEventRow) == 1 and count(api_db, EventRow) == 1


@pytest.mark.parametrize("tamper", ["body", "signature", "missing", "stale"])
def test_a_bad_signature_is_a_400_problem(
    hooks: FlaskClient,
    api_db: Database,
    sandbox: SandboxPaymentProvider,
    payment_id: str,
    tamper: str,
) -> None:
    from datetime import UTC, datetime, timedelta

    at = datetime.now(UTC) - timedelta(minutes=10) if tamper == "stale" else None
    hook = sandbox.complete(payment_id, "pay", now=at)
    body, headers = hook.body, dict(hook.headers)
    if tamper == "body":
        body = body.replace(b"paid", b"failed")
    elif tamper == "signature":
        headers["Sandbox-Signature"] = headers["Sandbox-Signature"][:-4] + "0000"
    elif tamper == "missing":
        del headers["Sandbox-Signature"]
    answer = hooks.post("/hooks/payments/sandbox", data=body, headers=headers)
    assert answer.status_code == 400
    assert answer.mimetype == "application/problem+json"
    assert "Sandbox-Signature" in answer.json["detail"]
    assert count(api_db, ProviderEventRow) == 0


def test_an_unknown_provider_is_a_404_problem(hooks: FlaskClient, api_db: Database) -> None:
    answer = hooks.post("/hooks/payments/acme", data=b"{}")
    assert answer.status_code == 404
    assert answer.mimetype == "application/problem+json"
    assert "acme" in answer.json["detail"] and "sandbox" in answer.json["detail"]


def test_garbage_with_a_valid_signature_is_a_400(
    hooks: FlaskClient, api_db: Database, sandbox: SandboxPaymentProvider
) -> None:
    from connectors.signing import sign

    body = json.dumps({"nothing": "here"}).encode()
    headers = {"Sandbox-Signature": sign(sandbox.webhook_secret, body)}
    answer = hooks.post("/hooks/payments/sandbox", data=body, headers=headers)
    assert answer.status_code == 400 and "not a sandbox event" in answer.json["detail"]


def test_by_default_processing_follows_in_a_thread(
    hook_app: Flask, api_db: Database, sandbox: SandboxPaymentProvider, payment_id: str
) -> None:
    import time

    hook_app.config["PAYMENTS_PROCESS"] = "thread"
    hook = sandbox.complete(payment_id, "pay")
    answer = hook_app.test_client().post(
        "/hooks/payments/sandbox", data=hook.body, headers=hook.headers
    )
    assert answer.status_code == 202
    deadline = time.monotonic() + 10
    while count(api_db, EventRow) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert count(api_db, EventRow) == 1


def test_a_provider_with_wrong_settings_is_a_409_problem(
    api_db: Database, database_url: str, clock: VirtualClock
) -> None:
    app = api.create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test",
            "API_CLOCK": clock,
            "PAYMENT_PROVIDERS": PaymentProviders({"acme": {"region": "eu"}}),
        }
    )
    answer = app.test_client().post("/hooks/payments/acme", data=b"{}")
    assert answer.status_code == 409 and "not set up right" in answer.json["detail"]
    assert count(api_db, ProviderEventRow) == 0
