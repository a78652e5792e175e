"""Match articles against watched topics, with a relevance score and an explanation.

All topics are compiled once into one term index (:func:`compile_topics`): every word of
every term, phrase and entity alias of every topic becomes one entry of a single hash
table (stems) or prefix table (wildcards). Matching an article splits each field once into
its words (one regular-expression pass, no object per word: :class:`~newswatch.text.Words`),
looks each distinct word up once in those tables (the answer is remembered per word across
articles), records word positions only in a field where some word matched, and evaluates
only the topics whose trigger terms occur in it. An article no topic can match costs that
one pass and a lookup per distinct word; the cost grows with the article's hits, not with
the number of topics. The query language is described in docs/queries.md.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib.metadata import version

from newswatch.acronyms import Acronym, declare, is_occurrence, listed, occurrences, spelled_otherwise
from newswatch.config import TERMS_REF, Entity, Topic, check_entity_refs
from newswatch.errors import TopicError
from newswatch.models import Snippet, TopicMatch
from newswatch.query import (
    CASE_PREFIX,
    And,
    AtLeast,
    Boost,
    EntityRef,
    Field,
    Lang,
    Near,
    Node,
    Not,
    Or,
    Term,
    parse_query,
    parse_listed_term,
)
from newswatch.semantic import SemanticScorer, model_id
from newswatch.semantic import available as semantic_available
from newswatch.text import Words, analyse

log = logging.getLogger("newswatch.match")

# Bump when matching behaviour changes, so stored articles are re-matched.
MATCHER_VERSION = 2  # 2: reasons in words

_TITLE, _BODY = 0, 1
_IN_FIELD = {"title": _TITLE, "body": _BODY, "lede": _BODY}  # what title:, body:, lede: look in
LEDE_WORDS = 60  # lede: the body's first words, where a news story says what it is about
_ALL_FIELDS = frozenset((_TITLE, _BODY))
_WEIGHT = (3.0, 1.0)  # a title hit weighs three body hits
_AVG_LEN = (12.0, 300.0)  # typical title / body length in words (BM25 length normalisation)
_K1, _B = 1.2, 0.75  # BM25 term-frequency saturation and length normalisation
_PROXIMITY = 10  # different terms at most this many words apart earn a bonus ...
_PROXIMITY_BONUS, _PROXIMITY_MAX = 0.25, 1.0  # ... of 0.25 per neighbouring pair, at most 1.0
_CONTEXT = 12  # words of context either side of a snippet's hits
_MAX_WINDOW = 40  # words of hits grouped into one snippet
_SEEN_WORDS = 200_000  # distinct words of texts remembered as analysed (then forgotten at once)


def field_score(field: int, count: int, length: int) -> float:
    """BM25-style score of a term occurring ``count`` times in a field (0 title, 1 body) of ``length`` words."""
    norm = 1 - _B + _B * length / _AVG_LEN[field]
    return _WEIGHT[field] * count * (_K1 + 1) / (count + _K1 * norm)


@dataclass(frozen=True, slots=True)
class _Lits:
    """Compiled term or entity: matches where any of the literals ``ids`` occurs (and, with
    ``case``, is written with exactly these words, or word beginnings, as (text, prefix))."""

    ids: tuple[int, ...]
    label: str
    case: tuple[tuple[str, bool], ...] | None = None


# A hit of one literal: (first word, end word exclusive, label as written in the topic).
_Leaf = tuple[int, int, str]
# A positional match: (field, first word, end word exclusive, the literal hits inside it).
_Span = tuple[int, int, int, tuple[_Leaf, ...]]


@dataclass(slots=True)
class _Hit:
    """A matched (sub)query: its relevance, the literal hits that support it, and those of its
    filters (``^0``: the context it was found in, named in the reason but not scored)."""

    score: float
    spans: list[_Span]
    context: list[_Span] = field(default_factory=list)

    def add(self, other: _Hit) -> None:
        self.score += other.score
        self.spans.extend(other.spans)
        self.context.extend(other.context)


@dataclass(frozen=True, slots=True)
class _Compiled:
    name: str
    node: object
    min_score: float
    own: frozenset[str]  # labels of the topic's own terms, named first in its reasons
    acronyms: tuple[Acronym, ...] = ()  # its acronyms, with what they stand for


class _Index:
    """The one multi-pattern index over the words of all literals of all topics."""

    def __init__(self) -> None:
        self.exact: dict[str, int] = {}  # stem key -> word pattern id
        self.prefix: dict[str, int] = {}  # folded prefix -> word pattern id
        self.partial: set[str] = set()  # every leading part of every prefix (early exit)
        self.literals: dict[tuple[int, ...], int] = {}  # word pattern ids -> literal id
        self.sequences: list[tuple[int, ...]] = []  # literal id -> word pattern ids
        self.first: dict[int, list[int]] = {}  # word pattern id -> literals starting with it
        self.prefix_lengths: tuple[int, ...] = ()
        self._known: set[str] = set()  # words of texts analysed so far ...
        self._matching: dict[str, tuple[int, ...]] = {}  # ... those that match a pattern: their ids

    def literal(self, term: Term) -> int:
        """Register a term and return its literal id."""
        self._known.clear()
        self._matching.clear()
        pids = []
        for word in term.words:
            key, surface = analyse(word.text)
            table, text = (self.prefix, surface) if word.prefix else (self.exact, key)
            pids.append(table.setdefault(text, len(self.exact) + len(self.prefix)))
            if word.prefix:
                self.partial.update(surface[:n] for n in range(1, len(surface) + 1))
                if len(surface) not in self.prefix_lengths:
                    self.prefix_lengths = tuple(sorted({*self.prefix_lengths, len(surface)}))
        seq = tuple(pids)
        if seq not in self.literals:
            self.literals[seq] = len(self.sequences)
            self.sequences.append(seq)
            self.first.setdefault(seq[0], []).append(self.literals[seq])
        return self.literals[seq]

    def _learn(self, word: str) -> None:
        """Analyse a word of a text once and remember the word pattern ids it matches (its
        stem; its folded beginnings), if any."""
        self._known.add(word)
        key, surface = analyse(word)
        pids = [] if (pid := self.exact.get(key)) is None else [pid]
        for n in self.prefix_lengths:
            head = surface[:n]
            if n > len(surface) or head not in self.partial:
                break  # no longer prefix can match either
            if (pid := self.prefix.get(head)) is not None:
                pids.append(pid)
        if pids:
            self._matching[word] = tuple(pids)

    def find(self, fields: Sequence[Words]) -> dict[int, list[tuple[int, int, int]]]:
        """Return every literal occurring in the fields' words: id -> [(field, start, end)].

        The distinct words of a field are matched against the words seen before as sets (new
        words are analysed once); positions are collected only in a field where a word matched."""
        sequences, matching = self.sequences, self._matching
        found: dict[int, list[tuple[int, int, int]]] = {}
        for f, field_words in enumerate(fields):
            ws = field_words.words
            distinct = set(ws)
            new = distinct - self._known
            if len(self._known) + len(new) > _SEEN_WORDS:  # forget before, never while, reading a field
                self._known.clear()
                self._matching.clear()
                new = distinct
            for word in new:
                self._learn(word)
            hits = distinct & matching.keys()
            if not hits:
                continue
            at = {i: matching[w] for i, w in enumerate(ws) if w in hits}
            for i, pids in at.items():
                for pid in pids:
                    for lit in self.first.get(pid, ()):
                        seq = sequences[lit]
                        if all(seq[j] in at.get(i + j, ()) for j in range(1, len(seq))):
                            found.setdefault(lit, []).append((f, i, i + len(seq)))
        return found


class Matcher:
    """Topics compiled into one index; ``match`` scores one article against all of them."""

    def __init__(self, topics: Sequence[Topic], entities: Mapping[str, Entity], semantic: bool = True) -> None:
        self._index = _Index()
        self._entities = entities
        self._entity_lits: dict[str, _Lits] = {}
        self._topics = [_Compiled(t.name, self._compile_topic(t), t.min_score,
                                  frozenset(p.removeprefix(CASE_PREFIX) for ps in t.terms.values() for p in ps),
                                  tuple(declare(a, e) for a, e in t.acronyms.items()))
                        for t in topics]
        options = {n: t.semantic for n, t in enumerate(topics) if t.semantic is not None}
        if options and semantic and not semantic_available():
            log.warning("semantic matching is configured but the 'semantic' extra is not installed: "
                        "matching by keywords only (uv sync --extra semantic)")
        self._semantic_options = options if semantic and semantic_available() else {}
        self._semantic = (SemanticScorer([o.examples for o in self._semantic_options.values()])
                          if self._semantic_options else None)
        # A topic is evaluated only for articles containing one of its trigger literals.
        self._by_literal: dict[int, set[int]] = {}
        for n, topic in enumerate(self._topics):
            for lit in _triggers(topic.node) or ():
                self._by_literal.setdefault(lit, set()).add(n)
        self.fingerprint = _fingerprint(topics, entities, model_id() if self._semantic else None)

    def _compile_topic(self, topic: Topic) -> object:
        try:
            check_entity_refs(topic, self._entities)
        except ValueError as err:
            raise TopicError(str(err)) from None
        terms = [parse_listed_term(p) for phrases in topic.terms.values() for p in phrases]
        own = Or(tuple(terms)) if len(terms) > 1 else (terms[0] if terms else None)
        if not topic.query:
            return self._compile(own)
        return self._compile(parse_query(topic.query), own)

    def _compile(self, node: Node, own: Node | None = None) -> object:
        """Replace terms and entity references (``@terms``: ``own``) by literals of the shared index."""
        if isinstance(node, Term):
            case = tuple((w.text, w.prefix) for w in node.words) if node.exact_case else None
            return _Lits((self._index.literal(node),), node.source, case)
        if isinstance(node, EntityRef) and node.name == TERMS_REF:
            return self._compile(own)
        if isinstance(node, EntityRef):
            if node.name not in self._entity_lits:
                self._entity_lits[node.name] = self._aliases(node.name)
            return self._entity_lits[node.name]
        if isinstance(node, And | Or):
            return replace(node, operands=tuple(self._compile(op, own) for op in node.operands))
        if isinstance(node, Near):
            return replace(node, left=self._compile(node.left, own), right=self._compile(node.right, own))
        if isinstance(node, AtLeast | Field | Boost | Not):
            return replace(node, operand=self._compile(node.operand, own))
        return node

    def _aliases(self, name: str) -> object:
        """An entity as one term: its aliases' literals (an OR of them when some need their capitals)."""
        label, aliases = f"@{name}", [parse_listed_term(a) for a in self._entities[name].aliases]
        if not any(term.exact_case for term in aliases):
            return _Lits(tuple(dict.fromkeys(self._index.literal(term) for term in aliases)), label)
        return Or(tuple(replace(self._compile(term), label=label) for term in aliases))

    def match(self, title: str, body: str, language: str | None) -> list[TopicMatch]:
        """Return the topics the article matches (score >= min_score), best first."""
        texts = (title or "", body or "")
        fields = (Words(texts[_TITLE]), Words(texts[_BODY]))
        found = self._index.find(fields)
        triggered = {n for lit in found for n in self._by_literal.get(lit, ())}
        meaning = self._meaning(texts)
        ev = _Evaluator(found, fields, language)
        results = []
        for n in sorted(triggered | meaning.keys()):
            topic = self._topics[n]
            hit = _own_sense(ev, topic.acronyms).hit(topic.node, _ALL_FIELDS) if n in triggered else None
            keyword = hit.score + _proximity_bonus(hit.spans) if hit else 0.0
            similarity, semantic = meaning.get(n, (0.0, 0.0))
            score = keyword + semantic
            if score <= 0 or score < topic.min_score:
                continue
            terms = _terms(hit.spans) if hit else ()
            if semantic:
                terms += (f"~meaning {similarity:.2f}",)
            snippets = _snippets(fields, hit.spans) if hit and hit.spans else _lead(fields)
            reason = "; ".join((*(self._reason(fields, hit, topic.own) if hit else ()),
                                *(("close in meaning to the topic's examples",) if semantic else ())))
            results.append(TopicMatch(topic.name, round(score, 3), terms, snippets, reason))
        results.sort(key=lambda m: -m.score)
        return results

    def _reason(self, fields: tuple[Words, Words], hit: _Hit, own: frozenset[str]) -> list[str]:
        """Why ``hit`` matched, in words: each term and what was found near it, the terms found
        on their own (in the title, how often), then the context its filters found. A named
        entity (its name capitalised: "Armenia") is shown by name, other words as found."""
        names: dict[str, str] = {}

        def say(f: int, s: int, e: int, label: str) -> str:
            if label not in names:
                entity = self._entities.get(label[1:]) if label.startswith("@") else None
                named = entity is not None and entity.name[:1].isupper()
                names[label] = entity.name if named else f"'{fields[f].text[fields[f].start(s):fields[f].end(e - 1)]}'"
            return names[label]

        near: dict[str, dict[str, None]] = {}
        alone: dict[str, set[tuple[int, int]]] = {}
        for f, _, _, leaves in hit.spans + hit.context:
            found = {label: say(f, s, e, label) for s, e, label in sorted(leaves)}
            if len(found) == 1:
                continue
            anchor = min(found, key=lambda label: (label not in own, label.startswith("@")))
            near.setdefault(anchor, {}).update(dict.fromkeys(label for label in found if label != anchor))
        for f, _, _, leaves in hit.spans:
            for s, e, label in leaves:
                say(f, s, e, label)
                alone.setdefault(label, set()).add((f, s))
        def nearby(partners: dict[str, None]) -> str:  # two words and two names at most
            shown_words = [names[p] for p in partners if names[p].startswith("'")][:2]
            return ", ".join(shown_words + [names[p] for p in partners if not names[p].startswith("'")][:2])

        reasons = [f"{names[anchor]} near {nearby(partners)}" for anchor, partners in near.items()]
        shown = set(near) | {label for partners in near.values() for label in partners}
        for label, places in alone.items():
            if label not in shown:
                where = " in the title" if any(f == _TITLE for f, _ in places) else ""
                reasons.append(names[label] + where + (f", {len(places)} times" if len(places) > 1 else ""))
                shown.add(label)
        context = dict.fromkeys(say(f, s, e, label) for f, _, _, leaves in hit.context
                                for s, e, label in leaves if label not in shown)
        reasons = reasons[:3]
        if context:
            reasons.append(", ".join(list(context)[:3]) + " mentioned")
        return reasons

    def clauses(self, name: str, title: str, body: str, language: str | None) -> list[bool]:
        """Whether each clause of topic ``name`` (the operands of its query's top-level AND, or
        the whole query) holds for this article, keywords only."""
        fields = (Words(title or ""), Words(body or ""))
        topic = next(topic for topic in self._topics if topic.name == name)
        ev = _own_sense(_Evaluator(self._index.find(fields), fields, language), topic.acronyms)
        node = topic.node
        operands = node.operands if isinstance(node, And) else (node,)
        return [ev.hit(op, _ALL_FIELDS) is not None for op in operands]

    def _meaning(self, texts: tuple[str, str]) -> dict[int, tuple[float, float]]:
        """Topic -> (similarity, score contribution) for topics whose examples the article is close to."""
        if self._semantic is None:
            return {}
        out = {}
        for (n, opts), sim in zip(self._semantic_options.items(), self._semantic.similarities(*texts), strict=True):
            if sim > opts.threshold:
                out[n] = (float(sim), opts.weight * (float(sim) - opts.threshold) / (1 - opts.threshold))
        return out


