"""What changed between two journey documents: nodes, edges, params, templates and settings.

Pure: works on the JSON documents only, knows nothing of Flask or the database. Positions are
layout, not behaviour, so moving a node is not a change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SETTINGS = (
    "name",
    "description",
    "locale",
    "currency",
    "jurisdiction",
    "collector",
    "letter_days",
    "attributes",
)


@dataclass(frozen=True)
class Change:
    """One changed value: where, before and after."""

    path: str
    before: Any
    after: Any


@dataclass
class DocumentDiff:
    """Everything that differs from the old document to the new one."""

    nodes_added: list[str] = field(default_factory=list)
    nodes_removed: list[str] = field(default_factory=list)
    nodes_changed: dict[str, list[Change]] = field(default_factory=dict)
    edges_added: list[tuple[str, str, str]] = field(default_factory=list)
    edges_removed: list[tuple[str, str, str]] = field(default_factory=list)
    templates_added: list[str] = field(default_factory=list)
    templates_removed: list[str] = field(default_factory=list)
    templates_changed: dict[str, list[Change]] = field(default_factory=dict)
    settings_changed: list[Change] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Whether the two documents behave the same."""
        return not any(getattr(self, name) for name in self.__dataclass_fields__)

    def node_marks(self) -> dict[str, str]:
        """Node id -> 'added' or 'changed', for highlighting the new version on the canvas."""
        marks = {n: "added" for n in self.nodes_added}
        marks.update({n: "changed" for n in self.nodes_changed})
        for source, _port, target in self.edges_added:
            marks.setdefault(source, "changed")
            if target not in marks and target not in self.nodes_removed:
                marks.setdefault(target, "rewired")
        return marks


def diff_documents(old: dict[str, Any], new: dict[str, Any]) -> DocumentDiff:
    """Compare two journey documents."""
    result = DocumentDiff()
    old_nodes, new_nodes = _by_id(old), _by_id(new)
    result.nodes_added = [n for n in new_nodes if n not in old_nodes]
    result.nodes_removed = [n for n in old_nodes if n not in new_nodes]
    for node_id, node in new_nodes.items():
        if node_id in old_nodes:
            changes = _node_changes(old_nodes[node_id], node)
            if changes:
                result.nodes_changed[node_id] = changes
    old_edges, new_edges = _edges(old), _edges(new)
    result.edges_added = [e for e in new_edges if e not in old_edges]
    result.edges_removed = [e for e in old_edges if e not in new_edges]
    old_t, new_t = old.get("templates") or {}, new.get("templates") or {}
    result.templates_added = sorted(k for k in new_t if k not in old_t)
    result.templates_removed = sorted(k for k in old_t if k not in new_t)
    for key in sorted(k for k in new_t if k in old_t):
        changes = _template_changes(old_t[key], new_t[key])
        if changes:
            result.templates_changed[key] = changes
    result.settings_changed = [
        Change(name, old.get(name), new.get(name))
        for name in SETTINGS
        if old.get(name) != new.get(name)
    ]
    return result


def _by_id(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["id"]: n for n in doc.get("nodes") or []}


def _edges(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(e["from"], e.get("port", "next"), e["to"]) for e in doc.get("edges") or []]


def _node_changes(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    changes = [
        Change(name, old.get(name), new.get(name))
        for name in ("type", "label")
        if old.get(name) != new.get(name)
    ]
    return changes + _dict_changes("params", old.get("params") or {}, new.get("params") or {})


def _dict_changes(prefix: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    return [
        Change(f"{prefix}.{key}", old.get(key), new.get(key))
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    ]


def _template_changes(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    changes = []
    if old.get("channel") != new.get("channel"):
        changes.append(Change("channel", old.get("channel"), new.get("channel")))
    old_v, new_v = _variants(old), _variants(new)
    for where in sorted(set(old_v) | set(new_v)):
        before, after = old_v.get(where), new_v.get(where)
        if before is None or after is None:
            changes.append(Change(where, before, after))
            continue
        for part in ("subject", "body", "html"):
            if before.get(part) != after.get(part):
                changes.append(Change(f"{where}.{part}", before.get(part), after.get(part)))
    return changes


def _variants(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{v['locale']} tone {v['tone']}": v for v in template.get("variants") or []}
