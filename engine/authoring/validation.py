"""Journey validation: every problem names the node and field in a manager's words."""

from __future__ import annotations

from collections import defaultdict, deque
from typing import Any

from marshmallow import Schema, ValidationError

from engine.core.messages import Joined, Text, Verbatim, from_english, msg
from engine.journey.document import Journey, load_journey
from engine.journey.fields import field_type
from engine.journey.templating import template_problems
from engine.nodes import NODE_TYPES
from engine.nodes.base import NodeType, Problem


def validate_document(doc: Any) -> tuple[Journey | None, list[Problem]]:
    """Parse and check a journey document; returns the journey (when it parses) and problems."""
    if not isinstance(doc, dict):
        return None, [Problem.of(msg("journey.not_object"))]
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
        node = None
        if len(path) >= 2 and path[0] == "nodes" and path[1].isdigit():
            index = int(path[1])
            raw = nodes[index] if index < len(nodes) and isinstance(nodes[index], dict) else {}
            node = str(raw.get("id", f"#{index + 1}"))
            path = path[2:]
        problems.append(Problem.of(_error_words(value), node, ".".join(path) or None))

    walk([], messages)
    return problems


# marshmallow and the document schema report English strings; these catalog ids read them back.
_ERROR_PREFIXES = ("field.", "document.", "wait.")


def _error_words(value: Any) -> Text:
    """marshmallow's messages for one field, each in the catalog's words where it knows them."""
    if not isinstance(value, list):
        return from_english(str(value), _ERROR_PREFIXES)
    parts = tuple(from_english(str(v), _ERROR_PREFIXES) for v in value)
    return parts[0] if len(parts) == 1 else Joined(parts)


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
            problems.append(Problem.of(msg("node.duplicate_id"), node.id, "id"))
        seen.add(node.id)
        node_type = NODE_TYPES.get(node.type)
        if node_type is None:
            known = ", ".join(NODE_TYPES)
            unknown = msg("node.unknown_type", type=node.type, known=known)
            problems.append(Problem.of(unknown, node.id, "type"))
            continue
        errors = _schema(node_type).validate(node.params)
        for found in _shape_problems(errors, {}):
            where = f"params.{found.field}" if found.field else "params"
            problems.append(Problem.of(found.words or Verbatim(found.message), node.id, where))
    starts = [n.id for n in journey.nodes if n.type == "start"]
    if len(starts) != 1:
        problems.append(Problem.of(msg("journey.start_count", count=len(starts))))
    return problems


def _wiring_problems(journey: Journey) -> list[Problem]:
    problems = []
    nodes = journey.nodes_by_id()
    wired: dict[tuple[str, str], int] = defaultdict(int)
    for edge in journey.edges:
        if edge.source not in nodes:
            unknown = msg("edge.unknown_source", node=edge.source)
            problems.append(Problem.of(unknown, None, "edges"))
            continue
        if edge.target not in nodes:
            unknown = msg("edge.unknown_target", port=edge.port, node=edge.target)
            problems.append(Problem.of(unknown, edge.source, "edges"))
        ports = {
            p.name for p in NODE_TYPES[nodes[edge.source].type].ports(nodes[edge.source].params)
        }
        if edge.port not in ports:
            no_port = msg("edge.unknown_port", port=edge.port)
            problems.append(Problem.of(no_port, edge.source, "edges"))
        wired[(edge.source, edge.port)] += 1
    for node in journey.nodes:
        for port in NODE_TYPES[node.type].ports(node.params):
            count = wired.get((node.id, port.name), 0)
            label = port.words or Verbatim(port.label)
            if count == 0:
                words = msg("port.not_connected", port=label)
            elif count > 1:
                words = msg("port.connected_many", port=label, count=count)
            else:
                continue
            problems.append(Problem.of(words, node.id, f"port.{port.name}"))
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
        return [Problem.of(msg("journey.no_end"))]
    finishing = _reach(reverse, ends)
    problems = []
    for node in journey.nodes:
        if node.id not in reachable:
            problems.append(Problem.of(msg("node.unreachable"), node.id))
        elif node.id not in finishing:
            problems.append(Problem.of(msg("node.no_way_to_end"), node.id))
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
            problems.append(Problem.of(msg("node.loop_without_wait", steps=names), node_id))
    return problems


def _field_problems(journey: Journey) -> list[Problem]:
    problems = []
    for node in journey.nodes:
        for path, clause in _clauses(node.type, node.params):
            kind = field_type(clause["field"], journey.attributes)
            if kind is None:
                unknown = msg("clause.unknown_field", field=clause["field"])
                problems.append(Problem.of(unknown, node.id, f"{path}.field"))
                continue
            values = clause["value"] if clause["op"] in ("in", "not_in") else [clause["value"]]
            if not isinstance(values, list):
                problems.append(Problem.of(msg("clause.value_not_list"), node.id, f"{path}.value"))
                continue
            kind_words = msg(f"kind.{kind}")
            if not all(_fits(kind, v) for v in values):
                wrong = msg(
                    "clause.value_wrong_type",
                    field=clause["field"],
                    kind=kind_words,
                    value=repr(clause["value"]),
                )
                problems.append(Problem.of(wrong, node.id, f"{path}.value"))
            if kind != "number" and clause["op"] in ("gt", "gte", "lt", "lte"):
                unordered = msg("clause.op_not_ordered", field=clause["field"], kind=kind_words)
                problems.append(Problem.of(unordered, node.id, f"{path}.op"))
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
                    found = from_english(text, ("template.",))
                    words = msg("template.problem", key=template.key, problem=found)
                    problems.append(Problem.of(words, None, f"{where}.{part}"))
    return problems
