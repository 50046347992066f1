"""The one place that imports durable_rules: a stateless, locked evaluator per process.

We drive durable's C core directly instead of its Python Host: the Host starts background
threads that may run actions on their own, and its per-action Python objects cost more than
the matching itself. Every message gets a unique id; for each fired rule we only note which
rule took which message, and we never write to the session's state. A catch-all rule consumes
messages no other rule took, so nothing piles up in the engine. Every rule is registered with
a `cap`, so that one action hands over all of a batch's matches of that rule at once instead of
one action (and one round trip through the C core) per message.

`ensure` refuses a ruleset durable would spin on forever under our lock (engine/rules/limits.py),
so no input can block the other journeys of the process.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Sequence
from typing import Any

import durable_rules_engine as core

from engine.rules.limits import check_shape
from engine.rules.model import UNMATCHED

BATCH = 1000


class Evaluator:
    """Posts case messages to a ruleset and answers which rule fired for each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handles: dict[str, int] = {}
        self._ids = itertools.count(1)

    def ensure(self, definition: dict[str, Any]) -> None:
        """Register rulesets not seen yet; names carry a content hash, so a name is its rules."""
        for name, rules in definition.items():  # all of them first: register all or none
            check_shape(name, rules)
        with self._lock:
            for name, rules in definition.items():
                if name not in self._handles:
                    # durable keeps no 'run' entries in the core; actions are ours.
                    body = {
                        rid: {**{k: v for k, v in rule.items() if k != "run"}, "cap": BATCH}
                        for rid, rule in rules.items()
                    }
                    self._handles[name] = core.create_ruleset(name, json.dumps(body))

    def evaluate(self, ruleset: str, messages: Sequence[dict[str, Any]]) -> list[str | None]:
        """The id of the rule that fired for each message (None where none did)."""
        results: list[str | None] = []
        with self._lock:
            handle = self._handles[ruleset]
            for start in range(0, len(messages), BATCH):
                chunk = messages[start : start + BATCH]
                first = next(self._ids)
                self._ids = itertools.count(first + len(chunk))
                posted = [{**m, "id": first + i} for i, m in enumerate(chunk)]
                fired = _post(handle, posted)
                for i in range(len(chunk)):
                    hit = fired.get(first + i)
                    results.append(None if hit in (None, UNMATCHED) else hit)
        return results


def _post(handle: int, messages: list[dict[str, Any]]) -> dict[int, str]:
    """Assert a batch of events and drain the actions they fire: message id -> rule id."""
    fired: dict[int, str] = {}
    result = core.assert_events(handle, json.dumps(messages, ensure_ascii=False))
    state = result[1]
    action = core.start_action_for_state(handle, state)
    if not action:
        return fired
    payload = action[1]
    while payload:
        for rule_id, matches in json.loads(payload).items():
            for match in matches if isinstance(matches, list) else (matches,):
                message = match.get("m", match)
                # A message is consumed by the first rule that takes it; keep that one.
                fired.setdefault(message["id"], rule_id)
        payload = core.complete_and_start_action(handle, state)
    return fired


_EVALUATOR: Evaluator | None = None
_EVALUATOR_LOCK = threading.Lock()


def get_evaluator() -> Evaluator:
    """The process-wide evaluator (durable's C core is global and unlocked)."""
    global _EVALUATOR
    with _EVALUATOR_LOCK:
        if _EVALUATOR is None:
            _EVALUATOR = Evaluator()
        return _EVALUATOR
