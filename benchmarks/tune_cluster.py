"""Sweep clustering settings over the labelled test set; print pairwise precision/recall.

    uv run python benchmarks/tune_cluster.py

Also prints, per shingle size, the exact Jaccard of the weakest pair of copies and of the
most similar pair of different stories: the default threshold must sit between them.
"""

from __future__ import annotations

import sys
from itertools import combinations
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from cluster_testset import load_testset, pair_scores  # noqa: E402

from newswatch.cluster import StoryClusterer, shingle_hashes  # noqa: E402
from newswatch.config import ClusterSettings  # noqa: E402
from newswatch.text import folded_words  # noqa: E402
from storage.clusters import ClusterTables  # noqa: E402
from storage.db import Database  # noqa: E402

THRESHOLDS = (0.4, 0.45, 0.5, 0.55, 0.6)
SHINGLE_WORDS = (2, 3, 4, 5)


def run(settings: ClusterSettings, batch: int) -> tuple[float, float]:
    """(precision, recall) of clustering the test set in batches of ``batch`` articles."""
    items = load_testset()
    con = duckdb.connect()
    Database(con, None).migrate()
    clusterer = StoryClusterer(settings)
    assigned: dict[str, str] = {}
    for start in range(0, len(items), batch):
        assigned |= clusterer.assign(ClusterTables(con), [i.article for i in items[start : start + batch]])
    scores = pair_scores({i.article.id: i.story for i in items}, assigned, list(assigned))
    return scores.precision, scores.recall


def margins(size: int) -> tuple[float, float]:
    """(weakest same-story pair, strongest different-story pair) exact Jaccard."""
    items = load_testset()
    sets = {i.article.id: set(shingle_hashes(folded_words(i.article.text), size).tolist()) for i in items}
    story = {i.article.id: i.story for i in items}
    same, different = 1.0, 0.0
    for a, b in combinations(sets, 2):
        jaccard = len(sets[a] & sets[b]) / len(sets[a] | sets[b])
        if story[a] == story[b]:
            same = min(same, jaccard)
        else:
            different = max(different, jaccard)
    return same, different


def main() -> None:
    """Print the sweep table."""
    print(f"{'words':>5} {'weakest copy':>12} {'closest other':>13}")
    for size in SHINGLE_WORDS:
        same, different = margins(size)
        print(f"{size:>5} {same:>12.3f} {different:>13.3f}")
    print(f"\n{'words':>5} {'threshold':>9} {'P (1/batch)':>11} {'R (1/batch)':>11} {'P (all)':>8} {'R (all)':>8}")
    for size in SHINGLE_WORDS:
        for threshold in THRESHOLDS:
            settings = ClusterSettings(threshold=threshold, shingle_words=size)
            p1, r1 = run(settings, batch=1)
            pa, ra = run(settings, batch=1000)
            print(f"{size:>5} {threshold:>9.2f} {p1:>11.3f} {r1:>11.3f} {pa:>8.3f} {ra:>8.3f}")


if __name__ == "__main__":
    main()
