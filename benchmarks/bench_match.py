"""Benchmark: topic matching throughput for 3 vs 100 (and 1000) topics, in one run.

Articles are built from the labelled test set (several short articles of one language run
together, about 250 words) plus the two sample articles, repeated. The three
shipped topics are padded with seeded synthetic topics; ``overlap`` is the share of them
built from the articles' own words (0.1: most topics rarely fire, as in real monitoring;
1.0: every topic fires often, a pessimistic load). Prints a table and writes
benchmarks/results/bench_match.json.

    uv run python benchmarks/bench_match.py [--articles 3000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import SAMPLES  # noqa: E402
from labelled.data import load_articles, load_watchlist  # noqa: E402

from newswatch.config import Topic  # noqa: E402
from newswatch.language import detect_language  # noqa: E402
from newswatch.match import compile_topics  # noqa: E402
from newswatch.semantic import available as semantic_available  # noqa: E402
from newswatch.text import words  # noqa: E402


def corpus(n: int, per_article: int = 6) -> list[tuple[str, str, str | None]]:
    """``n`` (title, body, language) triples of news-article length.

    Each is ``per_article`` labelled articles of one language run together (about 250
    words), or one of the two ~500-word sample articles.
    """
    by_lang: dict[str, list[dict]] = {}
    for a in load_articles():
        by_lang.setdefault(a["lang"], []).append(a)
    base = []
    for lang, items in sorted(by_lang.items()):
        for start in range(len(items)):
            group = [items[(start + k) % len(items)] for k in range(per_article)]
            base.append((group[0]["title"], "\n".join(f"{a['title']}. {a['body']}" for a in group), lang))
    base += [("", p.read_text(encoding="utf-8"), "en") for p in sorted(SAMPLES.glob("*.txt"))]
    return [base[i % len(base)] for i in range(n)]


def synthetic_topics(count: int, articles: list[tuple[str, str, str | None]], overlap: float,
                     seed: int = 4) -> list[Topic]:
    """Topics with phrases, wildcards, NEAR, NOT and field scopes.

    A share ``overlap`` of them is built from the articles' own words (they fire often);
    the rest from pseudo-words in the five scripts (they never fire, like most real topics
    on most articles, but still sit in the index).
    """
    rng = random.Random(seed)
    vocab = sorted({w for _, body, _ in articles for w in words(body) if len(w) > 3 and not w.isdigit()})
    alphabets = ["abcdefghijklmnopqrstuvwxyzəğışçöü", "абвгдежзиклмнопрстуфхцчшщыэюя",
                 "աբգդեզէըթժիլխծկհձղճմյնշոչպջռսվտրցւփքօֆ", "აბგდევზთიკლმნოპჟრსტუფქღყშჩცძწჭხჯჰ"]

    def pseudo() -> str:
        return "".join(rng.choice(rng.choice(alphabets)) for _ in range(rng.randint(5, 10)))

    entities = ["@armenia", "@azerbaijan", "@russia", "@karabakh", "@aliyev", "@pashinyan", "@putin"]
    out = []
    for i in range(count):
        a, b, c, d, e, f = rng.sample(vocab, 6) if rng.random() < overlap else [pseudo() for _ in range(6)]
        query = (f'("{a} {b}" OR {c[:5]}* OR title:{d}) AND NOT {e}'
                 f' OR ({f} NEAR/10 {rng.choice(entities)})')
        out.append(Topic(name=f"synthetic {i}", query=query, min_score=1.0))
    return out


def throughput(topics: list[Topic], articles, repeats: int, overlap: float, semantic: bool = False) -> dict:
    _, entities = load_watchlist()
    t0 = time.perf_counter()
    matcher = compile_topics(topics, entities, semantic=semantic)
    compile_s = time.perf_counter() - t0
    runs, matches = [], 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        matches = sum(len(matcher.match(title, body, lang)) for title, body, lang in articles)
        runs.append(len(articles) / (time.perf_counter() - t0))
    return {"topics": len(topics), "semantic": semantic, "overlap": overlap, "compile_s": compile_s, "articles_per_s": statistics.median(runs),
            "matches": matches}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    articles = corpus(args.articles)
    shipped, _ = load_watchlist()
    rows = [throughput(shipped, articles, args.repeats, 0.0)]
    for n in (100, 1000):
        for overlap in (0.1, 1.0):
            extra = synthetic_topics(n - len(shipped), articles, overlap)
            rows.append(throughput(shipped + extra, articles, args.repeats, overlap))
    if semantic_available():  # the embedding model dominates: measure it on fewer articles
        rows.append(throughput(shipped, articles[:300], 1, 0.0, semantic=True))
    base = rows[0]["articles_per_s"]
    for row in rows:
        row["ratio_vs_3"] = row["articles_per_s"] / base

    t0 = time.perf_counter()
    for title, body, lang in articles:
        detect_language(f"{title}\n{body}", lang)
    detect_rate = len(articles) / (time.perf_counter() - t0)

    mean_words = statistics.mean(len(words(t)) + len(words(b)) for t, b, _ in articles)
    print(f"{len(articles)} articles (mean {mean_words:.0f} words), median of {args.repeats} runs")
    print(f"{'topics':>7} {'semantic':>9} {'overlap':>8} {'compile s':>10} {'articles/s':>11} {'vs 3 topics':>12} "
          f"{'matches':>8}")
    for row in rows:
        print(f"{row['topics']:>7} {'yes' if row['semantic'] else 'no':>9} {row['overlap']:>8.1f} "
              f"{row['compile_s']:>10.3f} {row['articles_per_s']:>11.0f} "
              f"{row['ratio_vs_3']:>12.2f} {row['matches']:>8}")
    print(f"detect_language: {detect_rate:.0f} articles/s")

    out = ROOT / "benchmarks" / "results" / "bench_match.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"articles": len(articles), "mean_words": mean_words, "rows": rows,
                               "detect_language_articles_per_s": detect_rate}, indent=2))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
