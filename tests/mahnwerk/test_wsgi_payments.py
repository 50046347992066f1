"""The composed program pays with its default sandbox: no PAYMENT_PROVIDERS given, as `make run`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine import Database, Runtime, SandboxDispatcher, VirtualClock
from engine.storage.models import CaseRow
from mahnwerk.wsgi import create_app
from tests.engine.payments.conftest import paying_doc
from tests.factories import make_case, outbox_rows, publish


def test_the_default_sandbox_takes_a_payment_end_to_end(
    tmp_path: Path, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAHNWERK_INSTANCE", str(tmp_path))
    monkeypatch.setenv("MAHNWERK_PORTAL_URL", "http://localhost/p")
    monkeypatch.setenv("MAHNWERK_SECRET_KEY", "program-secret-" + "x" * 30)
    url = f"sqlite:///{tmp_path / 'program.sqlite3'}"
    db = Database(url)
    db.create_all()
    with db.transaction() as session:
        version = publish(session, paying_doc(), clock.now)
        case_id = make_case(session, version, clock.now, locale="en-GB").id
    Runtime(db).tick(clock.now)
    dispatcher = SandboxDispatcher(db, portal_base_url="http://localhost/p")
    dispatcher.dispatch(clock.now)
    dispatcher.close()
    with db.transaction() as session:
        body = outbox_rows(session, case_id)[0].body
    link = re.search(r"http://localhost(/p/\S+)", body).group(1)
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "SECRET_KEY": "program-secret-" + "x" * 30,
            "WTF_CSRF_ENABLED": False,
            "PORTAL_CLOCK": lambda: clock.now,
            "PAYMENTS_PROCESS": "inline",
        }
    )
    client = app.test_client()
    page = client.get(link).get_data(as_text=True)
    once = re.search(r'/pay">.*?name="once" value="([^"]+)"', page, re.S).group(1)
    answer = client.post(f"{link}/pay", data={"once": once, "method": "card"})
    checkout = answer.headers["Location"]
    assert checkout.startswith("http://localhost/p/sandbox/checkout/sbx_")
    assert (tmp_path / "payments-sandbox").is_dir()
    paid = client.post(checkout.removeprefix("http://localhost"), data={"outcome": "pay"})
    assert "arrived" in client.get(paid.headers["Location"]).get_data(as_text=True)
    # A provider's webhook with no signature is refused by the API app of the same program.
    refused = client.post("/hooks/payments/sandbox", data=b"{}")
    assert refused.status_code == 400 and refused.mimetype == "application/problem+json"
    Runtime(db).tick(clock.now)
    with db.transaction() as session:
        assert session.get(CaseRow, case_id).outcome == "paid"
    db.dispose()
