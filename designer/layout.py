"""Auto-arrange: a layered left-to-right layout computed from the document's graph.

Pure: layer = longest path from the start (ignoring edges that close a loop), rows within a layer
ordered by the mean row of their parents so wires cross less.
"""

from __future__ import annotations

from collections import defaultdict, deque
from typing import Any

COLUMN, ROW, LEFT, TOP = 260, 150, 40, 40


def arrange(doc: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Node id -> position {x, y} for every node of the document (nodes without an id, and
    edges naming no node, are left out). Iterative and linear: a 10,000-step chain is fine."""
    nodes = [n for n in doc.get("nodes") or [] if isinstance(n, dict)]
    ids = list(dict.fromkeys(n["id"] for n in nodes if isinstance(n.get("id"), str)))
    known = set(ids)
    position = {node_id: index for index, node_id in enumerate(ids)}
    children: dict[str, list[str]] = defaultdict(list)
    for edge in doc.get("edges") or []:
        if not isinstance(edge, dict):
            continue
        source, target = edge.get("from"), edge.get("to")
        if isinstance(source, str) and isinstance(target, str) and {source, target} <= known:
            children[source].append(target)
    starts = [n["id"] for n in nodes if n.get("type") == "start" and n.get("id") in known]
    roots = starts or ids[:1]
    layer = _layers(ids, children, roots)
    columns: dict[int, list[str]] = defaultdict(list)
    for node_id in ids:
        columns[layer[node_id]].append(node_id)
    parents = _parents(children)
    rows: dict[str, float] = {}
    for col in sorted(columns):
        ordered = sorted(
            columns[col],
            key=lambda n: _mean([rows[p] for p in parents[n] if p in rows], position[n]),
        )
        for row, node_id in enumerate(ordered):
            rows[node_id] = row
    return {n: {"x": LEFT + layer[n] * COLUMN, "y": TOP + rows[n] * ROW} for n in ids}


def _layers(ids: list[str], children: dict[str, list[str]], roots: list[str]) -> dict[str, int]:
    """Longest-path layers over the graph without its back edges (found by depth-first search,
    with an explicit stack: no recursion limit however long the journey)."""
    back, state = set(), dict.fromkeys(ids, 0)  # 0 new, 1 on the stack, 2 done
    for root in roots + ids:
        if state[root] != 0:
            continue
        state[root] = 1
        stack = [(root, iter(children[root]))]
        while stack:
            node, pending = stack[-1]
            child = next(pending, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state[child] == 1:
                back.add((node, child))
            elif state[child] == 0:
                state[child] = 1
                stack.append((child, iter(children[child])))
    layer = dict.fromkeys(ids, 0)
    for node in _topological(ids, children, back):
        for child in children[node]:
            if (node, child) not in back:
                layer[child] = max(layer[child], layer[node] + 1)
    return layer


def _topological(ids: list[str], children: dict[str, list[str]], back: set) -> list[str]:
    incoming = dict.fromkeys(ids, 0)
    for node in ids:
        for child in children[node]:
            if (node, child) not in back:
                incoming[child] += 1
    ready = deque(n for n in ids if incoming[n] == 0)
    order = []
    while ready:
        node = ready.popleft()
        order.append(node)
        for child in children[node]:
            if (node, child) not in back:
                incoming[child] -= 1
                if incoming[child] == 0:
                    ready.append(child)
    return order


def _parents(children: dict[str, list[str]]) -> dict[str, list[str]]:
    parents: dict[str, list[str]] = defaultdict(list)
    for node, kids in list(children.items()):
        for kid in kids:
            parents[kid].append(node)
    return parents


def _mean(values: list[float], fallback: float) -> tuple[float, float]:
    return (sum(values) / len(values) if values else float("inf"), fallback)