def compile_topics(topics: Sequence[Topic], entities: Mapping[str, Entity] | None = None,
                   semantic: bool = True) -> Matcher:
    """Compile all topics (and the entities their queries refer to) into one :class:`Matcher`.

    ``semantic=False`` ignores the topics' ``semantic`` options (keywords only).
    """
    return Matcher(topics, entities or {}, semantic)


def _triggers(node: object) -> frozenset[int] | None:
    """Literals of which any matching article must contain at least one (None: no such set).

    Where several operands are all required (AND, NEAR), the smallest set is kept, so an
    article mentioning only a common context entity does not wake the topic up.
    """
    if isinstance(node, _Lits):
        return frozenset(node.ids)
    if isinstance(node, Or):
        subs = [_triggers(op) for op in node.operands]
        return None if None in subs else frozenset().union(*subs)
    if isinstance(node, Near) and node.exclude:
        return _triggers(node.left)
    if isinstance(node, And | Near):
        operands = node.operands if isinstance(node, And) else (node.left, node.right)
        subs = [t for op in operands if (t := _triggers(op)) is not None]
        return min(subs, key=len) if subs else None
    if isinstance(node, AtLeast | Field | Boost):
        return _triggers(node.operand)
    return None  # NOT and lang: require nothing


class _Evaluator:
    """Evaluates compiled queries against the literal hits of one article."""

    def __init__(self, found: dict[int, list[tuple[int, int, int]]], fields: tuple[Words, Words],
                 language: str | None) -> None:
        self.found = found
        self.fields = fields
        self._lengths = (len(fields[_TITLE]), len(fields[_BODY]))
        self.language = language

    def _written(self, f: int, start: int, case: tuple[tuple[str, bool], ...]) -> bool:
        """Whether the words from ``start`` in field ``f`` are written as ``case`` says (capitals)."""
        for written, (word, prefix) in zip(self.fields[f].words[start:start + len(case)], case, strict=True):
            if not (written.startswith(word) if prefix else written == word):
                return False
        return True

    def spans(self, node: object, fields: frozenset[int]) -> list[_Span]:
        """Positions where a positional node matches, sorted by (field, start)."""
        if isinstance(node, _Lits):
            out = [(f, s, e, ((s, e, node.label),)) for lit in node.ids
                   for f, s, e in self.found.get(lit, ())
                   if f in fields and (node.case is None or self._written(f, s, node.case))]
        elif isinstance(node, Or):
            out = [span for op in node.operands for span in self.spans(op, fields)]
        elif isinstance(node, Field):
            out = self.spans(node.operand, fields & {_IN_FIELD[node.field]})
            return [sp for sp in out if sp[1] < LEDE_WORDS] if node.field == "lede" else out
        elif isinstance(node, Boost):
            return self.spans(node.operand, fields)
        elif isinstance(node, AtLeast):
            out = self.spans(node.operand, fields)
            return out if len(out) >= node.count else []
        else:
            assert isinstance(node, Near)
            if node.exclude:
                return _apart(self.spans(node.left, fields), self.spans(node.right, fields), node.distance)
            return _near(self.spans(node.left, fields), self.spans(node.right, fields), node.distance)
        out.sort(key=lambda sp: (sp[0], sp[1], sp[2]))
        return out

    def score(self, spans: list[_Span]) -> float:
        """BM25-style relevance: each distinct term scores by its occurrences per field."""
        tf: dict[tuple[str, int], int] = {}
        for f, s, e, label in {(f, s, e, label) for f, _, _, leaves in spans for s, e, label in leaves}:
            tf[label, f] = tf.get((label, f), 0) + 1
        total = 0.0
        for (_, f), n in tf.items():
            total += field_score(f, n, self._lengths[f])
        return total

    def hit(self, node: object, fields: frozenset[int]) -> _Hit | None:
        """Evaluate a (sub)query; None when it does not match."""
        if isinstance(node, _Lits) and not any(lit in self.found for lit in node.ids):
            return None  # the common case, decided without building spans
        if isinstance(node, And):
            total = _Hit(0.0, [])
            for op in node.operands:
                sub = self.hit(op, fields)
                if sub is None:
                    return None
                total.add(sub)
            return total
        if isinstance(node, Or):
            subs = [sub for op in node.operands if (sub := self.hit(op, fields)) is not None]
            if not subs:
                return None
            for sub in subs[1:]:
                subs[0].add(sub)
            return subs[0]
        if isinstance(node, Not):
            return None if self.hit(node.operand, fields) else _Hit(0.0, [])
        if isinstance(node, Lang):
            return _Hit(0.0, []) if self.language == node.code else None
        if isinstance(node, Field) and node.field != "lede":  # lede: by positions, below
            return self.hit(node.operand, fields & {_IN_FIELD[node.field]})
        if isinstance(node, Boost):
            sub = self.hit(node.operand, fields)
            if sub is None or node.factor == 0:  # ^0: a pure filter, no score and no evidence
                return sub and _Hit(0.0, [], sub.spans + sub.context)
            sub.score *= node.factor
            return sub
        spans = self.spans(node, fields)
        return _Hit(self.score(spans), spans) if spans else None


