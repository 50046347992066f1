"""The vendored JavaScript is exactly what static/vendor/VENDOR.md says it is."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

VENDOR = Path(__file__).resolve().parents[2] / "static" / "vendor"
DESIGNER_LIBRARIES = ["drawflow-0.0.60", "htmx-2.0.11"]
ROW = re.compile(r"^\|\s*(?P<file>[\w.\-/]+)\s*\|\s*(?P<sha>[0-9a-f]{64})\s*\|$")


def listed() -> dict[str, str]:
    """File -> sha256 from the hash table in VENDOR.md."""
    lines = (VENDOR / "VENDOR.md").read_text(encoding="utf-8").splitlines()
    return {m["file"]: m["sha"] for m in map(ROW.match, lines) if m}


@pytest.mark.parametrize(("name", "sha"), sorted(listed().items()))
def test_hash_matches(name: str, sha: str) -> None:
    assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == sha


@pytest.mark.parametrize("folder", DESIGNER_LIBRARIES)
def test_every_file_of_the_designer_libraries_is_listed(folder: str) -> None:
    files = {p.relative_to(VENDOR).as_posix() for p in (VENDOR / folder).rglob("*") if p.is_file()}
    assert files <= set(listed())


@pytest.mark.parametrize("folder", DESIGNER_LIBRARIES)
def test_each_library_has_its_license(folder: str) -> None:
    assert (VENDOR / folder / "LICENSE").is_file()
