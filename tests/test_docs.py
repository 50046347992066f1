"""The docs cannot drift: what the code offers is written in README.md or docs/*.md.

In the manner of datasette's tests/test_docs.py, each case is collected from the code, not from a
hand list: the settings from the environment reads in the source (ast), the commands by walking
the click group, the node types from the registry, the jurisdictions from their
registry. Paths the docs write in backticks must exist.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

import engine
from engine.contact_policy.profiles import jurisdiction_profiles
from engine.core.jurisdictions import JURISDICTIONS
from mahnwerk.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TEXT = "\n".join(path.read_text(encoding="utf-8") for path in DOCS)
PACKAGES = sorted(p.parent for p in ROOT.glob("*/__init__.py") if p.parent.name != "tests")
SETTING = re.compile(r"(MAHNWERK|DATABASE)_[A-Z0-9_]+")
ENVIRON = ("os.environ", "environ", "env")  # what a setting is read from, as the source names it


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _name_read(node: ast.AST) -> ast.expr | None:
    """The key of `os.environ.get(KEY)`, `env.get(KEY)`, `os.getenv(KEY)`, `os.environ[KEY]`."""
    if isinstance(node, ast.Call) and node.args:
        func = _dotted(node.func)
        if func == "os.getenv" or (func.endswith(".get") and func[: -len(".get")] in ENVIRON):
            return node.args[0]
    loads = isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load)
    if loads and _dotted(node.value) in ENVIRON:
        return node.slice
    return None


def _settings_in(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    constants = {  # NAME = "MAHNWERK_..." at module level, read through the name
        target.id: statement.value.value
        for statement in tree.body
        if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Constant)
        for target in statement.targets
        if isinstance(target, ast.Name) and isinstance(statement.value.value, str)
    }
    for node in ast.walk(tree):
        key = _name_read(node)
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            name = key.value
        elif isinstance(key, ast.Name) and key.id in constants:
            name = constants[key.id]
        elif isinstance(key, ast.JoinedStr) and isinstance(key.values[0], ast.Constant):
            name = f"{key.values[0].value}<"  # a family such as MAHNWERK_PROFILE_<NAME>_<KEY>
        else:
            continue
        if SETTING.match(name):
            yield name


def environment_settings() -> list[str]:
    """Every MAHNWERK_* / DATABASE_* name the program's source reads from the environment."""
    found = {name for package in PACKAGES for path in package.rglob("*.py") for name in
             _settings_in(path)}  # fmt: skip
    return sorted(found)


def commands(group: click.Group = main, prefix: str = "mahnwerk") -> Iterator[str]:
    """`mahnwerk <command>` for every command and subcommand of the click group."""
    for name, command in sorted(group.commands.items()):
        yield f"{prefix} {name}"
        if isinstance(command, click.Group):
            yield from commands(command, f"{prefix} {name}")


def jurisdictions() -> list[str]:
    """Every jurisdiction of the registry and every contact-policy profile it can meet
    (DE, US, UK and state overlays such as US-MA)."""
    names = set()
    for entry in {j.code: j for j in JURISDICTIONS.values()}.values():  # GB is UK too
        names.add(entry.code)
        names.update(p.name for p in jurisdiction_profiles(entry))
    return sorted(names)


def _table_rows() -> Iterator[str]:
    for line in TEXT.splitlines():
        if line.startswith("|"):
            yield line


def test_the_collections_are_not_empty() -> None:
    """The collectors find what they should (else every parametrized test passes vacuously)."""
    assert {"DATABASE_URL", "MAHNWERK_TICK_SECONDS", "MAHNWERK_PROFILE_<"} <= set(
        environment_settings()
    )
    assert {"mahnwerk init", "mahnwerk user add"} <= set(commands())
    assert {"DE", "US", "UK"} <= set(jurisdictions())


@pytest.mark.parametrize("name", environment_settings())
def test_every_setting_has_a_row_in_a_configuration_table(name: str) -> None:
    """A row whose first cell is the variable in backticks, e.g. README's Configuration."""
    first_cell = re.compile(r"\|\s*`" + re.escape(name) + ("" if name.endswith("<") else "`"))
    assert any(first_cell.match(row) for row in _table_rows()), f"no table row for {name}"


@pytest.mark.parametrize("command", list(commands()))
def test_every_command_is_documented(command: str) -> None:
    assert re.search(r"`" + re.escape(command) + r"[ `]", TEXT), f"`{command}` is not in the docs"


@pytest.mark.parametrize("node_type", sorted(engine.NODE_TYPES))
def test_every_node_type_is_documented(node_type: str) -> None:
    """In a table row naming the type in backticks (docs/journeys.md's node table)."""
    cell = re.compile(r"\|\s*`" + re.escape(node_type) + "`")
    assert any(cell.match(row) for row in _table_rows()), f"node type {node_type} has no row"


@pytest.mark.parametrize("jurisdiction", jurisdictions())
def test_every_jurisdiction_is_documented(jurisdiction: str) -> None:
    """Named in a table row (docs/contact-policy.md compares the profiles in one table)."""
    word = re.compile(r"(?<![\w-])" + re.escape(jurisdiction) + r"(?![\w-])")
    assert any(word.search(row) for row in _table_rows()), f"{jurisdiction} is in no table"


def _written_paths() -> list[str]:
    """Backticked repo paths such as `engine/run/store.py` or `designer/` (no patterns)."""
    # The repo's own top-level folders and files: not what running it leaves behind (instance/,
    # .venv/), which the docs name as places the program makes, not as files of the repo.
    made = {"instance", ".venv", "build", "dist"}
    tops = {path.name for path in ROOT.iterdir()} - made
    found = set()
    for token in re.findall(r"`([^`\s]+)`", TEXT):
        if "/" in token and token.split("/")[0] in tops and not set(token) & set("<>*{}"):
            found.add(token)
    return sorted(found)


@pytest.mark.parametrize("path", _written_paths())
def test_every_path_written_in_the_docs_exists(path: str) -> None:
    assert (ROOT / path).exists(), f"{path} is named in the docs but does not exist"


def _written_names() -> list[str]:
    """Backticked dotted names in the program's packages, e.g. `engine.intake.events.record_event`.

    Not file names (`mahnwerk.toml`) nor the connectors' entry-point group (`mahnwerk.connectors`).
    """
    tops = "|".join(package.name for package in PACKAGES)
    dotted = re.compile(rf"`((?:{tops})(?:\.[A-Za-z_]\w*)+)(?:\([^`]*\))?[^`\s]*`")
    files = re.compile(r"\.(toml|py|md|json|csv|txt)$")
    names = {name for name in dotted.findall(TEXT) if not files.search(name)}
    return sorted(names - {"mahnwerk.connectors"})


@pytest.mark.parametrize("name", _written_names())
def test_every_module_or_attribute_named_in_the_docs_exists(name: str) -> None:
    """The longest importable prefix is a module; the rest are attributes of it."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            assert hasattr(found, attribute), f"{name}: {attribute} is not there"
            found = getattr(found, attribute)
        return
    raise AssertionError(f"{name} names no module")
