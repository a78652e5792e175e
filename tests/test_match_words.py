"""The matcher's word lookup against a plain reference, on every text we have and on hostile ones.

The matcher splits a field into a list of words (:class:`newswatch.text.Words`), looks up each
distinct word once and records positions only where a word matched. The reference here does
it the plain way: every occurrence of every word analysed on its own (one object per word, as
a tokenizer does), its stem looked up and every wildcard prefix tried on it, every literal
tried at every position. Both must give exactly the same words, offsets and literal hits
(field, first word, end word): the scores, reasons and snippets are computed from those alone,
so a word lookup that drops or adds a hit fails here.
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from collections import defaultdict
from pathlib import Path

import pytest
import yaml
from conftest import REPO, SAMPLES
from labelled.data import load_articles, load_watchlist

from newswatch.config import Topic
from newswatch import match
from newswatch.match import compile_topics
from newswatch.query import parse_listed_term
from newswatch.text import Words, analyse, words

# What a word is (docs: a run of letters and digits, with the combining marks that follow a
# letter), one character at a time, as the matcher first wrote it.
REFERENCE_WORD = re.compile(r"[^\W_](?:[^\W_]|[\u0300-\u036f\u0483-\u0489])*")

# Topics over the analysis' corner cases: capitals (case:), wildcards of nested lengths in
# several scripts, Snowball stems that are not prefixes of the word (agency -> agenc, y -> i),
# NFKC (ligatures, fullwidth), full case folding (ß, final sigma), Turkic i, ё, Armenian և.
HOSTILE_TOPICS = [
    Topic(name="capitals", query='case:CSTO OR case:"US Army" OR case:Ka* OR case:KTMT OR case:ОДКБ'),
    Topic(name="wildcards", query="pe* OR peacek* OR peacekeeping* OR мир* OR миротворц* OR խաղաղապահ*"
                                  " OR sülhməramlı* OR მშვიდობისმყოფ* OR İstanbul* OR ёлк* OR ıs*"),
    Topic(name="stems", query='agency OR "peace treaty" OR "мирный договор" OR Straße OR café OR naïve'
                              ' OR ΣΊΣΥΦΟΣ OR ﬁnal OR եվ OR "Հայաստան և Արցախ" OR dying OR skies OR ёлка'),
    Topic(name="near", query="(ОДКБ OR CSTO OR ՀԱՊԿ) NEAR/3 @armenia AND NOT lang:ka"),
    Topic(name="glued", query='"cease fire" OR "KTMT nin" OR 2025 OR "Nagorno Karabakh" OR "Ա Բ"'),
]

SUFFIXES = ["s", "es", "ies", "'s", "ed", "ing", "ly", "а", "ов", "ами", "ого", "ի", "ը", "ում", "ից",
            "nin", "ın", "lar", "ის", "ში", "ებს", "y", "i"]
SEPARATORS = [" ", " ", " ", "  ", "\n", "\n\n", ", ", ". ", "«", "» ", "-", "—", "(", ") ", "’", "'", "_",
              "", "\u200d", "\u00a0", "/", ":", " 🙂 ", "\t", "..."]
MARKS = [chr(c) for c in (0x0300, 0x0301, 0x0308, 0x0327, 0x0307, 0x036F, 0x0483, 0x0489)]
OTHER_SCRIPTS = ["Ελλάδα", "ΣΊΣΥΦΟΣ", "שלום", "مرحبا", "東京都", "हिन्दी", "ไทย", "ǅemal", "ﬂag", "ＣＳＴＯ",
                 "x²", "Ⅻ", "ÅNGSTRÖM", "İİ", "ıı", "ЁЖ", "ԵՎ", "և", "9", "2025", "_", "a_b", "ǈ"]


def reference_find(index, texts: tuple[str, str]) -> tuple[dict, list[list[tuple[int, int]]]]:
    """Every literal of ``index`` occurring in ``texts``, found word occurrence by word
    occurrence; and the words' offsets."""
    prefixes = tuple(index.prefix)
    found: dict[int, list[tuple[int, int, int]]] = {}
    offsets = []
    for f, text in enumerate(texts):
        tokens = [(m.start(), m.end(), *analyse(m.group())) for m in REFERENCE_WORD.finditer(text)]
        offsets.append([(s, e) for s, e, _, _ in tokens])
        at: dict[int, list[int]] = defaultdict(list)  # pattern id -> positions
        patterns: list[set[int]] = []
        for i, (_, _, key, surface) in enumerate(tokens):
            pids = {index.exact[key]} if key in index.exact else set()
            if surface.startswith(prefixes):
                pids.update(pid for prefix, pid in index.prefix.items() if surface.startswith(prefix))
            patterns.append(pids)
            for pid in pids:
                at[pid].append(i)
        for lit, seq in enumerate(index.sequences):
            for i in at.get(seq[0], ()):
                if i + len(seq) <= len(tokens) and all(seq[j] in patterns[i + j] for j in range(len(seq))):
                    found.setdefault(lit, []).append((f, i, i + len(seq)))
    return found, offsets