def _own_sense(ev: _Evaluator, acronyms: Sequence[Acronym]) -> _Evaluator:
    """``ev`` without the hits on a topic's acronyms that the article spells out as something else,
    nor those standing in a list of other acronyms.

    Only a hit on a word that may be one of the acronyms can be dropped: without one, the
    article is not searched for spellings."""
    if not acronyms:
        return ev
    hit_words = {ev.fields[f].words[i] for hits in ev.found.values() for f, s, e in hits for i in range(s, e)}
    if not any(is_occurrence(a, analyse(w)[1]) for w in hit_words for a in acronyms):
        return ev
    drop: set[tuple[int, int]] = set()
    for acronym in acronyms:
        at = [occurrences(acronym, words) for words in ev.fields]
        if any(at) and spelled_otherwise(acronym, list(zip(ev.fields, at, strict=True)), _BODY):
            drop.update((f, i) for f, positions in enumerate(at) for i in positions)
        else:  # in a list of other acronyms, named in passing
            drop.update((f, i) for f, positions in enumerate(at) for i in listed(ev.fields[f], positions))
    if not drop:
        return ev
    found = {lit: kept for lit, hits in ev.found.items()
             if (kept := [(f, s, e) for f, s, e in hits if not any((f, i) in drop for i in range(s, e))])}
    return _Evaluator(found, ev.fields, ev.language)


