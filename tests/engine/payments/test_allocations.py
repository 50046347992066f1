"""One checkout pays several cases of a debtor: allocated once, oldest first, surplus kept.

Against the sandbox provider (a real provider implementation on a local folder, signed
webhooks and all) and the local Stripe fake speaking Stripe's wire format: never a mock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from connectors.payment_sandbox import SandboxPaymentProvider
from connectors.payment_stripe import StripePayments
from connectors.signing import sign as sign_sandbox
from engine import (
    Database,
    ItemsRefused,
    PaymentProviders,
    Runtime,
    VirtualClock,
    debtor_credits,
    parse_amount,
    portal_money,
    process_provider_events,
    record_event,
    start_items_checkout,
    take_provider_webhook,
)
from engine.payments import crash_points
from engine.payments.crash_points import SimulatedCrash
from engine.storage.models import (
    AuditRow,
    CaseRow,
    DebtorCreditRow,
    EventRow,
    PaymentAllocationRow,
    VersionRow,
)
from tests.connectors.conftest import fake_stripe  # noqa: F401  (the local Stripe fixture)
from tests.connectors.fake_stripe import API_KEY, WEBHOOK_SECRET, sign
from tests.engine.payments.conftest import URLS
from tests.factories import case_row, make_case


@pytest.fixture(autouse=True)
def disarmed() -> Iterator[None]:
    yield
    crash_points.disarm()


@pytest.fixture
def person(db: Database, clock: VirtualClock, version: VersionRow) -> dict[str, int]:
    """Three open cases of one debtor (due March, January, February) and one of another."""
    ids = {}
    with db.transaction() as session:
        for ext, due, amount, debtor in (
            ("A-MAR", "2026-03-02", "100.00", "CUST-1"),
            ("A-JAN", "2026-01-05", "40.00", "CUST-1"),
            ("A-FEB", "2026-02-03", "60.00", "CUST-1"),
            ("B-OTHER", "2026-01-01", "70.00", "CUST-2"),
        ):
            row = make_case(
                session,
                version,
                clock.now,
                external_id=ext,
                due_date=due,
                amount=amount,
                debtor_id=debtor,
                reference=f"R-{ext}",
            )
            ids[ext] = row.id
    Runtime(db).tick(clock.now)
    return ids


def received(db: Database) -> dict[str, list[str]]:
    """The payment_received events per case external id: their amounts."""
    with db.transaction() as session:
        rows = session.execute(
            select(CaseRow.external_id, EventRow.payload)
            .join(CaseRow, CaseRow.id == EventRow.case_id)
            .where(EventRow.type == "payment_received")
            .order_by(EventRow.id)
        ).all()
    found: dict[str, list[str]] = {}
    for external_id, payload in rows:
        found.setdefault(external_id, []).append(payload["amount"])
    return found


def pay(db: Database, providers: Any, sandbox: SandboxPaymentProvider, clock, case_id, items, *,
        amount=None, process=True) -> Any:  # fmt: skip
    started = start_items_checkout(
        db, providers, case_id, [str(i) for i in items], amount, "card", URLS, clock.now
    )
    hook = sandbox.complete(started.payment_id, "pay")
    take_provider_webhook(
        db, providers, "sandbox", hook.headers, hook.body, clock.now, process=process
    )
    return hook


def state(db: Database, external_id: str) -> tuple[str, str | None, Decimal]:
    with db.transaction() as session:
        row = case_row(session, external_id)
        return row.status, row.outcome, row.amount_open


def test_the_page_lists_every_open_item_of_the_person_the_current_first(
    db: Database, clock: VirtualClock, person: dict[str, int], providers: Any
) -> None:
    with db.transaction() as session:
        money = portal_money(session, person["A-MAR"], providers, clock.now)
    assert [i.reference for i in money.items] == ["R-A-MAR", "R-A-JAN", "R-A-FEB"]
    assert [i.current for i in money.items] == [True, False, False]
    assert [i.amount_minor for i in money.items] == [10000, 4000, 6000]
    assert money.options.amount_minor == 10000 and money.credits == []


def test_one_checkout_pays_two_cases_and_both_close(
    db: Database,
    clock: VirtualClock,
    person: dict[str, int],
    providers: Any,
    sandbox: SandboxPaymentProvider,
) -> None:
    pay(db, providers, sandbox, clock, person["A-MAR"], [person["A-MAR"], person["A-JAN"]])
    assert received(db) == {"A-JAN": ["40.00"], "A-MAR": ["100.00"]}
    assert sandbox.payments()[0]["amount_minor"] == 14000
    Runtime(db).tick(clock.now)
    assert state(db, "A-MAR") == ("closed", "paid", 0)
    assert state(db, "A-JAN") == ("closed", "paid", 0)
    assert state(db, "A-FEB")[0] == "active"
    with db.transaction() as session:
        allocated = session.scalars(select(AuditRow).where(AuditRow.kind == "payment_allocated"))
        split = [a.detail["split"] for a in allocated]
    assert split == [
        [
            {"case": person["A-JAN"], "planned": 4000, "booked": 4000},
            {"case": person["A-MAR"], "planned": 10000, "booked": 10000},
        ]
    ]


def test_a_duplicate_webhook_allocates_nothing_twice(
    db: Database,
    clock: VirtualClock,
    person: dict[str, int],
    providers: Any,
    sandbox: SandboxPaymentProvider,
) -> None:
    hook = pay(db, providers, sandbox, clock, person["A-JAN"], [person["A-JAN"], person["A-FEB"]])
    Runtime(db).tick(clock.now)  # the shares are applied: nothing open on either case
    # The provider delivers the same webhook again, and a second event for the same payment.
    take_provider_webhook(db, providers, "sandbox", hook.headers, hook.body, clock.now)
    again = json.loads(hook.body)
    again["id"] += "-again"
    body = json.dumps(again).encode()
    headers = {"Sandbox-Signature": sign_sandbox(sandbox.webhook_secret, body)}
    take_provider_webhook(db, providers, "sandbox", headers, body, clock.now)
    assert received(db) == {"A-JAN": ["40.00"], "A-FEB": ["60.00"]}
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(DebtorCreditRow)) == 0
    Runtime(db).tick(clock.now)
    assert state(db, "A-JAN") == ("closed", "paid", 0)


def test_oldest_first_for_a_partial_amount(
    db: Database,
    clock: VirtualClock,
    person: dict[str, int],
    providers: Any,
    sandbox: SandboxPaymentProvider,
) -> None:
    chosen = [person["A-MAR"], person["A-FEB"], person["A-JAN"]]
    pay(db, providers, sandbox, clock, person["A-MAR"], chosen, amount=7000)
    # January (40.00) in full, then February (30.00 of 60.00); March gets nothing.
    assert received(db) == {"A-JAN": ["40.00"], "A-FEB": ["30.00"]}
    Runtime(db).tick(clock.now)
    assert state(db, "A-JAN") == ("closed", "paid", 0)
    assert state(db, "A-FEB") == ("active", None, Decimal("30.00"))
    assert state(db, "A-MAR") == ("active", None, Decimal("100.00"))


def test_a_chosen_subset_pays_only_those(
    db: Database,
    clock: VirtualClock,
    person: dict[str, int],
    providers: Any,
    sandbox: SandboxPaymentProvider,
) -> None:
    pay(db, providers, sandbox, clock, person["A-JAN"], [person["A-FEB"]])
    assert received(db) == {"A-FEB": ["60.00"]}


def test_an_overpayment_is_kept_as_credit_audited_and_shown(
    db: Database,
    clock: VirtualClock,
    person: dict[str, int],
    providers: Any,
    sandbox: SandboxPaymentProvider,
) -> None:
    started = start_items_checkout(
        db, providers, person["A-MAR"], [str(person["A-MAR"]), str(person["A-JAN"])], None,
        "card", URLS, clock.now,
    )  # fmt: skip
    # Meanwhile the host books a bank transfer of 30.00 on January's invoice.
    with db.transaction() as session:
        payload = {"amount": "30.00", "currency": "EUR"}
        record_event(session, "A-JAN", "bank:1", "payment_received", payload, clock.now)
    hook = sandbox.complete(started.payment_id, "pay")
    take_provider_webhook(db, providers, "sandbox", hook.headers, hook.body, clock.now)
    # What is owed now: January 10.00 more, March 100.00; 30.00 of the 140.00 is left over.
    assert received(db) == {"A-JAN": ["30.00", "10.00"], "A-MAR": ["100.00"]}
    with db.transaction() as session:
        credit = session.scalar(select(DebtorCreditRow))
        assert (credit.amount_minor, credit.currency, credit.state) == (3000, "EUR", "kept")
        kept = session.scalar(select(AuditRow).where(AuditRow.kind == "debtor_credit_kept"))
        assert kept.detail["amount_minor"] == 3000
        debtor = case_row(session, "A-MAR").debtor_id
        assert [(c.amount_minor, c.currency) for c in debtor_credits(session, debtor)] == [
            (3000, "EUR")
        ]
        money = portal_money(session, person["A-FEB"], providers, clock.now)
        assert [(c.amount_minor, c.currency) for c in money.credits] == [(3000, "EUR")]
    Runtime(db).tick(clock.now)
    assert state(db, "A-JAN") == ("closed", "paid", 0)
    assert state(db, "A-MAR") == ("closed", "paid", 0)


@pytest.mark.parametrize(
    ("chosen", "amount", "field", "reason"),
    [
        ([], None, "item", "none"),
        (["999999"], None, "item", "unknown"),
        (["B-OTHER"], None, "item", "unknown"),  # a case of another debtor
        (["-1"], None, "item", "unknown"),
        (["1e9"], None, "item", "unknown"),
        (["9" * 40], None, "item", "unknown"),
        (["A-JAN"] * 51, None, "item", "too_many"),
        (["A-JAN"], 4001, "amount", "range"),
        (["A-JAN"], 0, "amount", "range"),
        (["A-JAN"], -500, "amount", "range"),
        (["A-JAN"], 10**15, "amount", "range"),
    ],
)
def test_hostile_choices_are_refused_naming_the_field(
    db: Database,
    clock: VirtualClock,
    person: dict[str, int],
    providers: Any,
    chosen: list[str],
    amount: int | None,
    field: str,
    reason: str,
) -> None:
    values = [str(person[c]) if c in person else c for c in chosen]
    with pytest.raises(ItemsRefused) as refused:
        start_items_checkout(
            db, providers, person["A-MAR"], values, amount, "card", URLS, clock.now
        )
    assert (refused.value.field, refused.value.reason) == (field, reason)


@pytest.mark.parametrize("raw", ["-5", "1e3", "abc", "1.234", "12.3.4", "9" * 30, "NaN", "∞"])
def test_typed_amounts_that_are_not_money_are_refused(raw: str) -> None:
    with pytest.raises(ItemsRefused) as refused:
        parse_amount(raw, "EUR")
    assert refused.value.field == "amount"


def test_typed_amounts() -> None:
    assert parse_amount("", "EUR") is None
    assert parse_amount("120,50", "EUR") == 12050
    assert parse_amount(" 70 ", "EUR") == 7000


def test_a_double_click_gets_the_same_checkout(
    db: Database, clock: VirtualClock, person: dict[str, int], providers: Any
) -> None:
    chosen = [str(person["A-MAR"]), str(person["A-JAN"])]
    first = start_items_checkout(
        db, providers, person["A-MAR"], chosen, None, "card", URLS, clock.now
    )
    again = start_items_checkout(
        db, providers, person["A-MAR"], chosen[::-1], None, "card", URLS, clock.now
    )
    assert (again.intent_id, again.payment_id, again.reused) == (
        first.intent_id,
        first.payment_id,
        True,
    )
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(PaymentAllocationRow)) == 2


@pytest.mark.parametrize("nth", [1, 2])
def test_a_crash_while_allocating_books_each_case_once_after_restart(
    nth: int,
    db: Database,
    clock: VirtualClock,
    person: dict[str, int],
    providers: Any,
    sandbox: SandboxPaymentProvider,
) -> None:
    crash_points.arm("allocation_recording", nth=nth)
    chosen = [person["A-MAR"], person["A-JAN"]]
    with pytest.raises(SimulatedCrash):
        pay(db, providers, sandbox, clock, person["A-MAR"], chosen)
    assert received(db) == {}  # the crashed transaction rolled back every share
    process_provider_events(db, providers, clock.now)  # the scheduler's job after the restart
    process_provider_events(db, providers, clock.now)
    assert received(db) == {"A-JAN": ["40.00"], "A-MAR": ["100.00"]}
    Runtime(db).tick(clock.now)
    assert state(db, "A-MAR") == ("closed", "paid", 0)
    assert state(db, "A-JAN") == ("closed", "paid", 0)


KILLED = """
import sys
from datetime import datetime
from connectors.payment_sandbox import SandboxPaymentProvider
from engine import Database, PaymentProviders, process_provider_events
from engine.payments import crash_points

