"""Simulation: the real engine on a virtual clock, several at once in one process."""

from __future__ import annotations

import threading

import pytest

import engine.run.runtime
from engine.simulation import SimulationResult, simulate
from tests.factories import journey_doc, template


def test_simulations_in_threads_at_once_all_succeed() -> None:
    results: list[SimulationResult] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def run() -> None:
        start.wait()
        try:
            results.append(simulate(journey_doc(), cases=5, days=2, step_hours=12))
        except BaseException as exc:  # counted and shown below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [r.cases for r in results] == [5] * 8


RENDER_FAILURE = (
    "template 'reminder' (en-GB, tone 1) failed to render: integer division or modulo by zero"
)


def failing_template() -> dict:
    """A journey whose template passes validation but fails for every case at render."""
    return journey_doc(templates={"reminder": template(body="Pay {{ 1 // 0 }}")})


def test_render_failures_are_reported_not_hidden_behind_closed_cases() -> None:
    result = simulate(failing_template(), cases=20, days=5, seed=1)

    assert result.messages == {}
    assert result.failed == {RENDER_FAILURE: 20 - result.suppressed["no_address"]}
    assert result.to_json()["failed"] == dict(result.failed)


def test_engine_errors_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine.run.runtime, "MAX_STEPS_PER_TICK", 1)

    result = simulate(journey_doc(), cases=10, days=2, seed=1)

    assert result.errors == {"RuntimeError: too many steps in one tick (a loop?)": 10}
    assert result.outcomes == {"open:stopped": 10}
    assert result.to_json()["errors"] == dict(result.errors)


def test_the_webhook_column_counts_every_case_that_passed_a_webhook_step() -> None:
    """Issue 16, point 14: the CLI's webhook column was always 0."""
    from tests.factories import edge, node

    nodes = [
        node("start", "start"),
        node("tell", "webhook", event="case_escalated", note="Notify host system"),
        node("done", "end", outcome="closed"),
    ]
    doc = journey_doc(nodes, [edge("start", "tell"), edge("tell", "done")])
    result = simulate(doc, cases=12, days=1, step_hours=12)
    assert result.messages["webhook"] == 12
    assert sum(day["messages"].get("webhook", 0) for day in result.per_day) == 12


@pytest.mark.parametrize(
    ("name", "country", "prefix", "cities"),
    [
        (
            "us-agency-regf",
            "US",
            "+1",
            {"San Francisco", "New York", "Dallas", "Chicago", "Boston"},
        ),
        (
            "uk-arrears-forbearance",
            "GB",
            "+44",
            {"Manchester", "Birmingham", "Leeds", "Bristol", "London"},
        ),
        ("de-shop-b2c", "DE", "+49", {"München", "Köln", "Hamburg", "Stuttgart", "Berlin"}),
    ],
)
def test_the_synthetic_portfolio_is_believable_per_country(
    name: str, country: str, prefix: str, cities: set[str]
) -> None:
    """Issue 16, point 15: US and UK debtors lived in 'Musterweg, 10115 Berlin'."""
    import random
    from datetime import date

    from engine.simulation import synthetic_cases
    from tests.factories import example_doc

    doc = example_doc(name)
    cases = synthetic_cases(doc, 40, random.Random(1), date(2026, 1, 5))
    assert {c["country"] for c in cases} == {country}
    assert {c["city"] for c in cases} <= cities
    assert all(c["phone"].startswith(prefix) for c in cases if c["phone"])
    assert not any(
        "Musterweg" in (c["street"] or "") or c["debtor_name"].startswith("Debtor") for c in cases
    )
    for c in cases:
        creditor = c["attributes"].get("original_creditor")
        assert creditor is None or creditor not in ("standard", "premium")


def test_debtor_spread_has_the_asked_mean_and_a_tail() -> None:
    """Issue 17: most persons owe one to three invoices, a few many."""
    import random
    from collections import Counter

    from engine.simulation import debtor_spread

    owners = debtor_spread(30_000, 3, random.Random(5))
    sizes = Counter(Counter(owners).values())
    assert len(owners) == 30_000
    assert 2.8 < len(owners) / len(set(owners)) < 3.2
    assert sizes[1] > sizes[2] > sizes[5] > 0 and max(sizes) >= 10
    assert set(debtor_spread(50, 1, random.Random(5))) == set(range(1, 51))


def test_a_simulation_with_debtors_counts_each_persons_messages_together() -> None:
    """Issue 17: the cases of a simulated person share their data and their contact limits."""
    from sqlalchemy import func, select

    from engine import Database
    from engine.storage.models import CaseRow, DebtorRow
    from tests.factories import example_doc

    doc = example_doc("minimal")
    db = Database("sqlite:///:memory:")
    plain = simulate(doc, cases=60, days=10, seed=3)
    shared = simulate(doc, cases=60, days=10, seed=3, cases_per_debtor=3, db=db)
    with db.transaction() as session:
        debtors = session.scalar(select(func.count()).select_from(DebtorRow))
        emails = session.execute(
            select(CaseRow.debtor_id, func.count(func.distinct(CaseRow.email))).group_by(
                CaseRow.debtor_id
            )
        ).all()
    db.dispose()

    assert debtors is not None and 10 <= debtors < 40
    assert all(count <= 1 for _, count in emails)  # one person, one address
    assert not shared.errors and not shared.failed
    # One person's reminders for several invoices keep their gaps: not all go out at once.
    assert sum(shared.per_day[i]["messages"].get("email", 0) for i in range(8)) < sum(
        plain.per_day[i]["messages"].get("email", 0) for i in range(8)
    )


