"""Where Mahnwerk's shipped folders are: static/, templates/ and journeys_examples/.

In a checkout (and an editable install) the folders sit at the top of the repository, beside
this package. The wheel maps them into this package (`[tool.setuptools] package-dir` in
pyproject.toml), so an installed Mahnwerk finds them here. One lookup serves both, so the
designer, the API and the program never guess at `Path(__file__).parent.parent`.

This module imports nothing of Mahnwerk's: the designer and the API use it without reaching
up to the program (`mahnwerk`), which keeps the dependency direction one-way.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
SHIPPED = ("static", "templates", "journeys_examples")


def folder(name: str) -> Path:
    """The shipped folder `name`: inside this package when installed, else the repo's top."""
    if name not in SHIPPED:
        raise ValueError(f"{name!r} is not a shipped folder; choose from {SHIPPED}")
    for base in (HERE, HERE.parent):  # installed wheel, then checkout
        if (base / name).is_dir():
            return base / name
    raise FileNotFoundError(f"{name}/ is neither in {HERE} nor in {HERE.parent}")


STATIC = folder("static")
TEMPLATES = folder("templates")
JOURNEYS_EXAMPLES = folder("journeys_examples")
