"""Large journeys: split into rulesets durable_rules can take, and a tested maximum.

durable_rules spins forever (CPU-bound, inside its C core) on a ruleset with more than 511
different tests below one test; anything that could do so runs in a child process here, with a
timeout, so a regression fails the test instead of hanging the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from engine.authoring.validation import validate_document
from engine.rules.compiler import MAX_NODES, NODES_PER_RULESET
from tests.factories import edge, journey_doc, node

ROOT = Path(__file__).resolve().parents[3]


def chain(count: int) -> dict[str, Any]:
    """A valid journey of exactly `count` nodes: start, waits of a day, end."""
    nodes, edges, previous = [node("start", "start")], [], "start"
    for i in range(count - 2):
        nodes.append(node(f"w{i}", "wait", mode="duration", days=1))
        edges.append(edge(previous, f"w{i}"))
        previous = f"w{i}"
    nodes.append(node("done", "end", outcome="closed"))
    edges.append(edge(previous, "done"))
    return journey_doc(nodes=nodes, edges=edges, templates={})


def wide_condition(values: int) -> dict[str, Any]:
    """start -> a condition whose one branch tests `values` values -> end."""
    when = [{"field": "country", "op": "in", "value": [f"C{i}" for i in range(values)]}]
    nodes = [
        node("start", "start"),
        node("check", "condition", branches=[{"port": "known", "when": when}]),
        node("done", "end", outcome="closed"),
    ]
    edges = [edge("start", "check"), edge("check", "done", "known"), edge("check", "done", "else")]
    return journey_doc(nodes=nodes, edges=edges, templates={})


def isolated(code: str, timeout: float = 30) -> Any:
    """Run `code` in a child process; what it prints last is read as JSON."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_journey_at_the_maximum_registers_within_a_second_and_every_node_matches() -> None:
    found = isolated(
        f"""
        import json, time
        from engine.journey.document import load_journey
        from engine.rules.compiler import compile_journey
        from engine.rules.evaluator import Evaluator
        from tests.engine.rules.test_large_journeys import chain

        compiled = compile_journey(load_journey(chain({MAX_NODES})), 1)
        evaluator = Evaluator()
        started = time.perf_counter()
        evaluator.ensure(compiled.definition())
        took = time.perf_counter() - started
        fired = {{}}
        for i in range({MAX_NODES} - 2):
            at = f"w{{i}}"
            message = {{"node": at, "trigger": "timer"}}
            fired[at] = evaluator.evaluate(compiled.ruleset_for(at), [message])[0]
        print(json.dumps({{"took": took, "rulesets": len(compiled.definition()), "fired": fired}}))
        """
    )
    assert found["took"] < 1.0
    assert found["rulesets"] == -(-MAX_NODES // NODES_PER_RULESET)
    assert found["fired"] == {f"w{i}": f"w{i}:timer:0" for i in range(MAX_NODES - 2)}


def test_a_case_advances_at_a_node_in_a_later_ruleset_of_a_large_journey() -> None:
    found = isolated(
        """
        import json
        from datetime import UTC, datetime, timedelta
        from sqlalchemy import update
        from engine import Database, Runtime
        from engine.storage.models import CaseRow
        from tests.engine.rules.test_large_journeys import chain
        from tests.factories import case_row, make_case, publish

        now = datetime(2026, 3, 2, 9, tzinfo=UTC)
        db = Database("sqlite:///:memory:")
        db.create_all()
        with db.transaction() as session:
            version = publish(session, chain(1200), now)
            first = make_case(session, version, now).external_id
            later = make_case(session, version, now)
            later_id = later.external_id
            session.flush()
            session.execute(
                update(CaseRow)
                .where(CaseRow.id == later.id)
                .values(node_id="w1000", visits=1, timer_at=now, due_at=now)
            )
        report = Runtime(db).tick(now)
        with db.transaction() as session:
            nodes = [case_row(session, e).node_id for e in (first, later_id)]
        print(json.dumps({"nodes": nodes, "errors": report.errors}))
        """
    )
    assert found == {"nodes": ["w0", "w1001"], "errors": 0}


def test_the_evaluator_refuses_a_ruleset_durable_would_hang_on() -> None:
    found = isolated(
        """
        import json
        from engine.rules.evaluator import Evaluator
        from engine.rules.limits import RulesetTooLarge

        rules = {
            f"r{i}": {"all": [{"m": {"$and": [{"node": f"n{i}"}, {"trigger": "timer"}]}}]}
            for i in range(600)
        }
        try:
            Evaluator().ensure({"too-wide": rules})
        except RulesetTooLarge as exc:
            print(json.dumps(str(exc)))
        """,
        timeout=20,
    )
    assert found == "ruleset too-wide has 600 different tests below one; durable takes 511"


def test_a_journey_above_the_maximum_is_refused_by_validation_naming_the_limit() -> None:
    assert validate_document(chain(MAX_NODES))[1] == []

    problems = validate_document(chain(MAX_NODES + 1))[1]

    assert MAX_NODES == 2000
    assert [(p.node, p.text("en"), p.text("de")) for p in problems] == [
        (
            None,
            "The journey has 2001 nodes; the rules engine takes at most 2000. "
            "Split it into several journeys.",
            "Die Strecke hat 2.001 Schritte; die Regel-Engine nimmt höchstens 2.000. "
            "Teilen Sie sie in mehrere Strecken auf.",
        )
    ]


def test_a_node_testing_more_values_than_durable_takes_is_refused_naming_the_node() -> None:
    assert validate_document(wide_condition(500))[1] == []

    problems = validate_document(wide_condition(600))[1]

    assert [(p.node, p.text("en")) for p in problems] == [
        (
            "check",
            "This node tests 600 values at one point; the rules engine takes at most 511. "
            "Use fewer values or branches, or several nodes one after another.",
        )
    ]
