"""Allocations on PostgreSQL: two workers book two confirmations of one payment at the same
moment; the intent's row lock lets one decide the shares, the other finds them (one payment per
case, one credit, no worker failing on the unique credit)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from connectors.payment_sandbox import SandboxPaymentProvider
from connectors.signing import sign
from engine import (
    Database,
    PaymentProviders,
    VirtualClock,
    record_event,
    start_items_checkout,
    take_provider_webhook,
)
from engine.payments import allocations
from engine.payments.provider_events import _record
from engine.storage.models import CaseRow, DebtorCreditRow, EventRow, ProviderEventRow
from tests.engine.payments.conftest import URLS, paying_doc
from tests.factories import make_case, publish

pytestmark = pytest.mark.postgres


def test_two_workers_confirming_one_payment_book_it_once(
    pg_db: Database,
    clock: VirtualClock,
    sandbox: SandboxPaymentProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    providers = PaymentProviders({})
    providers.add("sandbox", sandbox)
    with pg_db.transaction() as s:
        version = publish(s, paying_doc(methods=["card"]), clock.now)
        ids = [
            make_case(
                s,
                version,
                clock.now,
                external_id=ext,
                due_date=due,
                amount="50.00",
                debtor_id="CUST-PG",
            ).id
            for ext, due in (("PG-1", "2026-01-05"), ("PG-2", "2026-02-03"))
        ]
    started = start_items_checkout(
        pg_db, providers, ids[0], [str(i) for i in ids], None, "card", URLS, clock.now
    )
    with pg_db.transaction() as s:  # meanwhile 20.00 arrives for PG-1 by bank: 20.00 over
        payload = {"amount": "20.00", "currency": "EUR"}
        record_event(s, "PG-1", "bank:pg", "payment_received", payload, clock.now)
    hook = sandbox.complete(started.payment_id, "pay")
    again = json.loads(hook.body)
    again["id"] += "-again"
    body = json.dumps(again).encode()
    second = {"Sandbox-Signature": sign(sandbox.webhook_secret, body)}
    for headers, raw in ((hook.headers, hook.body), (second, body)):
        take_provider_webhook(pg_db, providers, "sandbox", headers, raw, clock.now, process=False)
    status = sandbox.fetch_payment(started.payment_id)
    with pg_db.transaction() as s:
        events = list(s.scalars(select(ProviderEventRow.id)))
    assert len(events) == 2
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    # The shares are decided slowly (a second's pause after deciding, inside the transaction),
    # so the other worker would decide them too if nothing kept it out.
    decided: list[str] = []
    decide = allocations._decide_shares

    def slowly(*args: Any, **kwargs: Any) -> None:
        decided.append(threading.current_thread().name)
        decide(*args, **kwargs)
        time.sleep(1.0)

    monkeypatch.setattr(allocations, "_decide_shares", slowly)

    def worker(event_row: int) -> None:
        try:
            with pg_db.transaction() as s:
                row = s.get(ProviderEventRow, event_row)
                barrier.wait(timeout=10)
                row.outcome = _record(s, row, status, clock.now)
                row.processed_at = clock.now.replace(tzinfo=None)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(e,)) for e in events]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert errors == []
    assert len(decided) == 1
    with pg_db.transaction() as s:
        paid: dict[str, list[Any]] = {}
        for external_id, payload in s.execute(
            select(CaseRow.external_id, EventRow.payload)
            .join(CaseRow, CaseRow.id == EventRow.case_id)
            .where(EventRow.type == "payment_received")
            .order_by(EventRow.id)
        ):
            paid.setdefault(external_id, []).append(payload["amount"])
        assert paid == {"PG-1": ["20.00", "30.00"], "PG-2": ["50.00"]}
        assert s.scalar(select(func.count()).select_from(DebtorCreditRow)) == 1
        assert s.scalar(select(DebtorCreditRow.amount_minor)) == 2000
