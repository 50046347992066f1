"""Journey validation: every problem names the node and field in a manager's words."""

from __future__ import annotations

from collections import defaultdict, deque
from typing import Any

from marshmallow import Schema, ValidationError, fields

from engine.authoring.compliance import compliance_problems
from engine.core.messages import Joined, Message, Text, Verbatim, from_english, msg
from engine.journey.document import (
    NAME_PATTERNS,
    SCHEMA_VERSION_MISSING,
    SCHEMA_VERSION_NEWER,
    SCHEMA_VERSION_OLDER,
    Journey,
    JourneySchema,
    load_journey,
)
from engine.journey.fields import COUNTER_PREFIX, field_type
from engine.journey.templating import (
    BUDGET_PROBLEMS,
    SYNTAX_ERROR,
    UNKNOWN_NAMES,
    UNKNOWN_VARIABLE,
    template_problems,
)
from engine.money.checks import interest_problems
from engine.nodes import NODE_TYPES
from engine.nodes.base import MAX_STEPS_PER_TICK, WHOLE_DAYS, NodeType, Problem
from engine.nodes.count import counter_names
from engine.nodes.wait import AT_TIME_FORMAT, NEEDS_MONTH_DAY, NEEDS_WEEKDAY, NO_NEGATIVE_WAIT
from engine.nodes.window import SLOT_ERRORS
from engine.rules.compiler import MAX_NODES, compile_journey
from engine.rules.limits import MAX_BRANCHES, widest
from engine.rules.model import durable_rule


def validate_document(doc: Any) -> tuple[Journey | None, list[Problem]]:
    """Parse and check a journey document; returns the journey (when it parses) and problems."""
    if not isinstance(doc, dict):
        return None, [Problem.of(msg("The document must be a JSON object."))]
    try:
        journey = load_journey(doc)
    except ValidationError as exc:
        return None, _shape_problems(exc.messages, doc, JourneySchema())
    return journey, validate_journey(journey)


def validate_journey(journey: Journey) -> list[Problem]:
    """All graph, params, field and template problems of a parsed journey."""
    problems = _params_problems(journey)
    if problems:  # the graph checks need valid params to know each node's ports
        return problems
    problems += _size_problems(journey)
    if problems:  # a journey too large to run is not checked further
        return problems
    problems += _wiring_problems(journey)
    problems += _reachability_problems(journey)
    problems += _loop_problems(journey)
    problems += _field_problems(journey)
    problems += _template_problems(journey)
    for node in journey.nodes:
        problems += NODE_TYPES[node.type].check(node, journey)
    problems += interest_problems(journey)
    if not any(p.blocks for p in problems):  # wording is reviewed once the journey runs
        problems += compliance_problems(journey)
    return problems


def blocking(problems: list[Problem]) -> list[Problem]:
    """The problems that refuse a save or a submission (errors, BLOCK findings)."""
    return [p for p in problems if p.blocks]


def _shape_problems(messages: Any, doc: dict[str, Any], schema: Schema) -> list[Problem]:
    """Turn marshmallow's nested error dict into problems naming node and field."""
    problems: list[Problem] = []
    nodes = doc.get("nodes") if isinstance(doc.get("nodes"), list) else []

    def walk(path: list[str], value: Any) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk([*path, str(key)], sub)
            return
        if value == [UNKNOWN_FIELD.id]:  # say which fields there are
            known = _known_fields(schema, path[:-1])
            if known:
                value = [UNKNOWN_FIELD_OF.with_params(known=", ".join(known)).text()]
        node = None
        if len(path) >= 2 and path[0] == "nodes" and path[1].isdigit():
            index = int(path[1])
            raw = nodes[index] if index < len(nodes) and isinstance(nodes[index], dict) else {}
            node = str(raw.get("id", f"#{index + 1}"))
            path = path[2:]
        problems.append(Problem.of(_error_words(value), node, ".".join(path) or None))

    walk([], messages)
    return problems


def _known_fields(schema: Schema, path: list[str]) -> list[str]:
    """The field names (as written in the document) of the schema at `path`; [] if none."""
    current: Schema | fields.Field = schema
    for key in path:
        if isinstance(current, fields.List | fields.Dict):
            inner = current.inner if isinstance(current, fields.List) else current.value_field
            if inner is None:
                return []
            current = inner  # the key is an index or a mapping key
            continue
        if isinstance(current, fields.Nested):
            current = current.schema
        if not isinstance(current, Schema):
            return []
        found = {f.data_key or name: f for name, f in current.load_fields.items()}.get(key)
        if found is None:
            return []
        current = found
    if isinstance(current, fields.Nested):
        current = current.schema
    if not isinstance(current, Schema):
        return []
    return sorted(f.data_key or name for name, f in current.load_fields.items())