def test_fees_and_interest_are_counted_in_the_collected_amounts() -> None:
    from tests.engine.nodes.test_fee import fee_doc

    with_charges = simulate(fee_doc(), cases=60, days=12, seed=3)
    plain = fee_doc()
    plain["nodes"] = [n for n in plain["nodes"] if n["type"] != "fee"]
    plain["edges"] = [e for e in plain["edges"] if e["from"] != "fee"]
    for e in plain["edges"]:
        if e["to"] == "fee":
            e["to"] = "demand"
    del plain["settings"]
    without = simulate(plain, cases=60, days=12, seed=3)

    result = with_charges.to_json()
    assert with_charges.collected_fees > 0 and with_charges.collected_interest > 0
    assert result["collected_fees"] == str(with_charges.collected_fees)
    assert "collected_fees" not in without.to_json()  # a journey without charges reads as before
    principal_paid = (
        with_charges.collected - with_charges.collected_fees - with_charges.collected_interest
    )
    assert principal_paid > 0


def pre_due_doc() -> dict:
    """start -> wait until D-5 -> a friendly email -> wait until D+3 -> an email -> end."""
    from tests.factories import edge, node

    return journey_doc(
        key="pre-due",
        nodes=[
            node("start", "start"),
            node("d5", "wait", mode="due_date", days=-5),
            node("early", "send", channel="email", template="reminder"),
            node("d3", "wait", mode="due_date", days=3),
            node("late", "send", channel="email", template="reminder"),
            node("done", "end", outcome="closed"),
        ],
        edges=[
            edge("start", "d5"),
            edge("d5", "early"),
            edge("early", "d3"),
            edge("d3", "late"),
            edge("late", "done"),
        ],
    )


def test_pre_due_steps_fire_before_the_due_date_not_on_day_one() -> None:
    import random
    from datetime import date

    from engine.simulation import DEFAULT_START, PRE_DUE_SPREAD, pre_due_days, synthetic_cases

    doc = pre_due_doc()
    result = simulate(doc, cases=40, days=20, seed=3, step_hours=6)

    assert pre_due_days(doc) == 5 and result.to_json()["pre_due_days"] == 5
    early = [d["messages"].get("email", 0) for d in result.per_day[:7]]
    # Each case's D-5 email goes out five days before its own due date (5 to 11 days ahead):
    # spread over the first week, not all on day one.
    assert sum(1 for n in early if n) >= 4 and early[0] < sum(early) / 2
    cases = synthetic_cases(doc, 40, random.Random(3), date(2026, 1, 5), extra=random.Random(1))
    leads = {(c["due_date"] - date(2026, 1, 5)).days for c in cases}
    assert min(leads) >= 5 and max(leads) <= 5 + PRE_DUE_SPREAD and len(leads) > 1
    assert DEFAULT_START.date() == date(2026, 1, 5)


def test_a_journey_without_pre_due_steps_keeps_its_overdue_portfolio() -> None:
    import random
    from datetime import date

    from engine.simulation import synthetic_cases

    start = date(2026, 1, 5)
    cases = synthetic_cases(journey_doc(), 30, random.Random(1), start)
    assert {(start - c["due_date"]).days for c in cases} <= {0, 1, 2}


def us_sms_doc() -> dict:
    from tests.factories import edge, node

    return journey_doc(
        key="us-sms",
        jurisdiction="US",
        currency="USD",
        locale="en-US",
        templates={"text": template(channel="sms", body="Please pay.", locale="en-US")},
        nodes=[
            node("start", "start"),
            node("text", "send", channel="sms", template="text"),
            node("wait", "wait", mode="duration", days=3),
            node("done", "end", outcome="closed"),
        ],
        edges=[edge("start", "text"), edge("text", "wait"), edge("wait", "done")],
    )


def test_us_sms_goes_out_to_the_share_with_consent_and_is_suppressed_for_the_rest() -> None:
    result = simulate(us_sms_doc(), cases=60, days=5, seed=2, step_hours=2)

    consented = result.consented["sms"]
    assert 0 < consented < 60 and result.to_json()["consented"]["sms"] == consented
    assert result.messages["sms"] > 0 and result.suppressed["no_consent"] > 0
    # Only a debtor with consent and a phone number is texted.
    assert result.messages["sms"] <= consented


def test_no_consent_share_suppresses_every_us_sms_as_before() -> None:
    result = simulate(us_sms_doc(), cases=30, days=5, seed=2, step_hours=2, consent={"sms": 0})

    assert result.messages.get("sms", 0) == 0 and result.consented == {}
    assert result.suppressed["no_consent"] > 0


def test_a_consent_share_outside_0_to_1_is_refused() -> None:
    with pytest.raises(ValueError, match="consent share for 'sms'"):
        simulate(us_sms_doc(), cases=1, days=1, consent={"sms": 1.5})
