"""What durable_rules can register and match, checked before it sees a ruleset. Pure.

durable keeps the tests below one test in a hash table of 512 slots and finds a test by probing
until it meets an empty slot. With 512 different tests below one (513 rules each starting with
its own `node == ...`, or an `in` of 600 values) registering spins forever and so does matching,
CPU-bound inside its C core and so under the evaluator's lock; it also stops at 4,096 rules.
The compiler splits a journey into rulesets under these limits, validation refuses a node
wider than they allow, and the evaluator refuses any ruleset beyond them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

MAX_BRANCHES = 511  # different tests below one test: one of durable's 512 slots must stay free
MAX_RULES = 4095  # durable's limit is 4,096 actions


class RulesetTooLarge(ValueError):
    """A ruleset durable_rules would hang on or refuse."""


def widest(rules: dict[str, Any]) -> int:
    """The most different tests below one test, in rules of durable's JSON form."""
    below: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for rule in rules.values():
        for condition in rule.get("all", []):
            for expression in condition.values():
                path: tuple[str, ...] = ()
                for term in expression.get("$and", [expression]):
                    # An `$or` may put each of its alternatives below the same test: count each.
                    for alternative in term.get("$or", [term]):
                        below[path].add(json.dumps(alternative, sort_keys=True))
                    path = (*path, json.dumps(term, sort_keys=True))
    return max((len(tests) for tests in below.values()), default=0)


def check_shape(name: str, rules: dict[str, Any]) -> None:
    """Raise RulesetTooLarge unless durable can register and match this ruleset."""
    if len(rules) > MAX_RULES:
        raise RulesetTooLarge(f"ruleset {name} has {len(rules)} rules; durable takes {MAX_RULES}")
    found = widest(rules)
    if found > MAX_BRANCHES:
        raise RulesetTooLarge(
            f"ruleset {name} has {found} different tests below one; durable takes {MAX_BRANCHES}"
        )