UNKNOWN_FIELD = msg("Unknown field.")
UNKNOWN_FIELD_OF = msg("Unknown field; the known fields are: {known}.")
# marshmallow's field errors arrive as English strings; these messages read them back.
FIELD_ERRORS: tuple[Message, ...] = (
    msg("Missing data for required field."),
    msg("Field may not be null."),
    msg("Invalid value."),
    msg("Not a valid string."),
    msg("Not a valid utf-8 string."),
    msg("Not a valid integer."),
    msg("Not a valid number."),
    msg("Number too large."),
    msg("Special numeric values (nan or infinity) are not permitted."),
    msg("Not a valid boolean."),
    msg("Not a valid list."),
    msg("Not a valid mapping type."),
    msg("Invalid type."),
    msg("Invalid input type."),
    UNKNOWN_FIELD,
    UNKNOWN_FIELD_OF,
    msg("Must be one of: {choices}."),
    msg("Must be greater than or equal to {min} and less than or equal to {max}."),
    msg("Must be greater than or equal to {min}."),
    msg("Must be less than or equal to {max}."),
    msg("Length must be between {min} and {max}."),
    msg("Length must be {equal}."),
    msg("Shorter than minimum length {min}."),
    msg("Longer than maximum length {max}."),
    msg("String does not match expected pattern."),
)
# What a params schema or the document may say: read back into messages by `from_english`.
READ_BACK = (
    *FIELD_ERRORS,
    SCHEMA_VERSION_MISSING,
    SCHEMA_VERSION_NEWER,
    SCHEMA_VERSION_OLDER,
    AT_TIME_FORMAT,
    NO_NEGATIVE_WAIT,
    NEEDS_WEEKDAY,
    NEEDS_MONTH_DAY,
    *SLOT_ERRORS,
    WHOLE_DAYS,
    *NAME_PATTERNS.values(),
)
# A case field's type, as a problem names it.
KIND_WORDS: dict[str, Message] = {
    "number": msg("number"),
    "string": msg("string"),
    "boolean": msg("boolean"),
}


def _error_words(value: Any) -> Text:
    """marshmallow's messages for one field, each in the catalog's words where it knows them."""
    if not isinstance(value, list):
        return from_english(str(value), READ_BACK)
    parts = tuple(from_english(str(v), READ_BACK) for v in value)
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
            problems.append(Problem.of(msg("Two nodes have this id."), node.id, "id"))
        seen.add(node.id)
        node_type = NODE_TYPES.get(node.type)
        if node_type is None:
            known = ", ".join(NODE_TYPES)
            unknown = msg("Unknown node type '{type}' ({known}).", type=node.type, known=known)
            problems.append(Problem.of(unknown, node.id, "type"))
            continue
        schema = _schema(node_type)
        errors = schema.validate(node.params)
        for found in _shape_problems(errors, {}, schema):
            where = f"params.{found.field}" if found.field else "params"
            problems.append(Problem.of(found.words or Verbatim(found.message), node.id, where))
    starts = [n.id for n in journey.nodes if n.type == "start"]
    if len(starts) != 1:
        problems.append(
            Problem.of(
                msg("A journey needs exactly one start node, it has {count}.", count=len(starts))
            )
        )
    return problems


def _wiring_problems(journey: Journey) -> list[Problem]:
    problems = []
    nodes = journey.nodes_by_id()
    wired: dict[tuple[str, str], int] = defaultdict(int)
    for edge in journey.edges:
        if edge.source not in nodes:
            unknown = msg("A connection starts at unknown node '{node}'.", node=edge.source)
            problems.append(Problem.of(unknown, None, "edges"))
            continue
        if edge.target not in nodes:
            unknown = msg(
                "The '{port}' way leads to unknown node '{node}'.", port=edge.port, node=edge.target
            )
            problems.append(Problem.of(unknown, edge.source, "edges"))
        ports = {
            p.name for p in NODE_TYPES[nodes[edge.source].type].ports(nodes[edge.source].params)
        }
        if edge.port not in ports:
            no_port = msg("This node has no output '{port}'.", port=edge.port)
            problems.append(Problem.of(no_port, edge.source, "edges"))
        wired[(edge.source, edge.port)] += 1
    for node in journey.nodes:
        for port in NODE_TYPES[node.type].ports(node.params):
            count = wired.get((node.id, port.name), 0)
            label = port.words or Verbatim(port.label)
            if count == 0:
                words = msg("The '{port}' way is not connected to a next step.", port=label)
            elif count > 1:
                words = msg(
                    "The '{port}' way is connected {count} times; connect it once.",
                    port=label,
                    count=count,
                )
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
        return [Problem.of(msg("The journey has no end node; every case needs a way to finish."))]
    finishing = _reach(reverse, ends)
    problems = []
    for node in journey.nodes:
        if node.id not in reachable:
            problems.append(Problem.of(msg("No way from the start leads to this node."), node.id))
        elif node.id not in finishing:
            problems.append(Problem.of(msg("From this node there is no way to an end."), node.id))
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
                Problem.of(
                    msg(
                        "These steps form a loop without a wait: {steps}. Add a wait.", steps=names
                    ),
                    node_id,
                )
            )
    return problems + _instant_problems(journey)


