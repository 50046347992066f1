"""Tasks in the simulation: agents work a capacity per queue per day, outcomes by their shares."""

from __future__ import annotations

import pytest

from engine.simulation import check_task_outcomes, simulate
from tests.engine.nodes.test_task import call_doc


def test_tasks_beyond_the_capacity_wait_for_the_next_day() -> None:
    result = simulate(call_doc(due_days=5), cases=40, days=4, agents=5)
    tasks = result.tasks
    assert tasks["created"] > 10  # the cases with a phone number
    per_day = [d.get("tasks", {}).get("worked", 0) for d in result.per_day]
    assert per_day == [5, 5, 5, 5]  # never more than the capacity on a day
    assert tasks["worked"] == 20
    assert sum(tasks[o] for o in ("done", "not_reached", "promise_taken", "escalate")) == 20
    assert tasks["not_worked"] == tasks["created"] - 20
    assert result.to_json()["tasks"] == dict(sorted(tasks.items()))


def test_outcome_shares_are_parameters() -> None:
    result = simulate(call_doc(), cases=20, days=2, task_outcomes={"escalate": 1.0})
    assert result.tasks["escalate"] == result.tasks["worked"] > 0
    assert result.outcomes["handed_over"] == result.tasks["escalate"]


def test_no_agents_let_every_task_time_out() -> None:
    result = simulate(call_doc(due_days=1), cases=20, days=3, agents=0)
    assert result.tasks["worked"] == 0 and result.tasks["created"] > 0
    # Every case times out: those with a task nobody worked, and those without a phone number
    # (their call was suppressed, so no task was made).
    assert result.outcomes["handed_over"] == 20
    assert result.suppressed["no_address"] == 20 - result.tasks["created"]


@pytest.mark.parametrize(
    ("shares", "words"),
    [
        ({"paid": 1.0}, "unknown outcome 'paid'"),
        ({"done": 1.5}, "between 0 and 1"),
        ({"done": 0.5}, "add up to 1"),
    ],
)
def test_wrong_shares_are_refused_in_words(shares: dict[str, float], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        check_task_outcomes(shares)