def _near(left: list[_Span], right: list[_Span], distance: int) -> list[_Span]:
    """Pairs of left/right spans in one field at most ``distance`` words apart, merged."""
    out: dict[tuple[int, int, int], _Span] = {}
    for f, s, e, leaves in left:
        for _, rs, re_, rleaves in _close(f, s, e, right, distance):
            key = (f, min(s, rs), max(e, re_))
            if key not in out:
                out[key] = (*key, leaves + rleaves)
    return sorted(out.values(), key=lambda sp: (sp[0], sp[1], sp[2]))


def _apart(left: list[_Span], right: list[_Span], distance: int) -> list[_Span]:
    """The left spans with no right span in their field within ``distance`` words."""
    return [sp for sp in left if next(_close(sp[0], sp[1], sp[2], right, distance), None) is None]


def _close(field: int, start: int, end: int, right: list[_Span], distance: int) -> Iterator[_Span]:
    """The spans of ``right`` (sorted) in ``field`` at most ``distance`` words from ``start``..``end``."""
    if not right:
        return
    longest = max(sp[2] - sp[1] for sp in right)
    lo = bisect.bisect_left(right, (field, start - distance - longest))
    hi = bisect.bisect_right(right, (field, end + distance, float("inf")))
    for span in right[lo:hi]:
        if span[0] == field and max(span[1] - end, start - span[2]) <= distance:
            yield span