def _instant_problems(journey: Journey) -> list[Problem]:
    """What the runtime would stop a case on: more than MAX_STEPS_PER_TICK rules in one tick.

    That is a loop in which every wait can be over at once (a wait of no time, a due-date day
    already come, a timeout of zero days), or a longer path of steps that need no time.
    """
    nodes = journey.nodes_by_id()
    instant = {n: NODE_TYPES[node.type].instant_ports(node.params) for n, node in nodes.items()}
    onward: dict[str, list[str]] = {n: [] for n in nodes}  # every next node
    at_once: dict[str, list[str]] = {n: [] for n in nodes}  # next nodes that move on at once
    for e in journey.edges:
        if e.source in nodes and e.target in nodes:
            onward[e.source].append(e.target)
            if e.port in instant[e.source] and instant[e.target]:
                at_once[e.source].append(e.target)
    problems, looping = _zero_wait_loops(journey, at_once)
    if looping:  # a loop has no longest path; the loop is the problem
        return problems
    longest: dict[str, tuple[int, str]] = {}  # node -> (rules fired from its arrival, last node)
    for node_id in _topological(at_once)[::-1]:
        after = [longest[t] for t in at_once[node_id]]
        longest[node_id] = (1 + max(after)[0], max(after)[1]) if after else (1, node_id)
    worst: tuple[int, str, str] | None = None
    for node_id in sorted(nodes):
        if not NODE_TYPES[nodes[node_id].type].ports(nodes[node_id].params):
            continue  # an end fires no rule
        after = [longest[t] for t in onward[node_id] if t in longest]
        count, last = (1 + max(after)[0], max(after)[1]) if after else (1, node_id)
        if worst is None or count > worst[0]:
            worst = (count, node_id, last)
    if worst is not None and worst[0] > MAX_STEPS_PER_TICK:
        count, first, last = worst
        words = msg(
            "From here to '{last}' a case can take {count} steps at once without waiting; "
            "the engine stops a case after {max} steps in one go. Add a wait on the way.",
            last=last,
            count=count,
            max=MAX_STEPS_PER_TICK,
        )
        problems.append(Problem.of(words, first))
    return problems


def _zero_wait_loops(journey: Journey, at_once: dict[str, list[str]]) -> tuple[list[Problem], bool]:
    """Loops through a wait that can all be over at once; and whether any loop needs no time."""
    parks = {n.id for n in journey.nodes if NODE_TYPES[n.type].parks}
    problems: list[Problem] = []
    seen: set[str] = set()
    looping = False
    for node_id in sorted(at_once):
        if node_id in seen or node_id not in _reach(at_once, at_once[node_id]):
            continue
        looping = True
        cycle = sorted(n for n in _reach(at_once, [node_id]) if node_id in _reach(at_once, [n]))
        seen.update(cycle)
        if not parks & set(cycle):
            continue  # a loop without any wait: _loop_problems names it
        names = ", ".join(f"'{n}'" for n in cycle)
        words = msg(
            "These steps form a loop in which every wait can be over at once: {steps}. "
            "A case would go round until the engine stops it; make a wait longer than zero.",
            steps=names,
        )
        problems.append(Problem.of(words, node_id))
    return problems, looping


def _topological(graph: dict[str, list[str]]) -> list[str]:
    """The nodes of a graph without loops, each before the nodes it leads to."""
    incoming = dict.fromkeys(graph, 0)
    for targets in graph.values():
        for t in targets:
            incoming[t] += 1
    ready = deque(sorted(n for n, count in incoming.items() if count == 0))
    order = []
    while ready:
        node_id = ready.popleft()
        order.append(node_id)
        for t in graph[node_id]:
            incoming[t] -= 1
            if incoming[t] == 0:
                ready.append(t)
    return order


