"""The one place that imports durable_rules: a stateless, locked evaluator per process."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from typing import Any

from durable import engine as durable_engine

from engine.rules.model import UNMATCHED

BATCH = 1000


class _QuietHost(durable_engine.Host):
    """durable's Host without its background threads, which may run actions on their own."""

    def __init__(self, hits: dict[int, str]) -> None:
        self._hits = hits
        super().__init__()

    def _run(self) -> None:
        """Start no timers: we only post events and read the fired rule synchronously."""

    def get_action(self, action_name: str) -> Any:
        hits = self._hits

        # The action only records which rule fired; it never touches the shared state.
        def record(c: Any) -> None:
            hits[c.m["id"]] = action_name

        return record


class Evaluator:
    """Posts case messages to a ruleset and answers which rule fired for each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: dict[int, str] = {}
        self._host = _QuietHost(self._hits)
        self._loaded: set[str] = set()
        self._ids = itertools.count(1)

    def ensure(self, definition: dict[str, Any]) -> None:
        """Register rulesets not seen yet; names carry a content hash, so a name is its rules."""
        with self._lock:
            fresh = {k: v for k, v in definition.items() if k not in self._loaded}
            if fresh:
                self._host.register_rulesets(_copy(fresh))
                self._loaded.update(fresh)

    def evaluate(self, ruleset: str, messages: Sequence[dict[str, Any]]) -> list[str | None]:
        """The id of the rule that fired for each message (None where none did)."""
        results: list[str | None] = []
        with self._lock:
            for start in range(0, len(messages), BATCH):
                chunk = messages[start : start + BATCH]
                ids = [next(self._ids) for _ in chunk]
                posted = [{**m, "id": i} for m, i in zip(chunk, ids, strict=True)]
                self._host.post_batch(ruleset, posted)
                for i in ids:
                    hit = self._hits.pop(i, None)
                    results.append(None if hit in (None, UNMATCHED) else hit)
        return results


def _copy(definition: dict[str, Any]) -> dict[str, Any]:
    """durable mutates the definition it is given (it deletes 'run'); hand it a copy."""
    return {
        name: {rid: dict(rule) for rid, rule in rules.items()} for name, rules in definition.items()
    }


_EVALUATOR: Evaluator | None = None
_EVALUATOR_LOCK = threading.Lock()


def get_evaluator() -> Evaluator:
    """The process-wide evaluator (durable's C core is global and unlocked)."""
    global _EVALUATOR
    with _EVALUATOR_LOCK:
        if _EVALUATOR is None:
            _EVALUATOR = Evaluator()
        return _EVALUATOR
