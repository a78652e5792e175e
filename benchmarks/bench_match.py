"""Benchmark: topic matching throughput for 3 vs 100 (and 1000) topics, in one run.

Two streams of articles: ``labelled``, built from the labelled test set (several short
articles of one language run together, about 250 words) plus the two sample articles,
most on a watched topic; and ``stream``, the articles of the ingest benchmark's
synthetic web (benchmarks/corpus_server.py: one in ten on topic, as in a real news stream,
the rest off-topic text). The three shipped topics are padded with seeded synthetic topics;
``overlap`` is the share of them built from the articles' own words (0.1: most topics rarely
fire, as in real monitoring; 1.0: every topic fires often, a pessimistic load). Prints a
table and writes benchmarks/results/bench_match.json.

Rates are articles per CPU second of the process (the same as wall time on an idle machine,
steadier on a loaded one). ``--against DIR`` also measures the matcher of another checkout
(DIR/newswatch, e.g. ``git worktree add DIR main``) in a child process, on the same articles
and topics, pass by pass alternately with this one, and prints the speed-up and whether both
gave exactly the same matches (scores, terms, snippets, reasons).

    uv run python benchmarks/bench_match.py [--articles 3000] [--repeats 3] [--against DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# --code DIR (how --against runs the other checkout): its newswatch package, imported first.
CODE = sys.argv[sys.argv.index("--code") + 1] if "--code" in sys.argv else None
sys.path[:0] = [*([CODE] if CODE else []), str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

from conftest import SAMPLES  # noqa: E402
from corpus_server import Corpus  # noqa: E402
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


def stream(n: int, feeds: int = 50) -> list[tuple[str, str, str | None]]:
    """``n`` (title, body, language) triples of the ingest benchmark's synthetic web: one
    article in ten on a watched topic, the rest off-topic text in the same languages."""
    web = Corpus(feeds, -(-n // feeds))
    stories = (web.story(feed, article) for article in range(web.articles) for feed in range(feeds))
    return [(s.title, "\n\n".join(s.paragraphs), s.language) for s in stories][:n]


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


@dataclass
class Row:
    """One line of the table: a stream of articles and a set of topics."""

    corpus: str
    topics: list[Topic]
    articles: list[tuple[str, str, str | None]]
    overlap: float
    semantic: bool = False


def plan(n_articles: int) -> list[Row]:
    """Every row of the table: both streams, 3, 100 and 1000 topics (the same in every process)."""
    shipped, _ = load_watchlist()
    rows = []
    for name, articles in (("labelled", corpus(n_articles)), ("stream", stream(n_articles))):
        rows.append(Row(name, shipped, articles, 0.0))
        for n in (100, 1000):
            for overlap in (0.1, 1.0):
                rows.append(Row(name, shipped + synthetic_topics(n - len(shipped), articles, overlap), articles, overlap))
        if semantic_available() and name == "labelled":  # the embedding model dominates: fewer articles
            rows.append(Row(name, shipped, articles[:100], 0.0, semantic=True))
    return rows


class Timed:
    """One row's matcher, compiled once and run over the row's articles one pass at a time."""

    def __init__(self, row: Row) -> None:
        _, entities = load_watchlist()
        self.row = row
        t0 = time.process_time()
        self.matcher = compile_topics(row.topics, entities, semantic=row.semantic)
        self.compile_s = time.process_time() - t0

    def once(self) -> dict:
        """Articles per CPU second of one pass (the process's CPU time: the same as wall time on
        an idle machine, steadier on a loaded one), and a digest of everything it returned."""
        t0 = time.process_time()
        results = [self.matcher.match(title, body, lang) for title, body, lang in self.row.articles]
        rate = len(self.row.articles) / (time.process_time() - t0)
        return {"articles_per_s": rate, "matches": sum(map(len, results)),
                "on_topic": sum(1 for r in results if r) / len(results),
                "digest": hashlib.sha256(repr(results).encode()).hexdigest()[:16]}


class Baseline:
    """The matcher of another checkout in a child process, run pass by pass alternately with
    this one's (so both see the same machine load)."""

    def __init__(self, code: str, n_articles: int) -> None:
        self._child = subprocess.Popen([sys.executable, __file__, "--code", str(Path(code).resolve()),
                                        "--articles", str(n_articles), "--serve"],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def once(self, row: int) -> dict:
        self._child.stdin.write(f"{row}\n")
        self._child.stdin.flush()
        while not (line := self._child.stdout.readline()).startswith(_REPLY):
            if not line:
                raise RuntimeError("the baseline process ended")
        return json.loads(line[len(_REPLY):])

    def close(self) -> None:
        self._child.stdin.close()
        self._child.wait()


_REPLY = "pass: "


def serve(n_articles: int) -> None:
    """The child process of :class:`Baseline`: row numbers in, one timed pass each out."""
    rows, current = plan(n_articles), None
    for line in sys.stdin:
        k = int(line)
        if current is None or current[0] != k:
            current = (k, Timed(rows[k]))
        print(_REPLY + json.dumps(current[1].once()), flush=True)


def measure(n_articles: int, repeats: int, baseline: Baseline | None) -> list[dict]:
    """Every row: median articles per CPU second over ``repeats`` passes (one for matching by
    meaning), with the baseline's passes alternating with ours."""
    rows, out = plan(n_articles), []
    for k, row in enumerate(rows):
        timed, ours, theirs = Timed(row), [], []
        for _ in range(1 if row.semantic else repeats):
            if baseline:
                theirs.append(baseline.once(k))
            ours.append(timed.once())
        result = {"corpus": row.corpus, "topics": len(row.topics), "semantic": row.semantic,
                  "overlap": row.overlap, "compile_s": timed.compile_s, **ours[-1],
                  "articles_per_s": statistics.median(p["articles_per_s"] for p in ours)}
        if baseline:
            result["before_articles_per_s"] = statistics.median(p["articles_per_s"] for p in theirs)
            result["speedup"] = result["articles_per_s"] / result["before_articles_per_s"]
            result["same_results"] = {p["digest"] for p in ours + theirs} == {result["digest"]}
        first = next(r for r in out + [result] if r["corpus"] == row.corpus)
        result["ratio_vs_3"] = result["articles_per_s"] / first["articles_per_s"]
        out.append(result)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--against", metavar="DIR", help="also measure the matcher of this checkout")
    parser.add_argument("--code", metavar="DIR", help=argparse.SUPPRESS)  # read at import (CODE)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.articles)
        return
    baseline = Baseline(args.against, args.articles) if args.against else None
    rows = measure(args.articles, args.repeats, baseline)
    before = baseline is not None
    if baseline:
        baseline.close()
    articles = corpus(args.articles)

    t0 = time.perf_counter()
    for title, body, lang in articles:
        detect_language(f"{title}\n{body}", lang)
    detect_rate = len(articles) / (time.perf_counter() - t0)

    mean_words = {name: statistics.mean(len(words(t)) + len(words(b)) for t, b, _ in texts)
                  for name, texts in (("labelled", articles), ("stream", stream(args.articles)))}
    print(f"{len(articles)} articles per stream (mean words: "
          f"{', '.join(f'{k} {v:.0f}' for k, v in mean_words.items())}), articles per CPU second, "
          f"median of {args.repeats} passes" + (f", alternating with {args.against}" if before else ""))
    print(f"{'stream':>9} {'topics':>7} {'semantic':>9} {'overlap':>8} {'on topic':>9} {'compile s':>10} "
          f"{'articles/s':>11} {'vs 3 topics':>12} {'matches':>8}"
          + (f" {'before':>8} {'speed-up':>9} {'same':>5}" if before else ""))
    for row in rows:
        print(f"{row['corpus']:>9} {row['topics']:>7} {'yes' if row['semantic'] else 'no':>9} {row['overlap']:>8.1f} "
              f"{row['on_topic']:>9.0%} {row['compile_s']:>10.3f} {row['articles_per_s']:>11.0f} "
              f"{row['ratio_vs_3']:>12.2f} {row['matches']:>8}"
              + (f" {row['before_articles_per_s']:>8.0f} {row['speedup']:>9.2f} "
                 f"{'yes' if row['same_results'] else 'NO':>5}" if before else ""))
    print(f"detect_language: {detect_rate:.0f} articles/s")

    out = ROOT / "benchmarks" / "results" / "bench_match.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"articles": len(articles), "mean_words": mean_words, "rows": rows,
                               "detect_language_articles_per_s": detect_rate}, indent=2))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