def _size_problems(journey: Journey) -> list[Problem]:
    """What the rules engine cannot take: too many nodes, or one node testing too many values."""
    if len(journey.nodes) > MAX_NODES:
        words = msg(
            "The journey has {count} nodes; the rules engine takes at most {max}. "
            "Split it into several journeys.",
            count=len(journey.nodes),
            max=MAX_NODES,
        )
        return [Problem.of(words)]
    rules: dict[str, dict[str, Any]] = defaultdict(dict)
    for rule in compile_journey(journey).rules:
        rules[rule.node][rule.id] = durable_rule(rule, {"node": rule.node, "trigger": rule.trigger})
    problems = []
    for node_id, node_rules in rules.items():
        width = widest(node_rules)
        if width > MAX_BRANCHES:
            words = msg(
                "This node tests {count} values at one point; the rules engine takes at most "
                "{max}. Use fewer values or branches, or several nodes one after another.",
                count=width,
                max=MAX_BRANCHES,
            )
            problems.append(Problem.of(words, node_id))
    return problems


def _field_problems(journey: Journey) -> list[Problem]:
    problems = []
    counters = counter_names(journey)
    for node in journey.nodes:
        for path, clause in _clauses(node.type, node.params):
            kind = field_type(clause["field"], journey.attributes, counters)
            if kind is None and str(clause["field"]).startswith(COUNTER_PREFIX):
                unknown = msg(
                    "No count step keeps the counter '{counter}'; this journey counts: {known}.",
                    counter=clause["field"][len(COUNTER_PREFIX) :],
                    known=", ".join(sorted(counters)) or "-",
                )
                problems.append(Problem.of(unknown, node.id, f"{path}.field"))
                continue
            if kind is None:
                unknown = msg("Unknown case field '{field}'.", field=clause["field"])
                problems.append(Problem.of(unknown, node.id, f"{path}.field"))
                continue
            values = clause["value"] if clause["op"] in ("in", "not_in") else [clause["value"]]
            if not isinstance(values, list):
                problems.append(Problem.of(msg("Give a list of values."), node.id, f"{path}.value"))
                continue
            kind_words = KIND_WORDS[kind]
            if not all(_fits(kind, v) for v in values):
                wrong = msg(
                    "'{field}' is a {kind}; the value {value} is not.",
                    field=clause["field"],
                    kind=kind_words,
                    value=repr(clause["value"]),
                )
                problems.append(Problem.of(wrong, node.id, f"{path}.value"))
            if kind != "number" and clause["op"] in ("gt", "gte", "lt", "lte"):
                unordered = msg(
                    "'{field}' is a {kind}; it cannot be above or below.",
                    field=clause["field"],
                    kind=kind_words,
                )
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


OVER_BUDGET = msg(
    "Template '{key}' ({channel}, {locale}, tone {tone}) would go over the render budget: "
    "{problem}."
)
_BUDGET_IDS = frozenset(m.id for m in BUDGET_PROBLEMS)
# A filter or test the sandbox does not have: the variant, whole, and the name.
UNKNOWN_IN_VARIANT = msg(
    "Template '{key}' ({channel}, {locale}, tone {tone}) of journey '{journey}': {problem}."
)
_UNKNOWN_NAME_IDS = frozenset(m.id for m in UNKNOWN_NAMES)
_TEMPLATE_FINDINGS = (SYNTAX_ERROR, UNKNOWN_VARIABLE, *UNKNOWN_NAMES, *BUDGET_PROBLEMS)


def _template_problems(journey: Journey) -> list[Problem]:
    problems = []
    for template in journey.templates.values():
        for variant in template.variants:
            where = f"templates.{template.key}.{variant.locale}.tone{variant.tone}"
            for part in ("subject", "body", "html"):
                source = getattr(variant, part)
                for text in template_problems(source) if source else []:
                    found = from_english(text, _TEMPLATE_FINDINGS)
                    variant_of = {
                        "key": template.key,
                        "channel": template.channel,
                        "locale": variant.locale,
                        "tone": variant.tone,
                        "problem": found,
                    }
                    if isinstance(found, Message) and found.id in _BUDGET_IDS:
                        words = OVER_BUDGET.with_params(**variant_of)
                    elif isinstance(found, Message) and found.id in _UNKNOWN_NAME_IDS:
                        words = UNKNOWN_IN_VARIANT.with_params(journey=journey.key, **variant_of)
                    else:
                        words = msg("Template '{key}': {problem}.", key=template.key, problem=found)
                    problems.append(Problem.of(words, None, f"{where}.{part}"))
    return problems
