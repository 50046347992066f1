"""Deterministic A/B assignment: the same case and experiment always get the same arm."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

BUCKETS = 10_000


def bucket(case_key: str, experiment: str) -> int:
    """A stable bucket in [0, 10000) for a case within an experiment."""
    digest = hashlib.sha256(f"{experiment}\x00{case_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def assign(case_key: str, experiment: str, arms: Sequence[tuple[str, float]]) -> str:
    """The arm for a case, given (name, weight) pairs whose weights add up to 100."""
    point = bucket(case_key, experiment) * 100 / BUCKETS
    total = 0.0
    for name, weight in arms:
        total += weight
        if point < total:
            return name
    return arms[-1][0]
