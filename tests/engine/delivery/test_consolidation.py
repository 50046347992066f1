"""Consolidation: a debtor's messages of several cases due within the window go as one.

Through the runtime and the sandbox dispatcher: one combined message lists every item, the
absorbed rows are marked 'combined' pointing at the carrier and never sent alone, each case's
audit trail names the carrier, the hash chain stays valid, and the person's caps still hold.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import update

from connectors.base import SendResult, permanent, temporary
from engine import Database, Dispatcher, Runtime, SandboxDispatcher, VirtualClock
from engine.contact_policy import DE
from engine.core.clock import naive_utc
from engine.delivery.config import DeliveryConfig
from engine.journey.document import load_journey
from engine.ops.explain import explain_case
from engine.storage.audit_chain import verify
from engine.storage.models import OutboxRow
from tests.factories import (
    audit_rows,
    case_row,
    edge,
    journey_doc,
    make_case,
    node,
    outbox_rows,
    publish,
)
from tests.factories import template as make_template

PORTAL = "https://pay.example.org/p"
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # a Tuesday morning: the guard lets it through
LOOP = (
    "Dear {{ debtor_name }},\n"
    "{% for item in items %}"
    "{{ item.reference }}: {{ format_money(item.total_due) }}, "
    "due {{ format_date(item.due_date) }}\n"
    "{% endfor %}"
    "Together {{ format_money(items_total) }} for {{ items_count }} invoices."
)


def consolidating(
    key: str = "telco",
    tone: int = 1,
    window: int | None = 24,
    body: str = LOOP,
    channel: str = "email",
) -> dict[str, Any]:
    """start -> send (the reminder) -> wait 30 days -> end, consolidating within `window` hours."""
    nodes = [
        node("start", "start"),
        node("remind", "send", channel=channel, template="reminder", tone=tone),
        node("wait", "wait", mode="duration", days=30),
        node("done", "end", outcome="closed"),
    ]
    edges = [edge("start", "remind"), edge("remind", "wait"), edge("wait", "done")]
    reminder = make_template(channel=channel, body=body, tone=tone, subject="Open invoices")
    settings = {"consolidate": {"window_hours": window}} if window else None
    return journey_doc(
        key=key,
        nodes=nodes,
        edges=edges,
        templates={"reminder": reminder},
        **({"settings": settings} if settings else {}),
    )


def dispatch(db: Database, now: datetime) -> Any:
    dispatcher = SandboxDispatcher(db, portal_base_url=PORTAL)
    try:
        return dispatcher.dispatch(now)
    finally:
        dispatcher.close()


def rows_by_case(db: Database) -> dict[str, OutboxRow]:
    with db.transaction() as session:
        found = {}
        for row in outbox_rows(session):
            session.expunge(row)
            found[row.case_id] = row
        return found


def ids(db: Database, *external_ids: str) -> list[int]:
    with db.transaction() as session:
        return [case_row(session, ext).id for ext in external_ids]


def test_the_option_is_validated_naming_its_field() -> None:
    doc = consolidating(window=24)
    doc["settings"]["consolidate"]["window_hours"] = 0
    with pytest.raises(Exception) as bad:
        load_journey(doc)
    assert "window_hours" in str(bad.value)
    doc["settings"]["consolidate"] = {"window_hour": 24}
    with pytest.raises(Exception) as unknown:
        load_journey(doc)
    assert "window_hour" in str(unknown.value)
    assert load_journey(consolidating(window=6)).consolidation_window == timedelta(hours=6)
    assert load_journey(consolidating(window=None)).consolidation_window is None


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def either_db(request: pytest.FixtureRequest) -> Database:
    """SQLite, and PostgreSQL where the claim locks its rows (FOR UPDATE SKIP LOCKED)."""
    return request.getfixturevalue("db" if request.param == "sqlite" else "pg_db")


def test_two_cases_of_a_debtor_go_as_one_message_listing_both_items(either_db: Database) -> None:
    db = either_db
    with db.transaction() as session:
        friendly = publish(session, consolidating("telco", tone=1), NOW)
        firm = publish(session, consolidating("telco-firm", tone=3), NOW)
        make_case(
            session,
            friendly,
            NOW,
            external_id="INV-A",
            amount="100.00",
            due_date="2026-02-01",
            debtor_id="CUST-1",
        )
        make_case(
            session,
            firm,
            NOW,
            external_id="INV-B",
            amount="50.00",
            due_date="2026-02-20",
            debtor_id="CUST-1",
        )
    Runtime(db).tick(NOW)
    a, b = ids(db, "INV-A", "INV-B")

    report = dispatch(db, NOW)

    assert (report.sent, report.deferred) == (1, 0)  # one message, one contact for the person
    rows = rows_by_case(db)
    carrier, absorbed = rows[b], rows[a]  # the firmer step (tone 3) carries the group
    assert carrier.status == "sandboxed" and carrier.combined_into is None
    assert (absorbed.status, absorbed.combined_into) == ("combined", carrier.id)
    # The debtor's language (de-DE) formats amounts and dates.
    assert "INV-A: 100,00\xa0€, due 1. Februar 2026" in carrier.body
    assert "INV-B: 50,00\xa0€, due 20. Februar 2026" in carrier.body
    assert "Together 150,00\xa0€ for 2 invoices." in carrier.body
    with db.transaction() as session:
        sent = audit_rows(session, b, "message")
        assert sent[-1].detail["combined"] == [absorbed.id]
        combined = audit_rows(session, a, "message_combined")
        assert [r.detail["carrier"] for r in combined] == [carrier.id]
        assert combined[0].detail["outbox_id"] == absorbed.id
        assert verify(session.connection()).ok
        said = [step.summary for step in explain_case(session, a, "de")]
        assert (
            "Die E-Mail „reminder“ ging in einer Nachricht mit den anderen offenen Posten des "
            f"Schuldners hinaus: Nachricht {carrier.id} von Fall {b}."
        ) in said

    # The guard's history: one contact for the person, about both debts (per-debt counts).
    dispatcher = SandboxDispatcher(db, portal_base_url=PORTAL)
    try:
        with db.transaction() as session:
            deciding = OutboxRow(id=-1, case_id=a)  # a later message of case A being decided
            history = dispatcher._history(
                session, [(deciding, case_row(session, "INV-A"))], NOW + timedelta(hours=1)
            )
    finally:
        dispatcher.close()
    (records,) = history.values()
    assert [(r.same_debt, r.channel) for r in records.records_for(a)] == [(True, "email")]
    assert [r.same_debt for r in records.records_for(b)] == [True]
    assert [r.same_debt for r in records.records_for(b + 1000)] == [False]

    # Later runs never send the absorbed row on its own.
    for hours in (1, 6, 30):
        again = dispatch(db, NOW + timedelta(hours=hours))
        assert again.sent == 0
    assert rows_by_case(db)[a].status == "combined"


def test_a_row_due_within_the_window_joins_and_one_beyond_it_waits(db: Database) -> None:
    with db.transaction() as session:
        version = publish(session, consolidating(window=6), NOW)
        for ext in ("INV-A", "INV-B", "INV-C"):
            make_case(session, version, NOW, external_id=ext, debtor_id="CUST-1")
    Runtime(db).tick(NOW)
    a, b, c = ids(db, "INV-A", "INV-B", "INV-C")
    with db.transaction() as session:  # B's reminder is due in 5 hours, C's in 7
        for case_id, hours in ((b, 5), (c, 7)):
            session.execute(
                update(OutboxRow)
                .where(OutboxRow.case_id == case_id)
                .values(not_before=naive_utc(NOW + timedelta(hours=hours)))
            )

    assert dispatch(db, NOW).sent == 1

    rows = rows_by_case(db)
    assert rows[a].status == "sandboxed"
    assert (rows[b].status, rows[b].combined_into) == ("combined", rows[a].id)
    assert (rows[c].status, rows[c].combined_into) == ("pending", None)
    assert "INV-C" not in rows[a].body
    # C goes later on its own, after the person's minimum gap (DE: 12 hours) and the night.
    later = dispatch(db, NOW + timedelta(hours=7))
    assert later.sent == 0 and later.deferred == 1
    assert dispatch(db, NOW + timedelta(hours=23)).sent == 1
    assert rows_by_case(db)[c].status == "sandboxed"


def test_another_debtor_and_a_journey_without_the_option_are_unaffected(db: Database) -> None:
    with db.transaction() as session:
        plain = publish(session, consolidating("plain", window=None), NOW)
        telco = publish(session, consolidating("telco"), NOW)
        make_case(session, plain, NOW, external_id="P-1", debtor_id="CUST-P")
        make_case(session, plain, NOW, external_id="P-2", debtor_id="CUST-P")
        make_case(session, telco, NOW, external_id="T-1", debtor_id="CUST-T", email="t@example.org")
        make_case(session, telco, NOW, external_id="X-1", debtor_id="CUST-X", email="x@example.org")
    Runtime(db).tick(NOW)
    p1, p2, t1, x1 = ids(db, "P-1", "P-2", "T-1", "X-1")

    report = dispatch(db, NOW)

    rows = rows_by_case(db)
    assert all(row.combined_into is None for row in rows.values())
    assert "combined" not in {row.status for row in rows.values()}
    # Without the option the person's gap holds the second reminder back, as before.
    assert sorted((rows[p1].status, rows[p2].status)) == ["pending", "sandboxed"]
    # Two debtors of a consolidating journey: each gets their own one-item message.
    assert rows[t1].status == rows[x1].status == "sandboxed"
    assert "T-1" in rows[t1].body and "X-1" not in rows[t1].body
    assert (report.sent, report.deferred) == (3, 1)


def test_a_template_without_a_loop_gets_the_items_appended(db: Database) -> None:
    with db.transaction() as session:
        email = publish(session, consolidating("mail", body="Please pay."), NOW)
        text = publish(session, consolidating("text", body="Please pay.", channel="sms"), NOW)
        for ext, version, debtor in (
            ("M-1", email, "CUST-M"),
            ("M-2", email, "CUST-M"),
            ("S-1", text, "CUST-S"),
            ("S-2", text, "CUST-S"),
        ):
            make_case(
                session,
                version,
                NOW,
                external_id=ext,
                debtor_id=debtor,
                amount="20.00",
                phone="+4915112345678",
                email=f"{debtor.lower()}@example.org",
                debtor={"consent": {"sms": True}},
            )
    Runtime(db).tick(NOW)
    dispatch(db, NOW)

    with db.transaction() as session:
        mails = [r for r in outbox_rows(session) if r.channel == "email" and r.status != "combined"]
        texts = [r for r in outbox_rows(session) if r.channel == "sms" and r.status != "combined"]
        assert len(mails) == len(texts) == 1
        mail, sms = mails[0], texts[0]
    # In the debtor's language (de-DE): the list for an email, one line for an SMS.
    assert mail.body.startswith("Please pay.\n\nIhre offenen Posten:\n- M-1, fällig am 2. März")
    assert "Gebühren 0,00\xa0€, Zinsen 0,00\xa0€, zusammen 20,00\xa0€" in mail.body
    assert mail.body.endswith("Zusammen 2 Posten: 40,00\xa0€")
    assert sms.body == "Please pay.\n2 offene Posten, zusammen 40,00\xa0€."


def daily_doc(sends: int) -> dict[str, Any]:
    """start -> (send, wait a day) x sends -> end, consolidating within 24 hours."""
    nodes, edges, previous = [node("start", "start")], [], "start"
    for i in range(sends):
        nodes += [
            node(f"send{i}", "send", channel="email", template="reminder", tone=1),
            node(f"wait{i}", "wait", days=1),
        ]
        edges += [edge(previous, f"send{i}"), edge(f"send{i}", f"wait{i}")]
        previous = f"wait{i}"
    nodes.append(node("done", "end", outcome="closed"))
    edges.append(edge(previous, "done"))
    return journey_doc(
        key="daily",
        jurisdiction="DE",
        locale="de-DE",
        templates={"reminder": make_template(body=LOOP, locale="de-DE")},
        nodes=nodes,
        edges=edges,
        settings={"consolidate": {"window_hours": 24}},
    )


def test_combined_messages_keep_the_persons_caps_and_gaps(
    db: Database, clock: VirtualClock
) -> None:
    with db.transaction() as session:
        version = publish(session, daily_doc(8), clock.now)
        for ext in ("INV-A", "INV-B", "INV-C"):
            make_case(session, version, clock.now, external_id=ext, debtor_id="CUST-1")
    dispatcher = SandboxDispatcher(db, portal_base_url=PORTAL)
    try:
        end = clock.now + timedelta(days=14)
        while clock.now < end:
            Runtime(db).tick(clock.now)
            dispatcher.dispatch(clock.now)
            clock.advance(timedelta(hours=2))
    finally:
        dispatcher.close()

    with db.transaction() as session:
        rows = outbox_rows(session)
        moments = sorted(r.sent_at.replace(tzinfo=UTC) for r in rows if r.status == "sandboxed")
        combined = [r for r in rows if r.status == "combined"]
        carriers = {r.id for r in rows if r.status == "sandboxed"}
        assert verify(session.connection()).ok
    assert len(moments) >= 3 and combined  # it did send, and combined
    assert {r.combined_into for r in combined} <= carriers
    assert all(later - earlier >= DE.min_gap for earlier, later in pairwise(moments))
    for i, start in enumerate(moments):
        assert sum(1 for m in moments[i:] if m < start + timedelta(days=7)) <= 5  # DE's cap


class Scripted:
    """An email connector answering from a script, keeping the outbox id of each call."""

    def __init__(self, *answers: SendResult) -> None:
        self.answers, self.calls = list(answers), []

    def send(self, message: Any) -> SendResult:
        self.calls.append(int(message.idempotency_key))
        return self.answers.pop(0)


def test_a_retried_carrier_keeps_its_group_and_a_failed_one_releases_it(
    either_db: Database,
) -> None:
    db = either_db
    with db.transaction() as session:
        version = publish(session, consolidating(), NOW)
        for ext in ("INV-A", "INV-B"):
            make_case(session, version, NOW, external_id=ext, debtor_id="CUST-1")
    Runtime(db).tick(NOW)
    a, b = ids(db, "INV-A", "INV-B")
    email = Scripted(
        temporary("try later"), permanent("mailbox full"), SendResult("accepted", "p-1")
    )
    config = DeliveryConfig(profiles={"email": {"provider": "smtp"}}, source="test")
    dispatcher = Dispatcher(db, config=config, connectors={"email": email}, portal_base_url=PORTAL)
    try:
        assert dispatcher.dispatch(NOW).retried == 1
        rows = rows_by_case(db)
        carrier, absorbed = rows[a], rows[b]
        assert (carrier.status, absorbed.status) == ("pending", "combining")
        assert absorbed.combined_into == carrier.id

        # The retry goes with the same group; it fails for good and releases the absorbed row,
        # which goes on alone in the same run (the dispatcher looks at the due rows once more):
        # its content was never sent.
        report = dispatcher.dispatch(NOW + timedelta(minutes=2))
        assert (report.failed, report.sent) == (1, 1)
        rows = rows_by_case(db)
        assert (rows[a].status, rows[b].status, rows[b].combined_into) == ("failed", "sent", None)
        with db.transaction() as session:
            assert len(audit_rows(session, b, "combine_released")) == 1
    finally:
        dispatcher.close()
    assert email.calls == [carrier.id, carrier.id, absorbed.id]
    assert rows_by_case(db)[b].status == "sent"
