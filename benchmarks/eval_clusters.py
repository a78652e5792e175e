"""Story clustering as in production, on pages rendered on outlet layouts; pairwise scores.

    uv run python benchmarks/eval_clusters.py [--favor recall] [--batch 10] [--no-editions] [--sets tuning]

Every copy of every story of the tuning set (tests/data/cluster_testset.json, layouts in
tests/layouts) and, when present, of the held-out set (tests/heldout/clusters.json, layouts
in tests/heldout/layouts) is rendered on its outlet's page layout, extracted by the
production parser (``newswatch.pages.parse_page``) and clustered by the production code into
a migrated DuckDB database, in publication order, ``--batch`` articles per transaction (the
first pages of an outlet arrive before its chrome is learned) and all at once, with
editions in other languages looked for (``clusters.editions``, unless ``--no-editions``). Prints
pairwise precision and recall within a language (gold: same story) and across languages
(gold: same event), and how much of the extracted text is the article's (word level).
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import combinations
from pathlib import Path
from typing import get_args

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from cluster_testset import TESTSET, LabelledArticle, PairScores, load_testset  # noqa: E402
from page_layouts import TUNING_LAYOUTS, render_page  # noqa: E402

from newswatch.cluster import StoryClusterer  # noqa: E402
from newswatch.config import ClusterSettings  # noqa: E402
from newswatch.pages import FAVOR, Favor, parse_page  # noqa: E402
from newswatch.text import folded_words  # noqa: E402
from storage.db import Database  # noqa: E402

HELDOUT = ROOT / "tests" / "heldout"
Render = Callable[[LabelledArticle, str], str]


@dataclass(frozen=True, slots=True)
class Scores:
    """Pairwise scores within a language and across languages, and extraction word scores."""

    within: PairScores
    across: PairScores
    extraction_precision: float
    extraction_recall: float


def heldout_renderer() -> Render | None:
    """Render with tests/heldout/layouts.py ``render_page`` if it is there, else our renderer."""
    if not (HELDOUT / "clusters.json").exists():
        return None
    module_path = HELDOUT / "layouts.py"
    if module_path.exists():
        spec = importlib.util.spec_from_file_location("heldout_layouts", module_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        accepted = inspect.signature(module.render_page).parameters
        slug_name = next(iter(accepted))

        def render(item: LabelledArticle, url: str) -> str:
            values = page_values(item, url) | {slug_name: item.layout}
            return module.render_page(**{k: v for k, v in values.items() if k in accepted})

        return render
    return lambda item, url: render_page(item.layout, directory=HELDOUT / "layouts", **page_values(item, url))


def page_values(item: LabelledArticle, url: str) -> dict:
    """The layout variables of a test article."""
    return {
        "title": item.article.title, "paragraphs": item.article.text.split("\n\n"),
        "outlet": item.article.source, "lang": item.lang, "published": item.article.published_at, "url": url,
    }


def extracted(items: Sequence[LabelledArticle], render: Render, favor: Favor) -> tuple[list[LabelledArticle], float, float]:
    """Each item with its article as the production parser reads its rendered page; word P/R."""
    out, kept, extra, article_words = [], 0, 0, 0
    for item in items:
        url = f"https://{item.layout}.example/{item.article.source}/{item.article.id.replace('#', '-')}"
        page = parse_page(render(item, url).encode("utf-8"), url, item.article.title, item.lang, favor=favor)
        truth = Counter(folded_words(f"{item.article.title}\n{item.article.text}"))
        got = Counter(folded_words(page.text))
        kept += sum((got & truth).values())
        extra += sum((got - truth).values())
        article_words += sum(Counter(folded_words(item.article.text)).values())
        article = replace(item.article, title=page.title or item.article.title, text=page.text,
                          language=page.language)
        out.append(replace(item, article=article))
    return out, kept / max(kept + extra, 1), min(kept / max(article_words, 1), 1.0)


def clustered(items: Sequence[LabelledArticle], batch: int, settings: ClusterSettings) -> dict[str, str]:
    """Cluster ids from the production clusterer on a fresh migrated database."""
    db = Database(duckdb.connect(), None)
    db.migrate()
    clusterer = StoryClusterer(settings)
    assigned: dict[str, str] = {}
    for start in range(0, len(items), batch):
        with db.cluster_tables() as tables:
            assigned |= clusterer.assign(tables, [i.article for i in items[start : start + batch]])
    return assigned


def pair_scores(items: Sequence[LabelledArticle], assigned: dict[str, str]) -> tuple[PairScores, PairScores]:
    """(within a language: same story, across languages: same event) pairwise scores."""
    counts = {True: [0, 0, 0], False: [0, 0, 0]}
    for a, b in combinations(items, 2):
        same_lang = a.lang == b.lang
        gold = a.story == b.story if same_lang else a.event == b.event
        predicted = assigned[a.article.id] == assigned[b.article.id]
        tally = counts[same_lang]
        tally[0] += gold and predicted
        tally[1] += predicted and not gold
        tally[2] += gold and not predicted
    return PairScores(*counts[True]), PairScores(*counts[False])


def evaluate(items: Sequence[LabelledArticle], render: Render, favor: Favor, batch: int,
             settings: ClusterSettings | None = None) -> Scores:
    """Render, extract and cluster ``items`` in publication order; their scores."""
    pages, precision, recall = extracted(items, render, favor)
    within, across = pair_scores(pages, clustered(pages, batch, settings or ClusterSettings()))
    return Scores(within, across, precision, recall)


def tuning_render(item: LabelledArticle, url: str) -> str:
    """A tuning-set copy on its layout in tests/layouts."""
    return render_page(item.layout, directory=TUNING_LAYOUTS, **page_values(item, url))


def row(name: str, scores: PairScores) -> str:
    pairs = scores.true_positives + scores.false_negatives
    return (f"{name:<34} {scores.precision:>6.3f} {scores.recall:>6.3f} {pairs:>6}"
            f" {scores.false_positives:>5} {scores.false_negatives:>5}")


def main(argv: list[str] | None = None) -> dict[str, Scores]:
    """Print the tables; return the scores by set and mode."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--favor", choices=get_args(Favor), default=FAVOR, help="trafilatura's bias")
    parser.add_argument("--batch", type=int, default=10, help="articles per transaction (arrival order)")
    parser.add_argument("--editions", action=argparse.BooleanOptionalAction, default=True,
                        help="look for editions in other languages (needs the semantic extra)")
    parser.add_argument("--sets", nargs="+", choices=("tuning", "held-out"), default=("tuning", "held-out"),
                        help="which sets to evaluate (tune on the tuning set alone)")
    args = parser.parse_args(argv)
    settings = ClusterSettings(editions=args.editions)
    sets = {"tuning": (load_testset(TESTSET), tuning_render)} if "tuning" in args.sets else {}
    if "held-out" in args.sets and (render := heldout_renderer()):
        sets["held-out"] = (load_testset(HELDOUT / "clusters.json"), render)
    results = {}
    print(f"extraction favor={args.favor}, editions={args.editions}")
    print(f"{'set / mode / pairs':<34} {'P':>6} {'R':>6} {'gold':>6} {'FP':>5} {'FN':>5}")
    for name, (items, render) in sets.items():
        for batch in (args.batch, len(items)):
            scores = evaluate(items, render, args.favor, batch, settings)
            results[f"{name} batch={batch}"] = scores
            print(row(f"{name} batch={batch} within-language", scores.within))
            print(row(f"{name} batch={batch} cross-language", scores.across))
        print(f"{name} extraction: {scores.extraction_precision:.3f} of extracted words are the"
              f" article's; {scores.extraction_recall:.3f} of the article's words extracted")
    return results


if __name__ == "__main__":
    main()