def _proximity_bonus(spans: list[_Span]) -> float:
    """Bonus for different matched terms standing close together (any field)."""
    leaves = sorted({(f, s, e, label) for f, _, _, ls in spans for s, e, label in ls})
    pairs = sum(1 for a, b in zip(leaves, leaves[1:], strict=False)
                if a[0] == b[0] and a[3] != b[3] and b[1] - a[2] <= _PROXIMITY)
    return min(_PROXIMITY_MAX, _PROXIMITY_BONUS * pairs)


def _terms(spans: list[_Span]) -> tuple[str, ...]:
    """Matched terms as written in the topic, in order of first occurrence (title first)."""
    leaves = sorted((f, leaf) for f, _, _, ls in spans for leaf in ls)
    return tuple(dict.fromkeys(label for _, (_, _, label) in leaves))


def _snippets(fields: tuple[Words, Words], spans: list[_Span]) -> tuple[Snippet, ...]:
    """One or two body passages (the title if only it matched) with the hits highlighted."""
    f = _BODY if any(sp[0] == _BODY for sp in spans) else _TITLE
    leaves = sorted({leaf for sp in spans if sp[0] == f for leaf in sp[3]})
    windows: list[list[_Leaf]] = []
    for leaf in leaves:
        if windows and leaf[1] - windows[-1][0][0] <= _MAX_WINDOW:
            windows[-1].append(leaf)
        else:
            windows.append([leaf])
    best = sorted(windows, key=lambda w: (-len({label for _, _, label in w}), -len(w)))[:2]
    best.sort(key=lambda w: w[0][0])
    return tuple(_snippet(fields[f], w) for w in best)


