"""Auto-arrange: layers follow the graph from the start, left to right."""

from __future__ import annotations

from designer.layout import COLUMN, arrange
from tests.factories import example_doc


def test_start_is_leftmost_and_each_step_right_of_its_parent() -> None:
    doc = example_doc("minimal")
    pos = arrange(doc)
    assert all(pos[e["from"]]["x"] < pos[e["to"]]["x"] for e in doc["edges"])


def test_longest_path_decides_the_column() -> None:
    doc = example_doc("minimal")
    assert arrange(doc)["closed"]["x"] == max(p["x"] for p in arrange(doc).values())


def test_a_loop_back_does_not_move_its_target() -> None:
    doc = {
        "nodes": [{"id": i, "type": t} for i, t in (("s", "start"), ("w", "wait"), ("c", "x"))],
        "edges": [{"from": "s", "to": "w"}, {"from": "w", "to": "c"}, {"from": "c", "to": "w"}],
    }
    assert [arrange(doc)[n]["x"] // COLUMN for n in "swc"] == [0, 1, 2]


def test_siblings_get_their_own_rows() -> None:
    pos = arrange(example_doc("minimal"))
    assert pos["second"]["y"] != pos["closed"]["y"] or pos["second"]["x"] != pos["closed"]["x"]


def test_unconnected_nodes_are_placed_too() -> None:
    doc = {"nodes": [{"id": "a", "type": "start"}, {"id": "b", "type": "end"}], "edges": []}
    assert set(arrange(doc)) == {"a", "b"}
