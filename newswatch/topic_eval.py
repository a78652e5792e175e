"""``newswatch topics test NAME``: a topic's current query against what analysts said about it.

The examples are the analysts' feedback (``not relevant``: must not match; ``missed``: must
match; stored articles only) and, optionally, a labelled YAML file (``id``, ``lang``, ``title``,
``body``, ``topics``; the format of ``tests/labelled/articles.yaml``). Each example is matched
with the topic as it is now in ``sources.yaml``; for each miss and false alarm, every clause of
the query (the parts joined by a top-level ``AND``) is shown with whether it held, named by the
comment written above it in the query (or its first line).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from newswatch.config import Config, Entity, Topic
from newswatch.errors import TopicError
from newswatch.match import compile_topics
from newswatch.models import ArticleForMatching, Feedback
from newswatch.query import And, first_line, parse_query


@dataclass(frozen=True, slots=True)
class Example:
    """An article and whether the topic should match it; ``source`` says who said so."""

    ref: str
    title: str
    body: str
    language: str | None
    expected: bool
    source: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the topic did with one example, and which of its clauses held."""

    example: Example
    matched: bool
    clauses: tuple[tuple[str, bool], ...]

    @property
    def wrong(self) -> bool:
        """A miss or a false alarm."""
        return self.matched != self.example.expected


@dataclass(frozen=True, slots=True)
class TopicTest:
    """The verdicts on every example, with precision and recall."""

    topic: str
    verdicts: tuple[Verdict, ...]

    def _count(self, matched: bool, expected: bool) -> int:
        return sum(1 for v in self.verdicts if v.matched == matched and v.example.expected == expected)

    @property
    def precision(self) -> float:
        """Share of matched examples that should match (1.0 when none matched)."""
        tp, fp = self._count(True, True), self._count(True, False)
        return tp / (tp + fp) if tp + fp else 1.0

    @property
    def recall(self) -> float:
        """Share of examples that should match that did (1.0 when none should)."""
        tp, fn = self._count(True, True), self._count(False, True)
        return tp / (tp + fn) if tp + fn else 1.0


def feedback_examples(items: Iterable[Feedback], articles: Sequence[ArticleForMatching]) -> list[Example]:
    """The feedback on stored articles as examples (the latest verdict per article counts)."""
    texts = {a.id: a for a in articles}
    chosen: dict[str, Feedback] = {}
    for item in sorted(items, key=lambda f: f.created_at):
        chosen[item.article_id] = item
    return [Example(item.url or item.article_id, texts[item.article_id].title, texts[item.article_id].text,
                    texts[item.article_id].language, item.kind == "missed", f"feedback ({item.kind.replace('_', ' ')})")
            for item in chosen.values() if item.article_id in texts]


def labelled_examples(path: Path, topic: str) -> list[Example]:
    """The examples of a labelled YAML file."""
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return [Example(str(e["id"]), e["title"], e["body"], e.get("lang"), topic in e.get("topics", ()), path.name)
            for e in entries]


def configured_topic(config: Config, name: str) -> Topic:
    """The topic ``name`` of the configuration, or :class:`TopicError` naming the topics there are."""
    topic = next((t for t in config.topics if t.name == name), None)
    if topic is None:
        raise TopicError(f"unknown topic {name!r} (topics: {', '.join(t.name for t in config.topics)})")
    return topic


def evaluate_topic(config: Config, name: str, examples: Sequence[Example]) -> TopicTest:
    """Match every example with topic ``name`` as configured now."""
    return evaluate(configured_topic(config, name), config.entities, examples, config.settings.semantic)


def evaluate(topic: Topic, entities: Mapping[str, Entity], examples: Sequence[Example], semantic: bool) -> TopicTest:
    """Match every example with ``topic`` (and these entities)."""
    matcher = compile_topics([topic], dict(entities), semantic=semantic)
    names = clause_names(topic)
    verdicts = []
    for example in examples:
        matched = bool(matcher.match(example.title, example.body, example.language))
        held = matcher.clauses(topic.name, example.title, example.body, example.language)
        verdicts.append(Verdict(example, matched, tuple(zip(names, held, strict=True))))
    return TopicTest(topic.name, tuple(verdicts))


def clause_names(topic: Topic) -> list[str]:
    """Each clause of the topic's query, named by the comment above it, else by its first line."""
    if not topic.query:
        return ["its terms"]
    lines = topic.query.split("\n")
    names = []
    for first in clause_lines(topic):
        comments = []
        n = first - 2
        while n >= 0 and lines[n].strip().startswith("#"):
            comments.insert(0, lines[n].strip().lstrip("#").strip())
            n -= 1
        names.append(" ".join(comments) or lines[first - 1].split("#", 1)[0].strip())
    return names


def clause_lines(topic: Topic) -> list[int]:
    """The line (in the query) where each clause starts."""
    node = parse_query(topic.query)
    operands = node.operands if isinstance(node, And) else (node,)
    return [first_line(op) for op in operands]