def _lead(fields: tuple[Words, Words]) -> tuple[Snippet, ...]:
    """The opening words of the body (or title), for a match by meaning alone."""
    f = _BODY if fields[_BODY] else _TITLE
    if not fields[f]:
        return ()
    return (_snippet(fields[f], [(0, 0, "")], highlight=False),)


def _snippet(words: Words, leaves: list[_Leaf], highlight: bool = True) -> Snippet:
    """The passage around ``leaves`` (with context words) and the character spans to highlight."""
    first = max(0, leaves[0][0] - _CONTEXT)
    last = min(len(words), max(e for _, e, _ in leaves) + _CONTEXT) - 1
    text, lo, hi = words.text, words.start(first), words.end(last)
    while lo > 0 and _is_punctuation(text[lo - 1]):  # keep quotes and brackets around the words
        lo -= 1
    while hi < len(text) and _is_punctuation(text[hi]):
        hi += 1
    marks: list[tuple[int, int]] = []
    for s, e, _ in leaves if highlight else ():
        span = (words.start(s) - lo, words.end(e - 1) - lo)
        if marks and span[0] <= marks[-1][1]:  # overlapping hits become one highlight
            marks[-1] = (marks[-1][0], max(marks[-1][1], span[1]))
        else:
            marks.append(span)
    return Snippet(text[lo:hi], tuple(marks))


def _is_punctuation(ch: str) -> bool:
    return not ch.isspace() and not ch.isalnum()


def _fingerprint(topics: Sequence[Topic], entities: Mapping[str, Entity], model: str | None) -> str:
    """Stable hash of everything that decides matching results."""
    payload = {
        "matcher": MATCHER_VERSION,
        "stemmer": version("pystemmer"),
        "semantic_model": model,
        "topics": [t.model_dump(mode="json") for t in topics],
        "entities": {k: entities[k].model_dump(mode="json") for k in sorted(entities)},
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
