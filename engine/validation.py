"""Journey validation: every problem names the node and field in a manager's words."""

from __future__ import annotations

from collections import defaultdict, deque
from typing import Any

from marshmallow import Schema, ValidationError

from engine.document import Journey, load_journey
from engine.fields import field_type
from engine.nodes import NODE_TYPES
from engine.nodes.base import NodeType, Problem
from engine.templating import template_problems


def validate_document(doc: Any) -> tuple[Journey | None, list[Problem]]:
    """Parse and check a journey document; returns the journey (when it parses) and problems."""
    if not isinstance(doc, dict):
        return None, [Problem("The document must be a JSON object.")]
    try:
        journey = load_journey(doc)
    except ValidationError as exc:
        return None, _shape_problems(exc.messages, doc)
    return journey, validate_journey(journey)


def validate_journey(journey: Journey) -> list[Problem]:
    """All graph, params, field and template problems of a parsed journey."""
    problems = _params_problems(journey)
    if problems:  # the graph checks need valid params to know each node's ports
        return problems
    problems += _wiring_problems(journey)
    problems += _reachability_problems(journey)
    problems += _loop_problems(journey)
    problems += _field_problems(journey)
    problems += _template_problems(journey)
    for node in journey.nodes:
        problems += NODE_TYPES[node.type].check(node, journey)
    return problems


def _shape_problems(messages: Any, doc: dict[str, Any]) -> list[Problem]:
    """Turn marshmallow's nested error dict into problems naming node and field."""
    problems: list[Problem] = []
    nodes = doc.get("nodes") if isinstance(doc.get("nodes"), list) else []

    def walk(path: list[str], value: Any) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk([*path, str(key)], sub)
            return
        text = "; ".join(value) if isinstance(value, list) else str(value)
        node = None
        if len(path) >= 2 and path[0] == "nodes" and path[1].isdigit():
            index = int(path[1])
            raw = nodes[index] if index < len(nodes) and isinstance(nodes[index], dict) else {}
            node = str(raw.get("id", f"#{index + 1}"))
            path = path[2:]
        problems.append(Problem(text, node, ".".join(path) or None))

    walk([], messages)
    return problems


_SCHEMAS: dict[str, Schema] = {}


def _schema(node_type: NodeType) -> Schema:
    """One params schema instance per node type (schemas are stateless between loads)."""
    found = _SCHEMAS.get(node_type.name)
    if found is None or type(found) is not node_type.params_schema:
        found = _SCHEMAS[node_type.name] = node_type.params_schema()
    return found


def _params_problems(journey: Journey) -> list[Problem]:
    problems = []
    seen: set[str] = set()
    for node in journey.nodes:
        if node.id in seen:
            problems.append(Problem("Two nodes have this id.", node.id, "id"))
        seen.add(node.id)
        node_type = NODE_TYPES.get(node.type)
        if node_type is None:
            known = ", ".join(NODE_TYPES)
            problems.append(Problem(f"Unknown node type '{node.type}' ({known}).", node.id, "type"))
            continue
        errors = _schema(node_type).validate(node.params)
        for found in _shape_problems(errors, {}):
            where = f"params.{found.field}" if found.field else "params"
            problems.append(Problem(found.message, node.id, where))
    starts = [n.id for n in journey.nodes if n.type == "start"]
    if len(starts) != 1:
        problems.append(Problem(f"A journey needs exactly one start node, it has {len(starts)}."))
    return problems


def _wiring_problems(journey: Journey) -> list[Problem]:
    problems = []
    nodes = journey.nodes_by_id()
    wired: dict[tuple[str, str], int] = defaultdict(int)
    for edge in journey.edges:
        if edge.source not in nodes:
            problems.append(
                Problem(f"A connection starts at unknown node '{edge.source}'.", None, "edges")
            )
            continue
        if edge.target not in nodes:
            problems.append(
                Problem(
                    f"The '{edge.port}' way leads to unknown node '{edge.target}'.",
                    edge.source,
                    "edges",
                )
            )
        ports = {
            p.name for p in NODE_TYPES[nodes[edge.source].type].ports(nodes[edge.source].params)
        }
        if edge.port not in ports:
            problems.append(
                Problem(f"This node has no output '{edge.port}'.", edge.source, "edges")
            )
        wired[(edge.source, edge.port)] += 1
    for node in journey.nodes:
        for port in NODE_TYPES[node.type].ports(node.params):
            count = wired.get((node.id, port.name), 0)
            if count == 0:
                problems.append(
                    Problem(
                        f"The '{port.label}' way is not connected to a next step.",
                        node.id,
                        f"port.{port.name}",
                    )
                )
            elif count > 1:
                problems.append(
                    Problem(
                        f"The '{port.label}' way is connected {count} times; connect it once.",
                        node.id,
                        f"port.{port.name}",
                    )
                )
    return problems


