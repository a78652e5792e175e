"""What an acronym stands for in one article (a topic's ``acronyms``, docs/queries.md).

An acronym means what the article says it stands for. A topic declares the expansion of its
acronyms (``CSTO: Collective Security Treaty Organi*``); an article that spells an acronym out
as something else ("the Caucasus Sports & Tourism Organisation (CSTO)", "CSTO (chief security
and technology officer)", "... the Caspian Sea Transport Observatory. The CSTO ...") uses the
letters for another body, so its occurrences of the acronym are not the topic's.

A *spelling* of an acronym is a run of words whose initials give its letters in order; small
words (``and``, ``of``, ``о``, ``և``, ``და``: at most three letters, not capitalised) may sit
between them unspelled. The article spells an acronym out where such a run stands right next
to it, before or after a bracket, dash, comma or colon (any capitals), or anywhere in the body
as a proper name (every spelling word capitalised) or, in any capitals within 40 words of the
acronym (of the body's start, for an acronym in the title only), as a name none of whose words
begins as the declared expansion's do (``областной детской клинической больницы ... ОДКБ``).
Initials are compared across scripts too: a Latin acronym spelled out in Cyrillic, Armenian or
Georgian words (``Каспийский союз транспортных организаций (CSTO)``) or the reverse is spelled.

An acronym standing in a list of other acronyms (``NATO, OSCE, CSTO, SCO``) is named in passing:
such occurrences do not count either (:func:`listed`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from newswatch.text import Words, analyse, words

SMALL_WORD = 3  # letters: a word this short and not capitalised may stand unspelled in a spelling
_HEAD = 3  # letters of each spelling word compared with the declared expansion's
_SEPARATORS = frozenset(" \t\n\u00a0([«\"“—–-:,")  # may stand between an acronym and its spelling
_MARKS = frozenset("([—–-:,")  # at least one of which must
_JOINERS = frozenset(" \t\u00a0-&'’")  # may stand between two words of one spelling
_LONG_WORD = 4  # letters: each word of a spelling in lower case has at least this many
_FOREIGN_HEAD = 5  # letters compared to tell a spelling in lower case from the declared expansion
_NAME_WINDOW = 40  # words: how far from an occurrence a spelling in lower case may stand
_LIST_ITEMS = 2  # other acronyms next to an occurrence that make it a list
_LIST_GAP = frozenset(" \t\n\u00a0,;/")  # may stand between the items of a list
_LIST_MARKS = frozenset(",;/")  # one of which must, unless a joining word does
_LIST_JOINERS = frozenset({"and", "or", "и", "или", "եւ", "ու", "կամ", "və", "ya", "და", "ან"})
_ENDING_MARKS = frozenset("-'’")  # an ending written onto an acronym (ՄԱԿ-ը, KTMT-nin, NATO's)

# Latin letters that a letter of another script is written as (initials compared across scripts)
_LATIN = {
    **dict(zip("абвгдежзийклмнопрстуфхцчшщыэюя",
               ["a", "b", "vw", "gh", "d", "ey", "zj", "z", "iy", "iy", "kcq", "l", "m", "n", "o", "p", "r",
                "sc", "t", "u", "f", "hkx", "ct", "c", "s", "s", "yi", "e", "yu", "ya"], strict=True)),
    **dict(zip("աբգդեզէըթժիլխծկհձղճմյնշոչպջռսվտրցփքօֆ",
               ["a", "b", "g", "d", "ey", "z", "e", "e", "t", "zj", "i", "l", "khx", "ct", "kc", "h", "dz", "g",
                "cj", "m", "yh", "n", "s", "ov", "c", "p", "j", "r", "s", "v", "t", "r", "ct", "p", "kq", "o", "f"],
               strict=True)),
    **dict(zip("აბგდევზთილკმნოპჟრსტუფქღყშჩცძწჭხჯჰ",
               ["a", "b", "g", "d", "e", "v", "z", "t", "i", "l", "kc", "m", "n", "o", "p", "zj", "r", "s", "t",
                "u", "pf", "kq", "g", "kq", "s", "c", "ct", "dz", "ct", "cj", "khx", "j", "h"], strict=True)),
    "ə": "ea", "ç": "c", "ş": "s", "ğ": "g", "ö": "o", "ü": "u",
}


@dataclass(frozen=True, slots=True)
class Acronym:
    """A topic's acronym (``letters``: its folded form), the heads of the words of its declared
    expansion that spell it, and those words (folded)."""

    letters: str
    heads: tuple[str, ...]
    spelled: tuple[str, ...] = ()


def declare(acronym: str, expansion: str) -> Acronym:
    """The acronym and its expansion, or ValueError when they are not one word and a phrase
    whose words spell it."""
    parts = words(acronym)
    if len(parts) != 1 or parts[0] != acronym.strip() or len(acronym.strip()) < 2:
        raise ValueError(f"acronym {acronym!r}: write one word of two or more letters or digits")
    letters = analyse(parts[0])[1]
    phrase = words(expansion.replace("*", ""))
    picked = _spell([analyse(w)[1] for w in phrase], [_small(w) for w in phrase], letters, whole=True)
    if picked is None:
        raise ValueError(f"acronym {acronym!r}: {expansion!r} does not spell it (each of its letters must"
                         f" begin a word, in order; only words of {SMALL_WORD} letters or fewer may be left out)")
    spelled = tuple(analyse(phrase[i])[1] for i in picked)
    return Acronym(letters, tuple(_head(w) for w in spelled), spelled)


def is_occurrence(acronym: Acronym, surface: str) -> bool:
    """Whether a word (its ``surface``) is the acronym, with an ending written onto it (``კუხოს``)."""
    return surface.startswith(acronym.letters) and len(surface) - len(acronym.letters) <= SMALL_WORD


def occurrences(acronym: Acronym, field: Words) -> list[int]:
    """Word positions of the acronym in ``field``."""
    found = {w for w in set(field.words) if is_occurrence(acronym, _surface(w))}
    return [i for i, w in enumerate(field.words) if w in found] if found else []


def spelled_otherwise(acronym: Acronym, fields: Sequence[tuple[Words, list[int]]], body: int) -> bool:
    """Whether the article spells the acronym out as something other than its declared expansion,
    and nowhere as the expansion: next to the acronym, or (when it does not say so there) as a
    proper name elsewhere. ``fields``: (words, occurrences of the acronym) per field;
    proper-name spellings are looked for in ``fields[body]`` only."""
    beside, elsewhere = set(), set()
    for f, (field_words, at) in enumerate(fields):
        found = _Field(field_words)
        beside.update(_declared(acronym, field_words, s) for s in found.around(at, acronym.letters))
        if f == body:
            elsewhere.update(_declared(acronym, field_words, s)
                             for s in found.names(acronym.letters, set(at), proper=True))
            near = at or [0]  # an acronym only in the title is explained in the opening words
            elsewhere.update(False for s in found.names(acronym.letters, set(at), proper=False)
                             if _foreign(acronym, field_words, s) and _near(s, near))
    return (beside or elsewhere) == {False}


def _near(spelling: list[int], at: list[int]) -> bool:
    """Whether a spelling stands within ``_NAME_WINDOW`` words of an occurrence: words in lower
    case whose initials happen to give the letters further away say nothing about the acronym
    (a long text has such runs by chance)."""
    return any(spelling[0] - _NAME_WINDOW <= i <= spelling[-1] + _NAME_WINDOW for i in at)


def listed(field: Words, at: list[int]) -> list[int]:
    """The occurrences (``at``) of an acronym that stand in a list of at least two other acronyms
    (words written in capitals), their items joined by commas, slashes or "and"/"or"."""
    return [i for i in at if len(_list_items(field, i, -1) | _list_items(field, i, 1)) >= _LIST_ITEMS]


def _list_items(field: Words, i: int, step: int) -> set[str]:
    """The other acronyms of the list that occurrence ``i`` stands in, on one side of it
    (``step`` -1: before it, 1: after it)."""
    items: set[str] = set()
    k = i
    while True:
        if step == 1 and k + 1 < len(field) and _is_ending(field, k + 1):
            k += 1
        j = k + step
        joined = 0 <= j < len(field) and _surface(field.words[j]) in _LIST_JOINERS and set(field.gap(k, j)) <= _LIST_GAP
        if joined:
            k, j = j, j + step  # "NATO, EU and CSTO": past the joining word
        if not (0 <= j < len(field) and set(field.gap(k, j)) <= _LIST_GAP
                and (joined or set(field.gap(k, j)) & _LIST_MARKS)):  # words in capitals side by side: a headline
            return items
        if step == -1 and _is_ending(field, j):
            j -= 1
        if not _is_acronym_word(field.words[j]):
            return items
        items.add(field.words[j])
        k = j


def _is_acronym_word(word: str) -> bool:
    return len(word) >= 2 and word.isupper()


def _is_ending(field: Words, k: int) -> bool:
    """Whether word ``k`` is an ending written onto the acronym before it (``ՄԱԿ-ը``, ``KTMT-nin``)."""
    return (k > 0 and _is_acronym_word(field.words[k - 1]) and not field.words[k][:1].isupper()
            and len(field.words[k]) <= SMALL_WORD + 1
            and field.gap(k - 1, k) in _ENDING_MARKS)


def _fits(initial: str, letter: str) -> bool:
    """Whether a word beginning with ``initial`` may spell ``letter`` of an acronym: the same letter,
    or letters of two scripts that are written alike in Latin (``к`` and ``k``, ``ც`` and ``c``)."""
    if initial == letter:
        return True
    a, b = _LATIN.get(initial, initial), _LATIN.get(letter, letter)
    return (initial in _LATIN) != (letter in _LATIN) and bool(set(a) & set(b))


def _declared(acronym: Acronym, field: Words, picked: list[int]) -> bool:
    """Whether the spelling's words begin as the declared expansion's do (any inflection)."""
    heads = (_head(_surface(field.words[i])) for i in picked)
    return all(a.startswith(b) or b.startswith(a) for a, b in zip(heads, acronym.heads, strict=True))


def _foreign(acronym: Acronym, field: Words, picked: list[int]) -> bool:
    """Whether none of the spelling's words begins as any word of the declared expansion does
    (their first ``_FOREIGN_HEAD`` letters: ``təsərrüfatı`` is not ``Təşkilat``)."""
    heads = [_surface(field.words[i])[:_FOREIGN_HEAD] for i in picked]
    return not any(a.startswith(b[:_FOREIGN_HEAD]) or b.startswith(a) for a in heads for b in acronym.spelled)


def _surface(word: str) -> str:
    return analyse(word)[1]


def _head(surface: str) -> str:
    return surface[:_HEAD]


def _small(word: str) -> bool:
    return len(word) <= SMALL_WORD and not word[:1].isupper()


def _spell(surfaces: Sequence[str], small: Sequence[bool], letters: str, whole: bool = False,
           allowed: Sequence[bool] | None = None) -> list[int] | None:
    """Indexes of the words spelling ``letters`` from the first word on (picking a word where
    its initial fits, else leaving out a small word), or None. ``whole``: every word must be
    used; ``allowed``: which words may spell a letter."""
    @cache
    def walk(p: int, k: int) -> list[int] | None:
        if k == len(letters):
            return [] if not whole or p == len(surfaces) else None
        if p == len(surfaces):
            return None
        if _fits(surfaces[p][:1], letters[k]) and (allowed is None or allowed[p]):
            rest = walk(p + 1, k + 1)
            if rest is not None:
                return [p, *rest]
        return walk(p + 1, k) if small[p] else None

    return walk(0, 0)


class _Field:
    """One field's words, for finding spellings in it."""

    def __init__(self, field: Words) -> None:
        self.field = field
        self.small = [_small(w) for w in field.words]

    def _run(self, start: int, step: int, limit: int) -> list[int]:
        """Word positions from ``start`` in direction ``step`` while words are joined (at most ``limit``)."""
        run = [start]
        while len(run) < limit:
            nxt = run[-1] + step
            if not 0 <= nxt < len(self.field):
                break
            if not set(self.field.gap(run[-1], nxt)) <= _JOINERS:
                break
            run.append(nxt)
        return run

    def around(self, at: list[int], letters: str) -> list[list[int]]:
        """Spellings standing right before or after an occurrence of the acronym, across a mark."""
        limit = 3 * len(letters)
        out = []
        for i in at:
            if i > 0 and self._marked(self.field.gap(i - 1, i)):
                run = self._run(i - 1, -1, limit)[::-1]  # ends right before the acronym
                for first in range(len(run)):
                    picked = self._spell(run[first:], letters, whole=True)
                    if picked is not None:
                        out.append(picked)
                        break
            if i + 1 < len(self.field) and self._marked(self.field.gap(i, i + 1)):
                picked = self._spell(self._run(i + 1, 1, limit), letters)
                if picked is not None:
                    out.append(picked)
        return out

    def names(self, letters: str, skip: set[int], proper: bool) -> list[list[int]]:
        """Spellings anywhere: ``proper``, whose spelling words are all capitalised (not written in
        capitals only); else, in any capitals, whose spelling words all have at least
        ``_LONG_WORD`` letters."""
        if proper:
            allowed = [w[:1].isupper() and not (len(w) > 1 and w.isupper()) and i not in skip
                       for i, w in enumerate(self.field.words)]
        else:
            allowed = [len(w) >= _LONG_WORD and not w.isupper() and i not in skip
                       for i, w in enumerate(self.field.words)]
        out = []
        for i, w in enumerate(self.field.words):
            if allowed[i] and _fits(_surface(w)[:1], letters[0]):
                run = self._run(i, 1, 3 * len(letters))
                picked = self._spell(run, letters, allowed=[allowed[p] for p in run])
                if picked is not None:
                    out.append(picked)
        return out

    def _spell(self, run: list[int], letters: str, whole: bool = False,
               allowed: Sequence[bool] | None = None) -> list[int] | None:
        picked = _spell([_surface(self.field.words[p]) for p in run], [self.small[p] for p in run], letters, whole,
                        allowed)
        return None if picked is None else [run[n] for n in picked]

    @staticmethod
    def _marked(between: str) -> bool:
        return set(between) <= _SEPARATORS and bool(set(between) & _MARKS)
