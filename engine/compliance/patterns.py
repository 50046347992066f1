"""A restricted pattern syntax for rule packs, matched in time linear in the text.

A pattern is a sequence of word tokens separated by spaces, matched case-insensitively
(casefolded: "Straße" and "STRASSE" are the same word):

- ``mahn*``: a word starting with ``mahn`` (Mahnung, Mahnungen, mahnen);
- ``*befehl``: a word ending in ``befehl`` (Haftbefehl); ``*pfänd*`` a word containing it;
- ``arrest|jail*``: either alternative;
- ``#``: a number (digits: 7, 14), which a rule with ``min_days`` reads;
- ``~3`` between two tokens: up to three other words may stand between them (word order in a
  pattern is fixed; write a second pattern for the other order).

A token may hold letters, digits and ``§ % & ' -`` only, so a pack can never smuggle a regex
construct in. Each token is one escaped single-word regex, searched once over the text (no
nesting, no backtracking across words); the words between tokens are then joined in Python
over sorted word positions, at most (words x tokens x gap) steps.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import cached_property

MAX_GAP = 8  # the most words a ``~N`` may skip
MAX_TOKENS = 12
_WORD = re.compile(r"[\w§%&]+(?:['\-][\w§%&]+)*")
_STEM = re.compile(r"[\w§%&'\-]+")
_GAP = re.compile(r"~(\d+)")


class PatternError(ValueError):
    """A pattern outside the allowed syntax; the message says what is wrong."""


@dataclass(frozen=True)
class Pattern:
    """A compiled pattern: one regex per word token and the gap allowed before each."""

    source: str
    tokens: tuple[re.Pattern[str], ...]
    gaps: tuple[int, ...]  # gaps[i]: words allowed between token i-1 and token i (gaps[0]=0)
    stems: tuple[str, ...] = ()  # the rarest-looking token's stems, casefolded (`trigger`)


class Words:
    """A text casefolded and split into words, with a per-token cache of word positions."""

    def __init__(self, text: str) -> None:
        self.source = text
        self.text = text.casefold()
        self._cache: dict[str, list[int]] = {}

    @cached_property
    def _folded_at(self) -> list[int] | None:
        """Where each source character starts in the casefolded text; None when they align
        (casefolding may lengthen a character, "ß" -> "ss", never drop one)."""
        if len(self.text) == len(self.source):
            return None
        at, pos = [], 0
        for char in self.source:
            at.append(pos)
            pos += len(char.casefold())
        return at

    def char_span(self, first: int, last: int) -> tuple[int, int]:
        """The source characters [start, end) of words `first` .. `last`."""
        start, end = self.starts[first], self.ends[last]
        at = self._folded_at
        if at is None:
            return start, end
        return bisect_right(at, start) - 1, bisect_left(at, end)

    @cached_property
    def _found(self) -> list[re.Match[str]]:
        return list(_WORD.finditer(self.text))  # split only when a trigger has fired

    @cached_property
    def starts(self) -> list[int]:
        return [m.start() for m in self._found]

    @cached_property
    def ends(self) -> list[int]:
        return [m.end() for m in self._found]

    @cached_property
    def words(self) -> list[str]:
        return [m.group() for m in self._found]

    def positions(self, token: re.Pattern[str]) -> list[int]:
        """Sorted indices of the words the token matches."""
        hit = self._cache.get(token.pattern)
        if hit is None:
            seen: set[int] = set()
            for m in token.finditer(self.text):
                i = bisect_right(self.starts, m.start()) - 1
                if i >= 0 and m.start() < self.ends[i]:
                    seen.add(i)
            hit = self._cache[token.pattern] = sorted(seen)
        return hit


def compile_pattern(pattern: str) -> Pattern:
    """Compile one pattern; raises PatternError naming the offending token."""
    if not isinstance(pattern, str) or not pattern.strip():
        raise PatternError("a pattern must be a non-empty string")
    tokens: list[re.Pattern[str]] = []
    stems: list[str] = []
    gaps: list[int] = []
    gap: int | None = None
    for token in pattern.split():
        found = _GAP.fullmatch(token)
        if found:
            if not tokens or gap is not None:
                raise PatternError(f"'{token}' must stand between two words")
            gap = int(found.group(1))
            if gap > MAX_GAP:
                raise PatternError(f"'{token}': a gap may skip at most {MAX_GAP} words")
            continue
        if len(tokens) == MAX_TOKENS:
            raise PatternError(f"a pattern may have at most {MAX_TOKENS} words")
        tokens.append(NUMBER if token == "#" else _token(token))
        if token == "#":
            stems = stems or [""]  # a number leads: any text may hold one
            gaps.append(gap or 0)
            gap = None
            continue
        # Any token's stems must occur where the pattern matches; the one whose shortest stem
        # is longest ("notice" rather than "your") rarely occurs in a clean text.
        found_stems = [alt.strip("*").casefold() for alt in token.split("|")]
        if not stems or min(map(len, found_stems)) >= min(map(len, stems)):
            stems = found_stems
        gaps.append(gap or 0)
        gap = None
    if gap is not None:
        raise PatternError("a gap '~N' must stand between two words")
    return Pattern(pattern, tuple(tokens), tuple(gaps), tuple(stems))


NUMBER = re.compile(r"(?<![\w§%&])\d{1,4}(?![\w§%&])")


def _token(token: str) -> re.Pattern[str]:
    alternatives = []
    for alt in token.split("|"):
        lead, trail = alt.startswith("*"), alt.endswith("*") and len(alt) > 1
        stem = alt.strip("*")
        if not stem or not _STEM.fullmatch(stem) or "*" in stem:
            raise PatternError(
                f"'{token}': a word may hold letters, digits and § % & ' - "
                "with * at its start or end and | between alternatives"
            )
        text = re.escape(stem.casefold())
        if not lead:
            text = r"(?<![\w§%&])" + text
        if not trail:
            text += r"(?![\w§%&])"
        alternatives.append(text)
    return re.compile("|".join(alternatives))


def trigger(patterns: tuple[Pattern, ...]) -> re.Pattern[str]:
    """One regex of one token of each pattern: when it finds nothing, none of them can match.

    Searching it once (in C) spares the per-token scans on the clean texts that are the rule.
    """
    stems = sorted({stem for p in patterns for stem in p.stems})
    return re.compile("|".join(re.escape(s) for s in stems) or "(?!)")


def search(pattern: Pattern, words: Words, start: int = 0) -> tuple[int, int] | None:
    """The first (first word, last word) span from word `start` on where the pattern matches."""
    first = words.positions(pattern.tokens[0])
    reach: dict[int, int] = {i: i for i in first[bisect_left(first, start) :]}  # end -> start
    for token, gap in zip(pattern.tokens[1:], pattern.gaps[1:], strict=True):
        if not reach:
            return None
        ends = sorted(reach)
        nxt: dict[int, int] = {}
        for w in words.positions(token):
            # an earlier end r with w - gap - 1 <= r <= w - 1
            lo = bisect_left(ends, w - gap - 1)
            if lo < len(ends) and ends[lo] <= w - 1:
                nxt[w] = reach[ends[lo]]
        reach = nxt
    if not reach:
        return None
    end = min(reach, key=lambda e: (reach[e], e))
    return reach[end], end
