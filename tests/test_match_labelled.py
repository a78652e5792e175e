"""Precision and recall of the shipped topics on the labelled set (printed in the summary)."""

from __future__ import annotations

from collections import Counter

import pytest
from labelled.data import load_articles, load_watchlist

from newswatch.match import compile_topics
from newswatch.semantic import available as semantic_available

MIN_PRECISION = MIN_RECALL = 0.93
LANGUAGES = {"en", "ru", "hy", "az", "ka"}


class _Report:
    """Registered at run time so the table is shown at the end, with or without ``-s``."""

    def __init__(self, title: str, lines: list[str]) -> None:
        self.title, self.lines = title, lines

    def pytest_terminal_summary(self, terminalreporter) -> None:
        terminalreporter.write_sep("-", self.title)
        for line in self.lines:
            terminalreporter.write_line(line)


def precision_recall(pairs: list[tuple[set[str], set[str]]], topics: list[str]) -> dict[str, tuple[int, int, int]]:
    """Per topic: (true positives, false positives, false negatives) over (expected, got) pairs."""
    counts = {t: Counter() for t in topics}
    for expected, got in pairs:
        for t in topics:
            counts[t]["tp"] += t in expected and t in got
            counts[t]["fp"] += t not in expected and t in got
            counts[t]["fn"] += t in expected and t not in got
    return {t: (c["tp"], c["fp"], c["fn"]) for t, c in counts.items()}


def ratio(num: int, den: int) -> float:
    return num / den if den else 1.0


def test_labelled_set_is_broad_enough():
    articles = load_articles()
    topics = {t.name for t in load_watchlist()[0]}
    assert len(articles) >= 300
    assert len({a["id"] for a in articles}) == len(articles)
    assert {a["lang"] for a in articles} == LANGUAGES
    for lang in LANGUAGES:
        mine = [a for a in articles if a["lang"] == lang]
        assert topics <= {t for a in mine for t in a["topics"]}, f"{lang}: every topic has a positive"
        assert sum(1 for a in mine if not a["topics"] and "note" in a) >= 3, f"{lang}: hard negatives"
    for a in articles:
        assert set(a["topics"]) <= topics, a["id"]


@pytest.mark.parametrize("semantic", [False, True], ids=["keywords", "keywords+semantic"])
def test_precision_and_recall_per_topic(request, semantic):
    if semantic and not semantic_available():
        pytest.skip("semantic matching needs the 'semantic' extra (uv sync --extra semantic)")
    topics, entities = load_watchlist()
    matcher = compile_topics(topics, entities, semantic=semantic)
    articles = load_articles()
    pairs = [(set(a["topics"]), {m.topic for m in matcher.match(a["title"], a["body"], a["lang"])})
             for a in articles]
    names = [t.name for t in topics]
    table = precision_recall(pairs, names)
    lines = [f"{'topic':<22}{'tp':>4}{'fp':>4}{'fn':>4}{'precision':>11}{'recall':>8}"]
    for name, (tp, fp, fn) in table.items():
        lines.append(f"{name:<22}{tp:>4}{fp:>4}{fn:>4}{ratio(tp, tp + fp):>11.3f}{ratio(tp, tp + fn):>8.3f}")
    wrong = [f"  {a['id']}: expected {sorted(e)}, got {sorted(g)}" for a, (e, g) in zip(articles, pairs, strict=True)
             if e != g]
    lines += [f"{len(articles)} labelled articles, {len(wrong)} with a wrong topic set", *wrong]
    mode = "keywords + semantic" if semantic else "keywords only"
    request.config.pluginmanager.register(_Report(f"topic matching on the labelled set: {mode}", lines))
    for name, (tp, fp, fn) in table.items():
        request.node.user_properties.append((f"{name} precision", ratio(tp, tp + fp)))
        request.node.user_properties.append((f"{name} recall", ratio(tp, tp + fn)))
        assert ratio(tp, tp + fp) >= MIN_PRECISION, f"{name}: precision below {MIN_PRECISION}\n" + "\n".join(lines)
        assert ratio(tp, tp + fn) >= MIN_RECALL, f"{name}: recall below {MIN_RECALL}\n" + "\n".join(lines)


@pytest.mark.parametrize(("expected", "got", "result"), [
    ({"a"}, {"a"}, (1, 0, 0)),
    ({"a"}, set(), (0, 0, 1)),
    (set(), {"a"}, (0, 1, 0)),
])
def test_precision_recall_counting(expected, got, result):
    assert precision_recall([(expected, got)], ["a"])["a"] == result
