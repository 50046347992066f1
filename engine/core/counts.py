"""Run reports made of counters: a tick's, a dispatch run's."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Self


@dataclass
class Counts:
    """A report whose fields are all counters; reports of parts add up to the whole."""

    def add(self, other: Self) -> None:
        """Add another report's counts to this one."""
        for counter in fields(self):
            name = counter.name
            setattr(self, name, getattr(self, name) + getattr(other, name))
