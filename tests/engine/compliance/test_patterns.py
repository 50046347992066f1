"""The restricted pattern syntax: inflections, gaps, case, hostile patterns and bounded time."""

from __future__ import annotations

import time

import pytest

from engine.compliance.patterns import PatternError, Words, compile_pattern, search


def matches(pattern: str, text: str) -> bool:
    return search(compile_pattern(pattern), Words(text)) is not None


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("mahn*", "Ihre MAHNUNGEN"),
        ("*befehl", "ein Haftbefehl!"),
        ("*pfänd*", "die Lohnpfändungen"),
        ("arrest*|jail*", "You will be JAILED"),
        ("straße", "STRASSE"),  # casefolded: ß and ss are one word
        (
            "verpflichtet ~4 schufa ~3 mitzuteilen",
            "Wir sind verpflichtet, dies der Schufa umgehend mitzuteilen",
        ),
        ("§263", "nach §263 StGB"),
        ("24 std", "binnen 24 Std. zahlen"),
    ],
)
def test_a_pattern_matches_inflected_mixed_case_words(pattern: str, text: str) -> None:
    assert matches(pattern, text)


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("mahn*", "Vormahnung"),  # a stem without leading * starts at the word's start
        ("*befehl", "Befehlshaber"),  # without trailing * it ends the word
        ("arrest", "arrested"),
        ("verpflichtet ~1 schufa", "verpflichtet, dies der Schufa"),  # two words between
        ("schufa ~3 verpflichtet", "verpflichtet, dies der Schufa"),  # order is fixed
    ],
)
def test_a_pattern_does_not_match_beyond_its_words_gap_and_order(pattern: str, text: str) -> None:
    assert not matches(pattern, text)


def test_the_span_names_first_and_last_word() -> None:
    assert search(compile_pattern("bitte ~2 zahlen"), Words("Nun: bitte sofort zahlen")) == (1, 3)


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        ("(a+)+$", "a word may hold letters"),
        (".*", "a word may hold letters"),
        ("a**b", "a word may hold letters"),
        ("~2 mahnung", "must stand between two words"),
        ("mahnung ~2", "must stand between two words"),
        ("a ~2 ~3 b", "must stand between two words"),
        ("a ~9 b", "at most 8 words"),
        ("", "non-empty"),
        (" ".join(["a"] * 13), "at most 12 words"),
    ],
)
def test_a_pattern_outside_the_syntax_is_refused_with_the_reason(pattern: str, says: str) -> None:
    with pytest.raises(PatternError, match=says.replace("*", r"\*")):
        compile_pattern(pattern)


@pytest.mark.parametrize(
    "text",
    ["aaaa " * 20_000 + "!", "a" * 200_000, "a-" * 100_000, "§" * 100_000],
)
def test_a_backtracking_attempt_finishes_fast(text: str) -> None:
    """The classic (a+)+ trap cannot be written; the worst the syntax allows stays linear."""
    worst = compile_pattern("*a* ~8 *a* ~8 *a* ~8 *a* ~8 *a* ~8 b")
    started = time.perf_counter()
    assert search(worst, Words(text)) is None
    assert time.perf_counter() - started < 2.0


def test_a_number_token_matches_digits_only_and_a_search_can_start_later() -> None:
    pattern = compile_pattern("within # days")
    words = Words("Pay within 30 days, or WITHIN 3 DAYS, not within three days.")
    assert search(pattern, words) == (1, 3)
    assert search(pattern, words, 2) == (5, 7)
    assert search(pattern, words, 6) is None


def test_the_trigger_uses_a_rare_token_and_still_never_misses_a_match() -> None:
    from engine.compliance.patterns import trigger

    pattern = compile_pattern("our|your ~1 final notice")
    assert pattern.stems == ("notice",)
    assert trigger((pattern,)).search(Words("Your FINAL notice").text)
    assert search(pattern, Words("Your FINAL notice")) == (0, 2)
