"""What editions of one story in different languages and scripts share without translation.

Translations share no words, but they keep the figures (dates, counts, amounts) and the
names (people, places) of their story: Pashinyan, Пашинян, Փաշինյան, Paşinyan and ფაშინიანი
are one name in five scripts. :func:`anchors` reduces a title and lede to such keys: every
number, and every name transliterated to Latin (``anyascii``) and cut to the skeleton of its
first consonants (vowels, and letters that transliterations render differently, left out; a
short prefix also absorbs case endings: Минске, Մինսկում). A name is a capitalised word in
scripts with case; Georgian has none, so every Georgian word counts.

:func:`evidence` weighs the keys two founders share by how rare each is among the founders
of the time window, so a shared rare name or figure counts and "Armenia" or today's date
hardly does.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Collection, Iterable

from anyascii import anyascii

from newswatch.text import folded_words

NAME_CONSONANTS = 3  # a name key keeps this many consonants: enough to tell names apart, few enough for endings
CONFLICTING = 3  # figures in one lede only, per figure in both, that make two ledes another report
PRIOR_FOUNDERS = 100  # weights are smoothed as if this many more founders shared no key
_DIGRAPHS = (("kh", "h"), ("zh", "z"), ("sh", "s"), ("ch", "c"), ("ts", "c"), ("dz", "z"), ("gh", "g"))
_LETTERS = str.maketrans({"x": "h", "q": "k", "w": "v"})
_DROPPED = re.compile(r"[^bcdfgklmnprstvz]")  # vowels, h, j, y and anything not a letter
_WORD = re.compile(r"[^\W\d_]+")
_GEORGIAN = re.compile("[\u10d0-\u10ff]")  # Mkhedruli: written without case (Mtavruli capitals are rare)


def name_key(word: str) -> str:
    """The script-independent key of a name ('' when it has fewer than two consonants)."""
    latin = anyascii(word).lower()
    for digraph, letter in _DIGRAPHS:
        latin = latin.replace(digraph, letter)
    skeleton = _DROPPED.sub("", latin.translate(_LETTERS))
    return skeleton[:NAME_CONSONANTS] if len(skeleton) >= 2 else ""


def _is_name(word: str) -> bool:
    return word[0].isupper() or bool(_GEORGIAN.match(word))


def anchors(text: str) -> frozenset[str]:
    """The number keys (``#12``) and name keys (``psn``) of ``text``."""
    numbers = {f"#{word.lstrip('0') or '0'}" for word in folded_words(text) if word.isdigit()}
    names = {name_key(word) for word in _WORD.findall(text) if _is_name(word)}
    return frozenset(numbers | names - {""})


def numbers(keys: Collection[str]) -> set[str]:
    """The number keys among ``keys``."""
    return {key for key in keys if key.startswith("#")}


def numbers_conflict(a: Collection[str], b: Collection[str]) -> bool:
    """True when both have figures and those only one has outnumber three to one those both have.

    Another day's report or another meeting has other dates, times and counts; an edition
    keeps its story's figures, though its lede may hold fewer or more of them.
    """
    first, second = numbers(a), numbers(b)
    return bool(first and second) and len(first ^ second) > CONFLICTING * len(first & second)


def key_weights(founders: Iterable[Collection[str]]) -> dict[str, float]:
    """Weight of every key of ``founders``: log((founders + prior) / founders with the key)."""
    counts: Counter[str] = Counter()
    total = 0
    for keys in founders:
        counts.update(keys)
        total += 1
    return {key: math.log((total + PRIOR_FOUNDERS) / count) for key, count in counts.items()}


def evidence(a: Collection[str], b: Collection[str], weights: dict[str, float]) -> float:
    """The weight of the keys ``a`` and ``b`` share."""
    return sum(weights[key] for key in set(a) & set(b))
