"""The node type registry: one module per type, one line here each."""

from __future__ import annotations

from engine.nodes import (
    condition,
    count,
    end,
    fee,
    promise,
    send,
    split,
    start,
    task,
    wait,
    wait_event,
    webhook,
)
from engine.nodes.base import NodeType

NODE_TYPES: dict[str, NodeType] = {
    m.NODE_TYPE.name: m.NODE_TYPE
    for m in (
        start,
        wait,
        send,
        condition,
        split,
        wait_event,
        promise,
        webhook,
        count,
        fee,
        task,
        end,
    )
}


def node_type(name: str) -> NodeType:
    """The node type registered under `name`; KeyError when there is none."""
    return NODE_TYPES[name]


def register(node_type_: NodeType) -> None:
    """Add a node type from outside the built-ins."""
    NODE_TYPES[node_type_.name] = node_type_
