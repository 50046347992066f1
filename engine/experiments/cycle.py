"""The minimum runtime of an experiment: one full journey cycle after its split.

Outcomes need time to mature: a case exposed today has not had its letters and waits yet. So
no winner is named before the longest path from the split to an end has had time to run, in
days of waits along it (waits, business days as 7/5 calendar days, D+n waits up to their day,
an event wait's timeout, a promise's grace days). Loops are walked once.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

MAX_STEPS = 50_000  # paths walked; a journey is at most a few hundred nodes (rules/limits.py)


def _after(node: dict[str, Any], elapsed: float) -> float:
    """Days since the due date after passing this node, given `elapsed` on arrival."""
    params = node.get("params") or {}
    kind = node.get("type")
    if kind == "wait":
        days = float(params.get("days", 0))
        mode = params.get("mode", "duration")
        if mode == "due_date":
            return max(elapsed, days)
        if mode == "business_days":
            return elapsed + days * 7 / 5
        return elapsed + days + float(params.get("hours", 0)) / 24
    if kind == "wait_event":
        return elapsed + float(params.get("timeout_days", 0))
    if kind == "promise":
        return elapsed + float(params.get("grace_days", 2))
    return elapsed


def _longest(doc: dict[str, Any], origin: str, elapsed: float) -> float:
    """The latest day (since the due date) a path from `origin` can end."""
    nodes = {n["id"]: n for n in doc.get("nodes", [])}
    out: dict[str, list[str]] = defaultdict(list)
    for edge in doc.get("edges", []):
        out[edge["from"]].append(edge["to"])
    best, steps = elapsed, 0
    stack: list[tuple[str, float, frozenset[str]]] = [(origin, elapsed, frozenset())]
    while stack and steps < MAX_STEPS:
        node_id, at, seen = stack.pop()
        steps += 1
        node = nodes.get(node_id)
        if node is None:
            continue
        at = _after(node, at) if node_id != origin or node.get("type") != "split" else at
        best = max(best, at)
        for nxt in out[node_id]:
            if nxt not in seen:
                stack.append((nxt, at, seen | {node_id}))
    return best


def minimum_runtime(doc: dict[str, Any], split_id: str) -> float:
    """Days from a case entering the split until its longest path can have ended."""
    start = next((n["id"] for n in doc.get("nodes", []) if n.get("type") == "start"), None)
    if start is None:
        return 0.0
    # When does a case reach the split, at the latest? Walk from the start, stop at the split.
    trimmed = {**doc, "edges": [e for e in doc.get("edges", []) if e["from"] != split_id]}
    at_split = _reach(trimmed, start, split_id)
    return max(_longest(doc, split_id, at_split) - at_split, 0.0)


def _reach(doc: dict[str, Any], start: str, target: str) -> float:
    """The latest day since the due date a case can arrive at `target` (0 when unknown)."""
    nodes = {n["id"]: n for n in doc.get("nodes", [])}
    out: dict[str, list[str]] = defaultdict(list)
    for edge in doc.get("edges", []):
        out[edge["from"]].append(edge["to"])
    best, steps = 0.0, 0
    stack: list[tuple[str, float, frozenset[str]]] = [(start, 0.0, frozenset())]
    while stack and steps < MAX_STEPS:
        node_id, at, seen = stack.pop()
        steps += 1
        if node_id == target:
            best = max(best, at)
            continue
        node = nodes.get(node_id)
        if node is None:
            continue
        at = _after(node, at)
        for nxt in out[node_id]:
            if nxt not in seen:
                stack.append((nxt, at, seen | {node_id}))
    return best