def _graph(journey: Journey) -> dict[str, list[str]]:
    nodes = journey.nodes_by_id()
    graph: dict[str, list[str]] = {n: [] for n in nodes}
    for e in journey.edges:
        if e.source in nodes and e.target in nodes:
            graph[e.source].append(e.target)
    return graph


def _reach(graph: dict[str, list[str]], roots: list[str]) -> set[str]:
    seen, queue = set(roots), deque(roots)
    while queue:
        for nxt in graph[queue.popleft()]:
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def _reachability_problems(journey: Journey) -> list[Problem]:
    graph = _graph(journey)
    starts = [n.id for n in journey.nodes if n.type == "start"]
    reachable = _reach(graph, starts)
    reverse: dict[str, list[str]] = {n: [] for n in graph}
    for src, targets in graph.items():
        for t in targets:
            reverse[t].append(src)
    ends = [n.id for n in journey.nodes if n.type == "end"]
    if not ends:
        return [Problem("The journey has no end node; every case needs a way to finish.")]
    finishing = _reach(reverse, ends)
    problems = []
    for node in journey.nodes:
        if node.id not in reachable:
            problems.append(Problem("No way from the start leads to this node.", node.id))
        elif node.id not in finishing:
            problems.append(Problem("From this node there is no way to an end.", node.id))
    return problems


def _loop_problems(journey: Journey) -> list[Problem]:
    """A cycle made only of nodes that do not park would spin forever in one tick."""
    instant = {n.id for n in journey.nodes if not NODE_TYPES[n.type].parks}
    graph = {
        n: [t for t in ts if t in instant] for n, ts in _graph(journey).items() if n in instant
    }
    problems, reported = [], set()
    for node_id in sorted(graph):
        if node_id in reported:
            continue
        if node_id in _reach(graph, graph[node_id]):
            cycle = sorted(n for n in _reach(graph, [node_id]) if node_id in _reach(graph, [n]))
            reported.update(cycle)
            names = ", ".join(f"'{n}'" for n in cycle)
            problems.append(
                Problem(f"These steps form a loop without a wait: {names}. Add a wait.", node_id)
            )
    return problems


def _field_problems(journey: Journey) -> list[Problem]:
    problems = []
    for node in journey.nodes:
        for path, clause in _clauses(node.type, node.params):
            kind = field_type(clause["field"], journey.attributes)
            if kind is None:
                problems.append(
                    Problem(f"Unknown case field '{clause['field']}'.", node.id, f"{path}.field")
                )
                continue
            values = clause["value"] if clause["op"] in ("in", "not_in") else [clause["value"]]
            if not isinstance(values, list):
                problems.append(Problem("Give a list of values.", node.id, f"{path}.value"))
                continue
            if not all(_fits(kind, v) for v in values):
                problems.append(
                    Problem(
                        f"'{clause['field']}' is a {kind}; the value {clause['value']!r} is not.",
                        node.id,
                        f"{path}.value",
                    )
                )
            if kind != "number" and clause["op"] in ("gt", "gte", "lt", "lte"):
                problems.append(
                    Problem(
                        f"'{clause['field']}' is a {kind}; it cannot be above or below.",
                        node.id,
                        f"{path}.op",
                    )
                )
    return problems


def _clauses(kind: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    if kind == "start":
        return [(f"params.filter.{i}", c) for i, c in enumerate(params.get("filter") or [])]
    if kind == "condition":
        return [
            (f"params.branches.{b}.when.{i}", c)
            for b, branch in enumerate(params.get("branches") or [])
            for i, c in enumerate(branch.get("when") or [])
        ]
    return []


def _fits(kind: str, value: Any) -> bool:
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    return isinstance(value, str)


def _template_problems(journey: Journey) -> list[Problem]:
    problems = []
    for template in journey.templates.values():
        for variant in template.variants:
            where = f"templates.{template.key}.{variant.locale}.tone{variant.tone}"
            for part in ("subject", "body", "html"):
                source = getattr(variant, part)
                for text in template_problems(source) if source else []:
                    problems.append(
                        Problem(f"Template '{template.key}': {text}.", None, f"{where}.{part}")
                    )
    return problems