def _variant(word: str, rng: random.Random) -> str:
    """``word`` as an article might write it: capitals, inflection, marks, Turkic i, ё, և, NFKC forms."""
    kind = rng.randrange(14)
    if kind == 0:
        return word.upper()
    if kind == 1:
        return word.lower()
    if kind == 2:
        return word.title()
    if kind == 3:
        return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in word)
    if kind == 4:
        return word + rng.choice(SUFFIXES)
    if kind == 5:
        return unicodedata.normalize("NFD", word)
    if kind == 6:
        at = rng.randrange(len(word) + 1)
        return word[:at] + rng.choice(MARKS) + word[at:]
    if kind == 7:
        return word.replace("i", rng.choice(["İ", "ı", "I"])).replace("I", rng.choice(["İ", "ı", "i"]))
    if kind == 8:
        return word.replace("е", "ё").replace("Е", "Ё")
    if kind == 9:
        return word.replace("եւ", "և").replace("եվ", rng.choice(["և", "ԵՎ", "Եվ"]))
    if kind == 10:
        return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in word)  # fullwidth
    if kind == 11:
        return word[: max(1, len(word) // 2)]
    if kind == 12:
        return word[:-1] + "ies" if word.endswith("y") else word + "y"
    return word


def hostile_texts(seeds: list[tuple[str, ...]], filler: list[str], count: int,
                  seed: int = 15) -> list[tuple[str, str]]:
    """Seeded (title, body) pairs of the topics' words and phrases in variants, glued to
    punctuation and other scripts, at the very start and end of the text, among ordinary words."""
    rng = random.Random(seed)

    def text(length: int) -> str:
        parts = []
        for _ in range(length):
            pick = rng.random()
            phrase = (rng.choice(seeds) if pick < 0.45
                      else (rng.choice(OTHER_SCRIPTS),) if pick < 0.6 else (rng.choice(filler),))
            for word in phrase:
                parts += [_variant(word, rng) if pick < 0.45 else word, rng.choice(SEPARATORS)]
        return "".join(parts[:-1] if rng.random() < 0.5 else parts)

    return [(text(rng.randint(0, 12)), text(rng.choice((0, 1, 3, 40, 150)))) for _ in range(count)]


def _corpus_texts() -> list[tuple[str, str]]:
    """Title and body of every article of the labelled set, the held-out relevance sets, the
    clustering sets and the sample articles."""
    texts = [(a["title"], a["body"]) for a in load_articles()]
    for path in sorted((REPO / "tests" / "heldout").glob("*.yaml")):
        texts += [(a["title"], a["body"]) for a in yaml.safe_load(path.read_text(encoding="utf-8"))]
    for path in (REPO / "tests" / "data" / "cluster_testset.json", REPO / "tests" / "heldout" / "clusters.json"):
        if path.exists():
            texts += [(s["title"], "\n\n".join(s["paragraphs"]))
                      for s in json.loads(path.read_text(encoding="utf-8"))["stories"]]
    texts += [("", p.read_text(encoding="utf-8")) for p in sorted(Path(SAMPLES).glob("*.txt"))]
    return texts


@pytest.fixture(scope="module")
def matcher():
    shipped, entities = load_watchlist()
    return compile_topics([*shipped, *HOSTILE_TOPICS], entities, semantic=False)


@pytest.fixture(scope="module")
def corpus() -> list[tuple[str, str]]:
    return _corpus_texts()


def _seed_phrases() -> list[tuple[str, ...]]:
    """Every phrase and every word the topics and entities are written with, as written."""
    shipped, entities = load_watchlist()
    phrases = [p for t in [*shipped, *HOSTILE_TOPICS] for ps in t.terms.values() for p in ps]
    phrases += [a for e in entities.values() for a in e.aliases]
    seeds = [tuple(w.text for w in parse_listed_term(p).words) for p in phrases]
    seeds += [(w,) for t in [*shipped, *HOSTILE_TOPICS] for w in words(t.query or "")]
    seeds += [(w,) for phrase in seeds for w in phrase]
    return sorted(set(seeds))


def _check(matcher, texts: list[tuple[str, str]]) -> int:
    """Assert the matcher's lookup equals the reference on every text; return the hits found."""
    index = matcher._index
    hits = 0
    for title, body in texts:
        fields = (Words(title), Words(body))
        expected, offsets = reference_find(index, (title, body))
        for field, text, spans in zip(fields, (title, body), offsets, strict=True):
            assert [(field.start(i), field.end(i)) for i in range(len(field))] == spans, text
            assert field.words == [text[s:e] for s, e in spans]
        assert index.find(fields) == expected, (title, body)
        hits += sum(map(len, expected.values()))
    return hits


def test_lookup_equals_reference_on_every_article(matcher, corpus):
    assert len(corpus) > 500
    hits = _check(matcher, corpus)
    assert hits > 10 * len(corpus)  # the shipped topics' words occur throughout this material


def test_lookup_equals_reference_on_hostile_texts(matcher, corpus):
    filler = sorted({w for _, body in corpus[:200] for w in words(body)})
    texts = hostile_texts(_seed_phrases(), filler, 1500)
    hits = _check(matcher, texts)
    # the material exercises what it is for: wildcards, phrases and capitals are found in it
    index, found = matcher._index, [reference_find(matcher._index, t)[0] for t in texts]
    for kind, pids, least in (("prefix", set(index.prefix.values()), 5000), ("exact", set(index.exact.values()), 2000)):
        assert sum(1 for f in found for lit in f if index.sequences[lit][0] in pids) > least, kind
    assert sum(1 for f in found for lit in f if len(index.sequences[lit]) > 1) > 500  # phrases
    assert hits > 10 * len(texts)


def test_lookup_holds_when_the_words_seen_are_forgotten(corpus, monkeypatch):
    """The matcher forgets the words it has seen when there are too many (a long run, pages of
    random text): no hit is lost, also when one field alone brings more new words than that."""
    monkeypatch.setattr(match, "_SEEN_WORDS", 40)
    shipped, entities = load_watchlist()
    forgetful = compile_topics([*shipped, *HOSTILE_TOPICS], entities, semantic=False)
    hits = _check(forgetful, corpus)
    assert hits > 10 * len(corpus)


def test_matches_on_hostile_texts_name_what_was_written(matcher):
    """A match found through the word lookup explains itself with the words as written."""
    title, body = "ОДКБ", "Армения и «ОДКБ»: ՀԱՊԿ-ն ԵՎ Հայաստանը; peacekeepingmission, CSTO–Armenia."
    matches = {m.topic: m for m in matcher.match(title, body, "ru")}
    assert "'ОДКБ'" in matches["near"].reason
    assert "'peacekeepingmission'" in matches["wildcards"].reason
    snippet = matches["capitals"].snippets[0]
    assert [snippet.text[s:e] for s, e in snippet.spans] == ["ОДКБ", "CSTO"]
