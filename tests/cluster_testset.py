"""The labelled clustering test set (tests/data/cluster_testset.json) and pairwise scores."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import combinations
from pathlib import Path

from newswatch.models import ClusterInput

TESTSET = Path(__file__).parent / "data" / "cluster_testset.json"


@dataclass(frozen=True, slots=True)
class LabelledArticle:
    """A test article with the story it belongs to, the event that story reports, its language
    and the page layout (outlet slug) it is published on."""

    article: ClusterInput
    story: str
    event: str
    lang: str = "en"
    layout: str = ""


def load_testset(path: Path = TESTSET) -> list[LabelledArticle]:
    """Every copy of every story, with its edits applied, in publication order."""
    out = []
    testset = json.loads(path.read_text(encoding="utf-8"))
    layouts = testset.get("layouts", {})
    for story in testset["stories"]:
        published = datetime.fromisoformat(story["published"])
        for number, copy in enumerate(story["copies"]):
            paragraphs = list(story["paragraphs"])
            if "lead" in copy:
                paragraphs[0] = copy["lead"]
            if "insert" in copy:
                paragraphs.insert(2, copy["insert"])
            paragraphs = paragraphs[: len(paragraphs) - copy.get("drop_last", 0)]
            text = "\n\n".join(
                [copy.get("caption", ""), *paragraphs, copy.get("append", "")]
            ).strip()
            article = ClusterInput(
                id=f"{story['id']}#{number}",
                title=copy.get("title", story["title"]),
                text=text,
                source=copy["source"],
                published_at=published + timedelta(hours=copy.get("hours", 0)),
            )
            out.append(LabelledArticle(
                article, story["id"], story.get("event", story["id"]), story.get("lang", "en"),
                layouts.get(copy["source"], copy["source"]),
            ))
    return sorted(out, key=lambda item: item.article.published_at)


@dataclass(frozen=True, slots=True)
class PairScores:
    """Pairwise clustering quality: pairs put together that belong together, and so on."""

    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        """Share of pairs clustered together that are copies of one story."""
        together = self.true_positives + self.false_positives
        return self.true_positives / together if together else 1.0

    @property
    def recall(self) -> float:
        """Share of pairs of copies of one story that were clustered together."""
        related = self.true_positives + self.false_negatives
        return self.true_positives / related if related else 1.0


def pair_scores(
    labels: Mapping[str, str], assigned: Mapping[str, str], ids: Sequence[str]
) -> PairScores:
    """Compare the gold ``labels`` (id -> story) with ``assigned`` (id -> cluster) over all pairs."""
    tp = fp = fn = 0
    for a, b in combinations(ids, 2):
        gold = labels[a] == labels[b]
        predicted = assigned[a] == assigned[b]
        tp += gold and predicted
        fp += predicted and not gold
        fn += gold and not predicted
    return PairScores(tp, fp, fn)
