"""The lock files in requirements/ agree with pyproject.toml; `make lock` refreshes them.

requirements/runtime.txt locks `[project] dependencies`, requirements/dev.txt the `dev` extra
together with them; both pin exact versions with hashes (pip install --require-hashes).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_LOCK = ROOT / "requirements" / "runtime.txt"
DEV_LOCK = ROOT / "requirements" / "dev.txt"

Lock = dict[NormalizedName, Version]


def lock_lines(text: str) -> list[str]:
    """The logical lines of a requirements file: continuations joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    lines = (re.sub(r"(^|\s)#.*", "", line).strip() for line in joined.splitlines())
    return [line for line in lines if line]


def read_lock(text: str) -> Lock:
    """Each package of a pip-compile lock with its pinned version.

    Raises ValueError for a line that is no exact pin with hashes: an option such as `-e .`, a
    range, a URL, or a pin pip install --require-hashes would refuse.
    """
    pins: Lock = {}
    for line in lock_lines(text):
        requirement_text, *hashes = re.split(r"\s+--hash=", line)
        if requirement_text.startswith("-"):
            raise ValueError(f"not a pinned package: {line!r}")
        requirement = Requirement(requirement_text)
        specifiers = list(requirement.specifier)
        if requirement.url or len(specifiers) != 1 or specifiers[0].operator != "==":
            raise ValueError(f"not an exact pin: {requirement_text!r}")
        if not hashes:
            raise ValueError(f"pinned without a hash: {requirement_text!r}")
        name = canonicalize_name(requirement.name)
        if name in pins:
            raise ValueError(f"pinned twice: {name}")
        pins[name] = Version(specifiers[0].version)
    return pins


def unmet(declared: list[str], lock: Lock) -> list[str]:
    """Declared requirements (PEP 508 strings) that the lock misses or pins outside their range."""
    problems = []
    for text in declared:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        name = canonicalize_name(requirement.name)
        if name not in lock:
            problems.append(f"{text}: not in the lock")
        elif not requirement.specifier.contains(lock[name], prereleases=True):
            problems.append(f"{text}: the lock pins {lock[name]}")
    return problems


def disagreements(runtime: Lock, dev: Lock) -> list[str]:
    """Runtime packages that the dev lock leaves out or pins at another version."""
    return [
        f"{name}: runtime {version}, dev {dev.get(name, 'missing')}"
        for name, version in sorted(runtime.items())
        if dev.get(name) != version
    ]


@pytest.fixture(scope="module")
def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


@pytest.fixture(scope="module")
def runtime_lock() -> Lock:
    return read_lock(RUNTIME_LOCK.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def dev_lock() -> Lock:
    return read_lock(DEV_LOCK.read_text(encoding="utf-8"))


def test_the_runtime_lock_pins_every_dependency_within_its_range(
    project: dict, runtime_lock: Lock
) -> None:
    assert unmet(project["dependencies"], runtime_lock) == []


def test_the_dev_lock_pins_every_dev_and_runtime_dependency_within_its_range(
    project: dict, dev_lock: Lock
) -> None:
    declared = project["dependencies"] + project["optional-dependencies"]["dev"]

    assert unmet(declared, dev_lock) == []


def test_the_dev_lock_pins_the_runtime_lock_at_the_same_versions(
    runtime_lock: Lock, dev_lock: Lock
) -> None:
    assert disagreements(runtime_lock, dev_lock) == []


def test_the_dev_only_packages_stay_out_of_the_runtime_lock(runtime_lock: Lock) -> None:
    dev_only = {"pytest", "playwright", "schemathesis", "pgserver", "pip-tools"}

    assert dev_only & set(runtime_lock) == set()


@pytest.mark.parametrize("lock", [RUNTIME_LOCK, DEV_LOCK], ids=lambda path: path.name)
def test_the_project_itself_is_not_in_a_lock(lock: Path) -> None:
    text = lock.read_text(encoding="utf-8")

    assert "mahnwerk" not in read_lock(text)
    assert not [line for line in lock_lines(text) if line.startswith(("-e", "--editable"))]


# The checks above can fail: each helper on a lock that does not match.


def test_a_pin_outside_the_declared_range_is_reported() -> None:
    lock = read_lock("babel==2.19.0 \\\n    --hash=sha256:aa\n    # via mahnwerk\n")

    assert unmet(["babel>=2.14,<2.19"], lock) == ["babel>=2.14,<2.19: the lock pins 2.19.0"]


def test_a_declared_package_missing_from_the_lock_is_reported() -> None:
    lock = read_lock("Flask==3.1.3 --hash=sha256:aa\n")

    assert unmet(["flask>=3.0", "Flask_Login>=0.6.3"], lock) == [
        "Flask_Login>=0.6.3: not in the lock"
    ]


def test_a_runtime_package_pinned_differently_in_the_dev_lock_is_reported() -> None:
    runtime = read_lock("click==8.1.7 --hash=sha256:aa\nsix==1.17.0 --hash=sha256:bb\n")
    dev = read_lock("click==8.2.0 --hash=sha256:cc\npytest==9.0 --hash=sha256:dd\n")

    assert disagreements(runtime, dev) == [
        "click: runtime 8.1.7, dev 8.2.0",
        "six: runtime 1.17.0, dev missing",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "-e .\n",
        "-e file:///work/mahnwerk\n",
        "flask>=3.0 --hash=sha256:aa\n",
        "flask==3.1.3\n",
        "flask==3.1.3 --hash=sha256:aa\nFlask==3.1.3 --hash=sha256:aa\n",
    ],
    ids=["editable", "editable-url", "range", "no-hash", "twice"],
)
def test_a_lock_line_that_is_no_hashed_pin_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        read_lock(text)
