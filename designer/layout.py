"""Auto-arrange: a layered left-to-right layout computed from the document's graph.

Pure: layer = longest path from the start (ignoring edges that close a loop), rows within a layer
ordered by the mean row of their parents so wires cross less.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

COLUMN, ROW, LEFT, TOP = 260, 150, 40, 40


def arrange(doc: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Node id -> position {x, y} for every node of the document."""
    ids = [n["id"] for n in doc.get("nodes") or []]
    children: dict[str, list[str]] = defaultdict(list)
    for edge in doc.get("edges") or []:
        if edge.get("from") in ids and edge.get("to") in ids:
            children[edge["from"]].append(edge["to"])
    roots = [n["id"] for n in doc["nodes"] if n.get("type") == "start"] or ids[:1]
    layer = _layers(ids, children, roots)
    columns: dict[int, list[str]] = defaultdict(list)
    for node_id in ids:
        columns[layer[node_id]].append(node_id)
    rows: dict[str, float] = {}
    for col in sorted(columns):
        parents = _parents(children)
        ordered = sorted(
            columns[col],
            key=lambda n: _mean([rows[p] for p in parents[n] if p in rows], ids.index(n)),
        )
        for row, node_id in enumerate(ordered):
            rows[node_id] = row
    return {n: {"x": LEFT + layer[n] * COLUMN, "y": TOP + rows[n] * ROW} for n in ids}


def _layers(ids: list[str], children: dict[str, list[str]], roots: list[str]) -> dict[str, int]:
    """Longest-path layers over the graph without its back edges (found by depth-first search)."""
    back, state = set(), dict.fromkeys(ids, 0)  # 0 new, 1 on the stack, 2 done

    def visit(node: str) -> None:
        state[node] = 1
        for child in children[node]:
            if state[child] == 1:
                back.add((node, child))
            elif state[child] == 0:
                visit(child)
        state[node] = 2

    for root in roots + ids:
        if state[root] == 0:
            visit(root)
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
    ready = [n for n in ids if incoming[n] == 0]
    order = []
    while ready:
        node = ready.pop(0)
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
