"""Contact policy per person and per debt, through the runtime and the sandbox dispatcher.

Two cases of one debtor are one person for caps, gaps, hours and consent; the US 7-in-7
presumption (Reg F, US-02) is counted per debt. A case without a debtor is its own person.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import insert

from engine import Database, Runtime, SandboxDispatcher, VirtualClock
from engine.contact_policy import DE
from engine.core.clock import naive_utc
from engine.storage.models import OutboxRow
from tests.factories import case_row, edge, journey_doc, make_case, node, outbox_rows, publish
from tests.factories import template as make_template

PORTAL = "https://pay.example.org/p"
WEEK = timedelta(days=7)


def daily_doc(sends: int, channel: str = "email") -> dict[str, Any]:
    """start -> (send, wait a day) x sends -> end: one message a day per case."""
    nodes = [node("start", "start")]
    edges = []
    previous = "start"
    for i in range(sends):
        nodes += [
            node(f"send{i}", "send", channel=channel, template="reminder"),
            node(f"wait{i}", "wait", days=1),
        ]
        edges += [edge(previous, f"send{i}"), edge(f"send{i}", f"wait{i}")]
        previous = f"wait{i}"
    nodes.append(node("done", "end", outcome="closed"))
    edges.append(edge(previous, "done"))
    reminder = make_template(channel=channel, body="Bitte zahlen Sie.", locale="de-DE")
    reminder["variants"].append({"locale": "en-US", "tone": 1, "subject": "", "body": "Pay."})
    return journey_doc(key="daily", templates={"reminder": reminder}, nodes=nodes, edges=edges)


def run(db: Database, clock: VirtualClock, days: int, step: timedelta) -> None:
    dispatcher = SandboxDispatcher(db, portal_base_url=PORTAL)
    end = clock.now + timedelta(days=days)
    try:
        while clock.now < end:
            Runtime(db).tick(clock.now)
            dispatcher.dispatch(clock.now)
            clock.advance(step)
    finally:
        dispatcher.close()


def sent_moments(db: Database) -> list[datetime]:
    with db.transaction() as session:
        return sorted(
            row.sent_at.replace(tzinfo=UTC)
            for row in outbox_rows(session)
            if row.status == "sandboxed"
        )


def test_two_cases_of_one_debtor_keep_the_persons_caps_and_gaps_together(
    db: Database, clock: VirtualClock
) -> None:
    with db.transaction() as session:
        version = publish(session, daily_doc(6), clock.now)
        for ext in ("INV-A", "INV-B"):
            make_case(session, version, clock.now, external_id=ext, debtor_id="CUST-1")

    run(db, clock, days=14, step=timedelta(hours=2))

    moments = sent_moments(db)
    assert len(moments) >= 5  # both journeys did send
    # DE: a 12-hour minimum gap and at most 5 messages in any 7 days, over both cases.
    assert all(later - earlier >= DE.min_gap for earlier, later in pairwise(moments))
    for i, start in enumerate(moments):
        assert sum(1 for m in moments[i:] if m < start + WEEK) <= 5


def test_cases_without_a_debtor_are_each_their_own_person(
    db: Database, clock: VirtualClock
) -> None:
    with db.transaction() as session:
        version = publish(session, daily_doc(1), clock.now)
        for ext in ("INV-C", "INV-D"):
            make_case(session, version, clock.now, external_id=ext)

    run(db, clock, days=1, step=timedelta(hours=2))

    moments = sent_moments(db)
    assert moments == [clock.now - timedelta(days=1)] * 2  # both at once, as before debtors


def _sms_history(db: Database, case_id: int, now: datetime, count: int) -> None:
    """`count` texts already sent about one case, one every 20 hours up to 20 hours ago."""
    with db.transaction() as session:
        case = session.get(OutboxRow, 1)
        assert case is not None
        version_id = case.version_id
        session.execute(
            insert(OutboxRow),
            [
                {
                    "idempotency_key": f"old-{case_id}-{i}",
                    "case_id": case_id,
                    "version_id": version_id,
                    "node_id": "old",
                    "channel": "sms",
                    "status": "sandboxed",
                    "not_before": naive_utc(now - timedelta(hours=20 * (i + 1))),
                    "sent_at": naive_utc(now - timedelta(hours=20 * (i + 1))),
                    "attempts": 1,
                    "created_at": naive_utc(now - WEEK),
                }
                for i in range(count)
            ],
        )


def test_a_us_debtor_with_two_debts_keeps_seven_in_seven_per_debt(
    db: Database, clock: VirtualClock
) -> None:
    clock.advance(timedelta(hours=8))  # 16:00 UTC: 11:00 in New York
    us = {
        "country": "US",
        "currency": "USD",
        "phone": "+1 202 555 0143",
        "debtor_id": "US-CUST",
        "debtor": {"consent": {"sms": True}},  # US-12: TCPA consent, the debtor's
    }
    with db.transaction() as session:
        version = publish(session, daily_doc(1, channel="sms"), clock.now)
        first = make_case(session, version, clock.now, external_id="US-A", **us)
        second = make_case(session, version, clock.now, external_id="US-B", **us)
        ids = first.id, second.id
    Runtime(db).tick(clock.now)  # both texts queued
    _sms_history(db, ids[0], clock.now, 7)  # seven texts about the first debt this week

    dispatcher = SandboxDispatcher(db, portal_base_url=PORTAL)
    try:
        dispatcher.dispatch(clock.now)
    finally:
        dispatcher.close()

    with db.transaction() as session:
        a = next(r for r in outbox_rows(session, ids[0]) if r.node_id == "send0")
        b = next(r for r in outbox_rows(session, ids[1]) if r.node_id == "send0")
        assert (a.status, a.reason) == ("pending", "deferred:frequency_cap:sms:7/7d")
        # The other debt's seven texts do not count against this one; the person's gap holds.
        assert b.status == "sandboxed"
        assert case_row(session, "US-B").contact_prefs == {"consent": {"sms": True}}


def test_the_persons_history_is_two_indexed_queries_per_batch(
    db: Database, clock: VirtualClock
) -> None:
    """Issue 17: the guard's history of every person in a batch is read at once, by index."""
    from sqlalchemy import event

    with db.transaction() as session:
        version = publish(session, daily_doc(2), clock.now)
        for person in range(4):
            for invoice in range(3):
                make_case(
                    session,
                    version,
                    clock.now,
                    external_id=f"P{person}-{invoice}",
                    debtor_id=f"CUST-{person}",
                )
        make_case(session, version, clock.now, external_id="ALONE")
    Runtime(db).tick(clock.now)
    persons: list[tuple[str, Any]] = []
    messages: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "FROM cases" in statement and "cases.debtor_id IN" in statement:
            persons.append((statement, params))
        if "FROM outbox" in statement and "outbox.case_id IN" in statement:
            messages.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", grab)
    try:
        dispatcher = SandboxDispatcher(db, portal_base_url=PORTAL, batch_size=100)
        report = dispatcher.dispatch(clock.now)
        dispatcher.close()
    finally:
        event.remove(db.engine, "before_cursor_execute", grab)

    assert report.sent + report.deferred == 13
    # One read of the persons' cases and one of their messages for the batch, and once more
    # after it handed messages over (the dispatcher looks at the due rows again): never one
    # per case or per person.
    assert 1 <= len(persons) == len(messages) <= 2
    if db.engine.dialect.name == "sqlite":
        with db.engine.connect() as conn:
            steps = " ".join(
                str(row[-1])
                for statement, params in (persons[0], messages[0])
                for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)
            )
        assert "ix_outbox_person" in steps and "ix_cases_debtor_id" in steps
