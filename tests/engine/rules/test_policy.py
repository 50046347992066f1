"""Policy rules: payments, disputes, cease-contact, insolvency and death, before any journey."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from engine import Database, Runtime, VirtualClock, record_event
from engine.rules import policy
from engine.rules.evaluator import get_evaluator
from engine.storage.models import VersionRow
from tests.factories import audit_rows, case_row, make_case, outbox_rows


def evaluate(trigger: str, amount_open: float = 100.0, hold_reason: str = "") -> str | None:
    evaluator = get_evaluator()
    evaluator.ensure(policy.definition())
    message = {"trigger": trigger, "amount_open": amount_open, "hold_reason": hold_reason}
    return evaluator.evaluate(policy.RULESET, [message])[0]


@pytest.mark.parametrize(
    ("trigger", "amount_open", "hold_reason", "rule"),
    [
        ("payment_received", 0.0, "", "paid_in_full"),
        ("payment_received", 0.01, "", "partial_payment"),
        ("dispute_opened", 10.0, "", "dispute"),
        ("cease_contact", 10.0, "", "cease_contact"),
        ("dispute_resolved", 10.0, "dispute", "dispute_resolved"),
        ("dispute_resolved", 10.0, "cease_contact", None),
        ("contact_resumed", 10.0, "cease_contact", "contact_resumed"),
        ("insolvency", 10.0, "", "insolvency"),
        ("deceased", 10.0, "", "deceased"),
        ("link_clicked", 10.0, "", None),
    ],
)
def test_policy_rule_for_an_event(
    trigger: str, amount_open: float, hold_reason: str, rule: str | None
) -> None:
    assert evaluate(trigger, amount_open, hold_reason) == rule


def test_every_policy_rule_action_is_one_the_runtime_knows() -> None:
    actions = {r.port.partition(":")[0] for r in policy.RULES}

    assert actions <= {"close", "hold", "release", "stop", "continue"}


# -- through the runtime -------------------------------------------------------------------


class Case:
    """A case on minimal.json with a runtime and a clock, for telling the story of one debt."""

    def __init__(self, db: Database, clock: VirtualClock, version: VersionRow) -> None:
        self.db, self.clock, self.runtime = db, clock, Runtime(db)
        with db.transaction() as session:
            self.external_id = make_case(session, version, clock.now, amount="250.00").external_id
        self._events = 0

    def tick(self, days: float = 0) -> None:
        self.clock.advance(timedelta(days=days))
        self.runtime.tick(self.clock.now)

    def event(self, kind: str, **payload: Any) -> None:
        self._events += 1
        with self.db.transaction() as session:
            record_event(
                session, self.external_id, f"e{self._events}", kind, payload, self.clock.now
            )

    def pay(self, amount: str) -> None:
        self.event("payment_received", amount=amount, currency="EUR")

    @property
    def row(self) -> Any:
        with self.db.transaction() as session:
            return case_row(session, self.external_id)

    def audit(self, kind: str) -> list[Any]:
        with self.db.transaction() as session:
            return audit_rows(session, self.row.id, kind=kind)

    def sent(self) -> list[str]:
        with self.db.transaction() as session:
            return [r.node_id for r in outbox_rows(session, self.row.id)]


@pytest.fixture
def case(db: Database, clock: VirtualClock, published: VersionRow) -> Case:
    """A 250 EUR case parked at 'Wait until D+7' (due 9 March, 08:00 UTC)."""
    story = Case(db, clock, published)
    story.tick()
    return story


def test_payment_in_full_closes_the_case_as_paid(case: Case) -> None:
    case.pay("250.00")
    case.tick(days=1)

    assert (case.row.status, case.row.outcome, case.row.amount_open) == ("closed", "paid", 0)


def test_payment_in_full_is_audited_with_the_policy_rule(case: Case) -> None:
    case.pay("250.00")
    case.tick(days=1)

    assert [a.rule for a in case.audit("policy")] == ["paid_in_full"]


def test_a_closed_case_sends_nothing_more(case: Case) -> None:
    case.pay("250.00")
    case.tick(days=1)
    for _ in range(40):
        case.tick(days=1)

    assert case.sent() == []


def test_partial_payment_lowers_the_balance(case: Case) -> None:
    case.pay("100.00")
    case.tick(days=1)

    assert (case.row.status, case.row.amount_open, case.row.node_id) == (
        "active",
        Decimal("150.00"),
        "wait_7",
    )


def test_after_a_partial_payment_the_journey_goes_on(case: Case) -> None:
    case.pay("100.00")
    case.tick(days=1)
    case.tick(days=6)

    assert (case.row.node_id, case.sent()) == ("wait_pay", ["reminder"])


def test_a_dispute_holds_the_case(case: Case) -> None:
    case.event("dispute_opened")
    case.tick(days=1)

    assert (case.row.status, case.row.hold_reason) == ("held", "dispute")


def test_a_held_case_sends_nothing_while_its_timer_passes(case: Case) -> None:
    case.event("dispute_opened")
    case.tick(days=1)
    for _ in range(10):
        case.tick(days=1)

    assert (case.row.node_id, case.sent()) == ("wait_7", [])


def test_dispute_resolved_releases_the_case(case: Case) -> None:
    case.event("dispute_opened")
    case.tick(days=1)
    case.event("dispute_resolved")
    case.tick()

    assert (case.row.status, case.row.hold_reason) == ("active", None)


def test_a_timer_that_expired_during_the_hold_fires_after_release(case: Case) -> None:
    case.event("dispute_opened")
    case.tick(days=1)
    case.tick(days=10)  # D+7 passes while the case is held
    case.event("dispute_resolved")
    case.tick()

    assert (case.row.node_id, case.sent()) == ("wait_pay", ["reminder"])


def test_a_timer_not_yet_due_at_release_waits_for_its_time(case: Case) -> None:
    case.event("dispute_opened")
    case.tick(days=1)
    case.event("dispute_resolved")
    case.tick(days=1)
    released_at = case.row.node_id
    case.tick(days=5)

    assert (released_at, case.row.node_id, case.sent()) == ("wait_7", "wait_pay", ["reminder"])


def test_cease_contact_holds_the_case(case: Case) -> None:
    case.event("cease_contact")
    case.tick(days=1)
    for _ in range(10):
        case.tick(days=1)

    assert (case.row.status, case.row.hold_reason, case.sent()) == ("held", "cease_contact", [])


def test_dispute_resolved_does_not_release_a_cease_contact_hold(case: Case) -> None:
    case.event("cease_contact")
    case.tick(days=1)
    case.event("dispute_resolved")
    case.tick()

    assert (case.row.status, case.row.hold_reason) == ("held", "cease_contact")


def test_contact_resumed_releases_a_cease_contact_hold(case: Case) -> None:
    case.event("cease_contact")
    case.tick(days=1)
    case.event("contact_resumed")
    case.tick(days=10)

    assert (case.row.status, case.sent()) == ("active", ["reminder"])


def test_a_payment_in_full_during_a_hold_closes_the_case(case: Case) -> None:
    case.event("dispute_opened")
    case.tick(days=1)
    case.pay("250.00")
    case.tick()

    assert (case.row.status, case.row.outcome) == ("closed", "paid")


@pytest.mark.parametrize("kind", ["insolvency", "deceased"])
def test_insolvency_and_death_stop_the_case_for_a_person(case: Case, kind: str) -> None:
    case.event(kind)
    case.tick(days=1)

    assert (case.row.status, case.row.hold_reason, case.row.due_at) == ("stopped", kind, None)


@pytest.mark.parametrize("kind", ["insolvency", "deceased"])
def test_a_stopped_case_sends_nothing_more(case: Case, kind: str) -> None:
    case.event(kind)
    case.tick(days=1)
    for _ in range(30):
        case.tick(days=1)

    assert case.sent() == []


def test_the_host_closing_a_case_ends_it_as_closed(case: Case) -> None:
    case.event("case_closed")
    case.tick()

    assert (case.row.status, case.row.outcome) == ("closed", "closed")


def test_an_event_after_the_closing_one_in_the_same_tick_is_ignored_and_audited(
    case: Case,
) -> None:
    case.pay("250.00")
    case.event("dispute_opened")
    case.tick()

    ignored = case.audit("event_ignored")
    assert [(a.detail["event"], a.detail["reason"]) for a in ignored] == [
        ("dispute_opened", "case is closed")
    ]
    assert case.row.status == "closed"


def test_an_event_on_a_case_closed_earlier_is_ignored_and_audited(case: Case) -> None:
    case.pay("250.00")
    case.tick()
    case.event("dispute_opened")
    case.tick(days=1)

    assert [a.detail["event"] for a in case.audit("event_ignored")] == ["dispute_opened"]


def test_an_event_on_a_case_closed_earlier_does_not_change_it(case: Case) -> None:
    case.pay("250.00")
    case.tick()
    case.event("dispute_opened")
    case.tick(days=1)

    assert (case.row.status, case.row.outcome, case.row.hold_reason) == ("closed", "paid", None)
