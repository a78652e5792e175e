"""Text: cleaning what pages send, words for matching, hashing and clustering, one-line display.

Cleaning: control, bidi-override and zero-width characters are removed from text we do not
control (:func:`clean_text`) before it is stored, matched or displayed.

Words for matching: a text is split once into its words and their offsets, kept as flat lists
(:class:`Words`, no object per word); each distinct word is reduced to two forms (:func:`analyse`):

* ``surface``: NFKC, full case folding, combining marks removed and a few
  script-specific equivalences applied (Azerbaijani/Turkish dotless ``ı`` and dotted
  ``İ`` both become ``i``; Armenian ``և``/``ԵՎ`` both become ``եւ``; Russian ``ё``
  becomes ``е``). Prefix wildcards (``peacekeep*``) match against this form.
* ``key``: the surface of the Snowball stem, chosen by the word's *script*, not by the
  article's language, so a query term and an article word always go through the same
  analysis: Cyrillic words use the Russian stemmer, Armenian words the Armenian
  stemmer, Latin words the English stemmer; Georgian has no stemmer (use wildcards).
  Plain terms and phrases match on this form, so ``мирный договор`` also finds
  ``мирного договора``.

Words for hashing and clustering (:func:`folded_words`): NFKC, case-folded ``\\w+`` runs, the
same list for the content hash of a page and the shingles of a story.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime, tzinfo
from functools import lru_cache
from itertools import accumulate

import Stemmer

# C0/C1 control characters (but tab and newlines), soft hyphen, zero-width space, word joiner
# and invisible operators, bidi embeddings/overrides/isolates (they can reverse how the rest of
# a line reads) and BOMs. Zero-width (non-)joiners stay: some scripts and emoji need them.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)


def clean_text(text: str) -> str:
    """``text`` without control, bidi-override and zero-width characters."""
    return _INVISIBLE.sub("", text)


# A word is a run of letters/digits, keeping combining marks that follow a letter (written
# with runs inside the group: the same words as one character at a time, found faster).
_WORD_RE = re.compile(r"[^\W_](?:[^\W_]+|[\u0300-\u036f\u0483-\u0489]+)*")
_WORD_SPLIT = re.compile(f"({_WORD_RE.pattern})")  # text -> [gap, word, gap, word, ..., gap]
_MARKS = {c: None for c in range(0x0300, 0x0370)} | {c: None for c in range(0x0483, 0x048A)}
_EQUIVALENTS = str.maketrans({"ı": "i", "ё": "е"})

_STEMMERS = {
    "cyrillic": Stemmer.Stemmer("russian"),
    "armenian": Stemmer.Stemmer("armenian"),
    "latin": Stemmer.Stemmer("english"),
}


def script_of(word: str) -> str | None:
    """Return the stemmer script of a folded word ('latin', 'cyrillic', 'armenian') or None."""
    for ch in word:
        cp = ord(ch)
        if cp < 0x0250:
            if ch.isalpha():
                return "latin"
        elif 0x0400 <= cp <= 0x052F:
            return "cyrillic"
        elif 0x0530 <= cp <= 0x058F:
            return "armenian"
        elif 0x10A0 <= cp <= 0x10FF or 0x1C90 <= cp <= 0x1CBF:
            return None
    return None


def _strip(word: str) -> str:
    """Remove combining marks (after compatibility decomposition) and fold equivalents."""
    return unicodedata.normalize("NFKD", word).translate(_MARKS).translate(_EQUIVALENTS)


def fold(word: str) -> str:
    """Case-fold a word before stemming: NFKC, casefold, Turkic ``İ`` and Armenian ``եվ``."""
    folded = unicodedata.normalize("NFKC", word.replace("İ", "i")).casefold()
    return folded.replace("եվ", "եւ")


@lru_cache(maxsize=200_000)
def analyse(word: str) -> tuple[str, str]:
    """Return ``(key, surface)`` for one word as found in a text."""
    folded = fold(word)
    stemmer = _STEMMERS.get(script_of(folded) or "")
    stem = stemmer.stemWord(folded) if stemmer else folded
    return _strip(stem), _strip(folded)


class Words:
    """The words of ``text`` as one list of strings (``words``), their character offsets computed
    on demand from the lengths of the words and of the gaps between them: splitting a text
    costs one regular-expression pass and no Python object per word beyond the word itself."""

    __slots__ = ("text", "words", "_parts", "_bounds")

    def __init__(self, text: str) -> None:
        self.text = text
        self._parts = _WORD_SPLIT.split(text)
        self.words: list[str] = self._parts[1::2]
        self._bounds: list[int] | None = None

    def __len__(self) -> int:
        return len(self.words)

    def start(self, i: int) -> int:
        """Character offset of word ``i`` in the text."""
        return self._offsets()[2 * i]

    def end(self, i: int) -> int:
        """Character offset just past word ``i``."""
        return self._offsets()[2 * i + 1]

    def gap(self, a: int, b: int) -> str:
        """The characters between two neighbouring words ``a`` and ``b`` (in either order)."""
        return self._parts[2 * max(a, b)]

    def _offsets(self) -> list[int]:
        if self._bounds is None:  # ends of the gap before word 0, word 0, the gap before word 1, ...
            self._bounds = list(accumulate(map(len, self._parts)))
        return self._bounds


def words(text: str) -> list[str]:
    """Split ``text`` into raw words, exactly as :class:`Words` does."""
    return _WORD_RE.findall(text)


_FOLDED_WORD = re.compile(r"\w+")


def folded_words(text: str | None) -> list[str]:
    """Case-folded, NFKC-normalised words (any script) of ``text``."""
    return _FOLDED_WORD.findall(unicodedata.normalize("NFKC", text or "").casefold())


def content_hash(text: str) -> str:
    """Hash of the folded words of ``text``: identical bodies under different URLs share it."""
    return hashlib.sha256(" ".join(folded_words(text)).encode("utf-8")).hexdigest()


def one_line(text: str) -> str:
    """``text`` with every run of whitespace and control characters made one space."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def format_time(value: datetime | None, tz: tzinfo | None = None) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM UTC``, or in ``tz`` with its abbreviation (empty when unknown)."""
    if not value:
        return ""
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") if tz else value.strftime("%Y-%m-%d %H:%M UTC")
