"""Deterministic A/B assignment: a stable hash of (case, experiment) picks the arm."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from engine.core.assignment import BUCKETS, assign, bucket

AB = [("A", 50.0), ("B", 50.0)]
KEYS = [f"INV-{i:05d}" for i in range(10_000)]


def test_the_bucket_of_a_case_never_changes_between_releases() -> None:
    # Frozen values: changing the hash would move running experiments' cases between arms.
    assert [bucket("INV-1", "tone-test"), bucket("INV-2", "tone-test")] == [7540, 436]


def test_the_arm_of_a_case_never_changes_between_releases() -> None:
    assert [assign("INV-1", "tone-test", AB), assign("INV-2", "tone-test", AB)] == ["B", "A"]


@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_a_bucket_is_always_in_range(case_key: str, experiment: str) -> None:
    assert 0 <= bucket(case_key, experiment) < BUCKETS


@given(st.text(min_size=1, max_size=40))
def test_the_same_case_and_experiment_always_get_the_same_arm(case_key: str) -> None:
    assert assign(case_key, "tone-test", AB) == assign(case_key, "tone-test", AB)


def test_weights_are_honoured_within_two_points() -> None:
    counts = Counter(assign(k, "tone-test", [("A", 20), ("B", 80)]) for k in KEYS)

    assert abs(counts["A"] / len(KEYS) - 0.20) < 0.02


def test_a_holdout_gets_its_share() -> None:
    arms = [("A", 45), ("B", 45), ("holdout", 10)]

    counts = Counter(assign(k, "tone-test", arms) for k in KEYS)

    assert abs(counts["holdout"] / len(KEYS) - 0.10) < 0.015


def test_an_arm_with_no_weight_is_never_chosen() -> None:
    arms = [("A", 0), ("B", 100)]

    assert {assign(k, "tone-test", arms) for k in KEYS[:2000]} == {"B"}


def test_experiments_assign_independently() -> None:
    first = [assign(k, "subject-line", AB) for k in KEYS[:2000]]
    second = [assign(k, "tone-test", AB) for k in KEYS[:2000]]

    agreeing = sum(a == b for a, b in zip(first, second, strict=True)) / 2000
    assert 0.45 < agreeing < 0.55


def test_weights_short_of_100_give_the_rest_to_the_last_arm() -> None:
    counts = Counter(assign(k, "tone-test", [("A", 10), ("B", 10)]) for k in KEYS)

    assert counts["A"] < counts["B"]


@given(st.text(min_size=1, max_size=20))
def test_the_arm_is_always_one_of_the_given_arms(case_key: str) -> None:
    assert assign(case_key, "x", [("A", 33.3), ("B", 33.3), ("C", 33.4)]) in {"A", "B", "C"}
