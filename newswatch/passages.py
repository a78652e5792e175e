"""Are two texts copies of one story? The exact check behind the MinHash estimate.

Two kinds of texts look alike to shingle statistics without being one story: a template
filled in again (a ministry's daily report, a briefing that repeats its frame), whose numbers
(dates, times, counts) differ where they stand in the same words; and stories that share a
passage (a long background paragraph) but little else. A heavily edited copy (new headline
and lede, paragraphs added or cut) can fall under the similarity threshold while most of
its text is still found in the other's, paragraph after paragraph.

:func:`same_story` tells these apart on the compared texts (one paragraph a line).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property

from newswatch.text import folded_words

SHARED_LINE = 0.7  # a paragraph is found in the other text when most of its shingles are (one word changed in a short one is not)


@dataclass(frozen=True)
class Passages:
    """A compared text as paragraphs of folded words."""

    lines: tuple[tuple[str, ...], ...]
    shingle_words: int

    @classmethod
    def of(cls, text: str, shingle_words: int) -> Passages:
        """The paragraphs (lines with words) of ``text``."""
        lines = (tuple(folded_words(line)) for line in text.splitlines())
        return cls(tuple(line for line in lines if line), shingle_words)

    def shingles(self, words: tuple[str, ...]) -> set[tuple[str, ...]]:
        """The word shingles of ``words`` (all of it if shorter)."""
        size = self.shingle_words
        return {words[i : i + size] for i in range(max(1, len(words) - size + 1))}

    @cached_property
    def all_shingles(self) -> set[tuple[str, ...]]:
        """The shingles of every paragraph."""
        return set().union(*map(self.shingles, self.lines)) if self.lines else set()

    @cached_property
    def numbers(self) -> dict[tuple[str, str, int], set[str]]:
        """Each number by where it stands: (word before, word after, place in a run of numbers)."""
        out: dict[tuple[str, str, int], set[str]] = defaultdict(set)
        for line in self.lines:
            before, run = "", []
            for word in (*line, ""):
                if word.isdigit():
                    run.append(word)
                    continue
                for place, number in enumerate(run):
                    out[(before, word, place)].add(number)
                before, run = word, []
        return out


def numbers_differ(a: Passages, b: Passages) -> bool:
    """True when more numbers differ than agree where both texts have a number in the same words.

    A template filled in again (another day, another time, another count) differs in them;
    a copy keeps its story's numbers, an updated figure is outweighed by those that stay.
    """
    common = a.numbers.keys() & b.numbers.keys()
    agree = sum(1 for place in common if a.numbers[place] & b.numbers[place])
    return len(common) - agree > agree


def shared_paragraphs(a: Passages, b: Passages) -> tuple[int, float]:
    """(paragraphs of the shorter text found in the longer, the share of its words they hold)."""
    short, long = sorted((a, b), key=lambda p: len(p.all_shingles))
    found = long.all_shingles
    count = words = total = 0
    for line in short.lines:
        total += len(line)
        shingles = short.shingles(line)
        if len(shingles & found) >= SHARED_LINE * len(shingles):
            count += 1
            words += len(line)
    return count, words / total if total else 0.0


def same_story(a: Passages, b: Passages, estimate: float, threshold: float, min_share: float) -> bool:
    """Whether two texts whose estimated Jaccard similarity is ``estimate`` are one story.

    Never when their numbers differ (:func:`numbers_differ`). At ``threshold`` or above, yes;
    under it (a near miss), when at least two paragraphs of the shorter text, holding
    ``min_share`` of its words, are found in the longer: one shared background paragraph is
    not enough.
    """
    if numbers_differ(a, b):
        return False
    if estimate >= threshold:
        return True
    count, share = shared_paragraphs(a, b)
    return count >= 2 and share >= min_share