url, folder, now = sys.argv[1], sys.argv[2], datetime.fromisoformat(sys.argv[3])
providers = PaymentProviders({})
providers.add("sandbox", SandboxPaymentProvider(folder, "whsec-test", "http://x"))
crash_points.arm("allocation_recording", nth=2, mode="exit")
process_provider_events(Database(url), providers, now)
"""


def test_a_process_killed_between_confirmation_and_allocation(
    db: Database,
    clock: VirtualClock,
    person: dict[str, int],
    providers: Any,
    sandbox: SandboxPaymentProvider,
) -> None:
    """The provider confirmed (webhook stored); the process dies half-way through booking the
    shares (os._exit, like SIGKILL); after the restart each case has exactly one payment."""
    pay(db, providers, sandbox, clock, person["A-MAR"], [person["A-MAR"], person["A-JAN"]],
        process=False)  # fmt: skip
    url = db.engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    args = [sys.executable, "-c", KILLED, url, str(sandbox.directory), clock.now.isoformat()]
    killed = subprocess.run(args, env=env, capture_output=True, timeout=120)
    assert killed.returncode == 137, killed.stderr.decode()
    assert received(db) == {}
    process_provider_events(db, providers, clock.now)
    assert received(db) == {"A-JAN": ["40.00"], "A-MAR": ["100.00"]}


def test_against_the_local_stripe(
    db: Database,
    clock: VirtualClock,
    person: dict[str, int],
    fake_stripe: Any,  # noqa: F811
) -> None:
    """The same checkout through Stripe's SDK and wire format (Checkout Session, signed
    webhooks): two cases paid, a replayed webhook books nothing more."""
    stripe = StripePayments(API_KEY, WEBHOOK_SECRET, api_base=fake_stripe.base_url)
    providers = PaymentProviders({})
    providers.add("stripe", stripe)
    with db.transaction() as session:
        for external_id in ("A-MAR", "A-JAN"):
            version = session.get(VersionRow, case_row(session, external_id).version_id)
            doc = dict(version.document)
            doc["settings"] = {"payments": {"provider": "stripe", "methods": ["card"]}}
            version.document = doc
    chosen = [str(person["A-MAR"]), str(person["A-JAN"])]
    started = start_items_checkout(
        db, providers, person["A-MAR"], chosen, None, "card", URLS, clock.now
    )
    assert started.payment_id.startswith("cs_")
    fake_stripe.complete_session(started.payment_id)
    session_obj = fake_stripe.objects[started.payment_id]
    body = fake_stripe.event("checkout.session.completed", session_obj)
    headers = {"Stripe-Signature": sign(body)}
    take_provider_webhook(db, providers, "stripe", headers, body, clock.now)
    take_provider_webhook(db, providers, "stripe", headers, body, clock.now)
    assert received(db) == {"A-JAN": ["40.00"], "A-MAR": ["100.00"]}
    Runtime(db).tick(clock.now)
    assert state(db, "A-MAR") == ("closed", "paid", 0)
    assert state(db, "A-JAN") == ("closed", "paid", 0)


def test_a_person_with_more_invoices_than_a_page_still_sees_the_links_one(
    db: Database, clock: VirtualClock, version: VersionRow, providers: Any
) -> None:
    with db.transaction() as session:
        for _n in range(55):
            make_case(session, version, clock.now, due_date="2026-01-01", debtor_id="MANY")
        newest = make_case(session, version, clock.now, due_date="2026-06-01", debtor_id="MANY")
        money = portal_money(session, newest.id, providers, clock.now)
    assert len(money.items) == 50
    assert money.items[0].case_id == newest.id and money.items[0].current
