"""Benchmark: archive search (index + exact check) against a plain scan of the same queries.

Builds a DuckDB archive of ``--n`` synthetic articles in five languages (en, ru, hy, az, ka):
words drawn with their real frequencies from the labelled test set, plus a long Zipf tail of
made-up names and rare words in each script (so the vocabulary keeps growing with the archive,
as real news does), 200-700 words per article, and topic phrases, entities and syndicated
wording at realistic rates. Then, in one run, it measures:

* index build cost: seconds and CPU per 1,000 articles, in batches as ingest writes them
  (``--batch``), including the segment merges; and the cost of one more batch at full size;
* index size: bytes of the index tables (file growth after a checkpoint) per 1,000 articles;
* query latency: p50 / p95 over a mix of queries (words, phrases, wildcards, entities, NOT,
  NEAR, ``title:``, ``lang:``, date windows), repeated ``--repeats`` times, in wall time and in
  CPU time of the process (which a machine shared with other work inflates less);
* the same queries as a plain scan: the topic matcher run over every article (what an analyst
  does today by adding a topic and re-matching the archive); on more than ``--scan-rows``
  articles the scan is timed on that many and scaled linearly (reported as such); for queries
  the index answers exactly, the number of matches must equal the scan's.

    uv run python benchmarks/bench_search.py --n 100000
    nice uv run python benchmarks/bench_search.py --n 1000000 --scan-rows 20000
    uv run python benchmarks/bench_search.py --n 1000000 --replicate 10 --scan-rows 20000  # 10 x a kept 100k archive

Prints a table and writes benchmarks/results/bench_search-<n>.json. The archive is kept in
benchmarks/results/search-<n>.duckdb (``--keep``) and reused when it is there.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from labelled.data import load_articles, load_watchlist  # noqa: E402

from newswatch.config import Topic  # noqa: E402
from newswatch.match import compile_topics  # noqa: E402
from newswatch.models import SearchFilters  # noqa: E402
from newswatch.search import index_postings, search  # noqa: E402
from newswatch.text import words  # noqa: E402
from storage.bulk import rows_relation  # noqa: E402
from storage.db import open_database  # noqa: E402

LANGUAGES = ("en", "ru", "hy", "az", "ka")
ALPHABETS = {
    "en": "abcdefghijklmnopqrstuvwxyz", "az": "abcçdeəfgğhxıijkqlmnoöprsştuüvyz",
    "ru": "абвгдежзийклмнопрстуфхцчшщыэюя", "hy": "աբգդեզէըթժիլխծկհձղճմյնշոչպջռսվտրցւփքօֆ",
    "ka": "აბგდევზთიკლმნოპჟრსტუფქღყშჩცძწჭხჯჰ",
}
# Phrases planted in articles (the topics' own wording, inflected as the press writes it).
PLANTED = {
    "en": ["peace treaty", "peace agreement", "CSTO", "Russian peacekeepers", "Lachin corridor", "mandate"],
    "ru": ["мирного договора", "ОДКБ", "российские миротворцы", "Лачинский коридор", "мандат"],
    "hy": ["խաղաղության պայմանագիրը", "ՀԱՊԿ", "խաղաղապահները", "Լաչինի միջանցք", "մանդատը"],
    "az": ["sülh müqaviləsi", "KTMT-nin", "sülhməramlılar", "Laçın dəhlizi", "mandatı"],
    "ka": ["სამშვიდობო ხელშეკრულება", "კოლექტიური უსაფრთხოების", "მშვიდობისმყოფელები", "ლაჩინის დერეფანი"],
}
ENTITY_WORDS = {
    "en": ["Armenia", "Azerbaijan", "Baku", "Yerevan", "Karabakh", "Russia", "Moscow", "Pashinyan", "Aliyev"],
    "ru": ["Армения", "Азербайджана", "Баку", "Еревана", "Карабаха", "России", "Москве", "Пашинян", "Алиев"],
    "hy": ["Հայաստանը", "Ադրբեջանի", "Բաքու", "Երևանում", "Ղարաբաղի", "Ռուսաստանի", "Փաշինյան", "Ալիև"],
    "az": ["Ermənistan", "Azərbaycanın", "Bakı", "İrəvan", "Qarabağ", "Rusiya", "Moskva", "Paşinyan", "Əliyev"],
    "ka": ["სომხეთი", "აზერბაიჯანის", "ბაქო", "ერევანი", "ყარაბაღი", "რუსეთის", "მოსკოვი", "ფაშინიანი"],
}
FEEDS = [f"Outlet {i:02d}" for i in range(40)]
QUERIES = [
    ('"peace treaty"', None), ("CSTO", None), ("peacekeep* NEAR/10 mandate*", None), ("Armenia", None),
    ("Armenia AND Azerbaijan AND NOT Russia", None), ("title:Karabakh", None), ('"Lachin corridor"', None),
    ("@armenia AND @azerbaijan", None), ('"мирный договор"', None), ("ОДКБ OR CSTO OR ՀԱՊԿ OR KTMT", None),
    ("миротвор* AND мандат*", None), ('"sülh müqavilə*"', None), ("Laçın* AND dəhliz*", None),
    ("խաղաղապահ*", None), ('"խաղաղության պայմանագ*"', None), ("სამშვიდობო ხელშეკრულებ*", None),
    ("ლაჩინ* AND დერეფ*", None), ("@russia AND lang:ru", None), ("ATLEAST/2 CSTO", None),
    ("CSTO", "recent"), ('"peace treaty"', "lang"), ("Armenia", "recent"), ("@karabakh", None),
]


def vocabulary(rng: np.random.Generator, tail: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per language: words and their cumulative probabilities (labelled-set frequencies + a Zipf tail)."""
    counts: dict[str, Counter] = {lang: Counter() for lang in LANGUAGES}
    for article in load_articles():
        counts[article["lang"]].update(words(f"{article['title']} {article['body']}"))
    vocab = {}
    planted = {w.casefold()[:5] for lang in LANGUAGES for w in words(" ".join(PLANTED[lang] + ENTITY_WORDS[lang]))}
    for lang in LANGUAGES:
        # the labelled set is about the watched topics: keep its topic words out of the background
        known = [(w, c) for w, c in counts[lang].most_common() if w.casefold()[:5] not in planted]
        letters = list(ALPHABETS[lang])
        made_up = {"".join(rng.choice(letters, size=int(rng.integers(4, 11)))) for _ in range(tail)}
        made_up = sorted(made_up - {w for w, _ in known})
        ranks = np.arange(1, len(made_up) + 1, dtype=float)
        tail_p = 0.35 * ranks**-1.07 / (ranks**-1.07).sum()  # names, places, rare words: 35% of tokens
        known_p = np.array([c for _, c in known], dtype=float)
        known_p = 0.65 * known_p / known_p.sum()
        cdf = np.cumsum(np.concatenate([known_p, tail_p]))
        vocab[lang] = (np.array([w for w, _ in known] + made_up, dtype=object), cdf / cdf[-1])
    return vocab


def articles(n: int, seed: int = 16, tail: int = 150_000):
    """Yield ``n`` synthetic (id, title, text, language, feed, published) tuples."""
    rng = np.random.default_rng(seed)
    vocab = vocabulary(rng, tail)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(n):
        lang = LANGUAGES[i % len(LANGUAGES)]
        vocab_words, cdf = vocab[lang]
        body_len = int(rng.integers(200, 700))
        tokens = list(vocab_words[np.minimum(np.searchsorted(cdf, rng.random(body_len + 10)), len(cdf) - 1)])
        for _ in range(int(rng.poisson(2.0))):  # entities of the region
            tokens.insert(int(rng.integers(0, len(tokens))), rng.choice(ENTITY_WORDS[lang]))
        if rng.random() < 0.06:  # on a watched topic, sometimes in the title
            phrase = rng.choice(PLANTED[lang])
            for _ in range(int(rng.integers(1, 4))):
                tokens.insert(int(rng.integers(10, len(tokens))), phrase)
            if rng.random() < 0.3:
                tokens.insert(2, phrase)
        title = " ".join(tokens[:10]).capitalize()
        body = ". ".join(" ".join(tokens[k : k + 18]).capitalize() for k in range(10, len(tokens), 18)) + "."
        yield (f"a{i:08d}", title, body, lang, FEEDS[int(rng.integers(0, len(FEEDS)))],
               start + timedelta(minutes=int(i * 525_600 / max(n, 1))))


_ARTICLE_COLUMNS = (
    ("id", "VARCHAR"), ("title", "VARCHAR"), ("text", "VARCHAR"), ("language", "VARCHAR"), ("feed_name", "VARCHAR"),
    ("published_at", "TIMESTAMPTZ"), ("extracted_at", "TIMESTAMPTZ"),
)


def store(db, rows: list[tuple]) -> None:
    """Insert synthetic articles as extracted ones, set-based."""
    at = datetime.now(UTC)
    relation, params = rows_relation(_ARTICLE_COLUMNS, [[*r, at + timedelta(microseconds=k)] for k, r in enumerate(rows)])
    with db.transaction():
        db.con.execute(
            f"""
            INSERT INTO articles (id, canonical_url, url, feed_name, title, summary, text, language,
                                  published_at, discovered_at, extracted_at, status)
            SELECT id, 'https://example.org/' || id, 'https://example.org/' || id, feed_name, title, '', text,
                   language, published_at, published_at, extracted_at, 'extracted' FROM {relation}
            """,
            params,
        )


def file_size(db) -> int:
    db.con.execute("CHECKPOINT")
    return os.path.getsize(db.path)


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def progress(message: str) -> None:
    print(f"{datetime.now(UTC):%H:%M:%S} {message}", file=sys.stderr, flush=True)


def build(db, n: int, batch: int) -> dict:
    """Store ``n`` articles, then index them batch by batch as ingest does; time the index only."""
    generated = time.perf_counter()
    chunk: list[tuple] = []
    for k, row in enumerate(articles(n), 1):
        chunk.append(row)
        if len(chunk) == 20_000 or k == n:
            store(db, chunk)
            chunk = []
            progress(f"stored {k} articles")
    generated = time.perf_counter() - generated
    before = file_size(db)
    wall, cpu0 = time.perf_counter(), cpu()
    progress("indexing")
    db.update_search_index(index_postings, batch)  # one segment per batch, merges on the way
    wall, used = time.perf_counter() - wall, cpu() - cpu0
    after = file_size(db)
    return {"generate_and_store_s": generated, "index_s": wall, "index_cpu_s": used,
            "index_s_per_1k": wall / n * 1000, "index_cpu_s_per_1k": used / n * 1000,
            "articles_bytes": before, "index_bytes": after - before, "index_bytes_per_1k": (after - before) / n * 1000}


def one_more_batch(db, n: int, batch: int) -> float:
    """Seconds to index one more batch into the full index (what each ingest batch costs)."""
    store(db, [(f"x{n:08d}{k:05d}", *rest[1:]) for k, rest in enumerate(articles(batch, seed=99))])
    t0 = time.perf_counter()
    db.update_search_index(index_postings, batch)
    return time.perf_counter() - t0


def replicate(db, base: Path, copies: int) -> dict:
    """Fill ``db`` with ``copies`` copies of the indexed archive ``base`` (new ids and doc numbers,
    the same texts): the real index layout at ``copies`` times the size, in minutes instead of
    hours. The vocabulary does not grow as a real archive's does, so each segment has fewer
    distinct words than a real one of that size (word lookups are cheaper); candidate lists,
    joins and text fetches grow as they would."""
    db.con.execute(f"ATTACH '{base}' AS base (READ_ONLY)")
    docs, segments = db.con.execute("SELECT max(last_doc), max(segment) FROM base.search_segments").fetchone()
    columns = [c[0] for c in db.con.execute("DESCRIBE base.articles").fetchall()]
    for k in range(copies):
        renamed = {"id": f"id || '-{k}'", "canonical_url": f"canonical_url || '-{k}'", "url": f"url || '-{k}'"}
        with db.transaction():
            db.con.execute(f"INSERT INTO articles SELECT {', '.join(renamed.get(c, c) for c in columns)} FROM base.articles")
            db.con.execute(f"INSERT INTO search_docs SELECT doc + {k * docs}, article_id || '-{k}', feed_name, language,"
                           " seen_at, live FROM base.search_docs")
            db.con.execute(f"INSERT INTO search_postings SELECT segment + {k * segments}, key, word, key_prefix,"
                           f" word_prefix, list_transform(docs, lambda d: d + {k * docs}), impacts, fields"
                           " FROM base.search_postings")
            db.con.execute(f"INSERT INTO search_segments SELECT segment + {k * segments}, tier, first_doc + {k * docs},"
                           f" last_doc + {k * docs}, docs, created_at FROM base.search_segments")
            db.con.execute("INSERT INTO search_state SELECT * FROM base.search_state ON CONFLICT DO NOTHING")
        progress(f"copy {k + 1} of {copies}")
    db.con.execute("DETACH base")
    return {"replicated_from": str(base.name), "copies": copies}


def filters_for(kind: str | None, end: datetime) -> SearchFilters:
    if kind == "recent":
        return SearchFilters(since=end - timedelta(days=30))
    if kind == "lang":
        return SearchFilters(languages=("en",))
    return SearchFilters()


def scan(db, query: str, filters: SearchFilters, entities, rows: int) -> tuple[float, int, int]:
    """The plain scan: the matcher over the first ``rows`` articles; (seconds, matches, scanned)."""
    matcher = compile_topics([Topic(name="q", query=query, min_score=0)], entities, semantic=False)
    t0 = time.perf_counter()
    cursor = db.con.execute(
        "SELECT title, text, language, published_at FROM articles WHERE duplicate_of IS NULL ORDER BY id LIMIT ?",
        [rows],
    )
    found = scanned = 0
    while batch := cursor.fetchmany(2000):
        for title, text, language, published in batch:
            scanned += 1
            if filters.since and published < filters.since:
                continue
            if filters.languages and language not in filters.languages:
                continue
            found += bool(matcher.match(title, text, language))
    return time.perf_counter() - t0, found, scanned


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="articles in the archive")
    parser.add_argument("--batch", type=int, default=1000, help="articles per index segment (ingest batch)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each query")
    parser.add_argument("--scan-rows", type=int, default=0, help="articles the plain scan reads at most (0: all)")
    parser.add_argument("--scan-queries", type=int, default=4, help="queries also run as a plain scan")
    parser.add_argument("--keep", action="store_true", help="keep the archive for the next run")
    parser.add_argument("--replicate", type=int, default=0,
                        help="build the archive as this many copies of the kept --n/replicate one (see replicate())")
    args = parser.parse_args()
    _, entities = load_watchlist()
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"{args.n}-replicated" if args.replicate else str(args.n)
    path = out_dir / f"search-{name}.duckdb"
    reuse = path.exists()
    with open_database(path) as db:
        if args.replicate and not reuse:
            base = args.n // args.replicate
            saved = {**json.loads((out_dir / f"bench_search-{base}.json").read_text())["build"],
                     **replicate(db, out_dir / f"search-{base}.duckdb", args.replicate)}
            reuse = True  # the build figures are the base archive's (per 1k articles)
        elif reuse:
            saved = json.loads((out_dir / f"bench_search-{name}.json").read_text())["build"]
            print(f"reusing {path.name} (built earlier: {saved['index_s_per_1k']:.2f} s per 1k articles)")
        else:
            saved = build(db, args.n, args.batch)
        extra = one_more_batch(db, args.n, args.batch) if not reuse else saved.get("one_more_batch_s")
        progress("index built; queries")
        end = db.con.execute("SELECT max(published_at) FROM articles").fetchone()[0]
        results = []
        for query, kind in QUERIES:
            filters = filters_for(kind, end)
            times, cpu_times = [], []
            for _ in range(args.repeats):
                cpu0 = cpu()
                found = search(db, query, entities, filters)
                times.append(found.seconds)
                cpu_times.append(cpu() - cpu0)
            results.append({"query": query, "filters": kind, "median_ms": statistics.median(times) * 1000,
                            "max_ms": max(times) * 1000, "matches": found.total, "exact": found.exact,
                            "candidates": found.candidates, "all_ms": [t * 1000 for t in times],
                            "cpu_ms": [t * 1000 for t in cpu_times]})
        latencies = sorted(t for r in results for t in r["all_ms"])
        cpu_latencies = sorted(t for r in results for t in r["cpu_ms"])
        scans = []
        progress("plain scans")
        for r in results[: args.scan_queries]:
            total = db.con.execute("SELECT count(*) FROM articles").fetchone()[0]
            seconds, matches, scanned = scan(db, r["query"], filters_for(r["filters"], end), entities,
                                             args.scan_rows or total)
            scaled = seconds * total / scanned
            scans.append({"query": r["query"], "scan_s": seconds, "scanned": scanned, "scan_s_full": scaled,
                          "scaled": scanned < total, "scan_matches": matches,
                          "same_matches": (matches == r["matches"]) if scanned == total and r["exact"] else None,
                          "scan_over_search": scaled * 1000 / r["median_ms"]})
        index = db.search_index_stats()
    def p(values: list[float], q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))]

    summary = {"n": args.n, "batch": args.batch, "build": {**saved, "one_more_batch_s": extra}, "index": index,
               "p50_ms": p(latencies, 0.5), "p95_ms": p(latencies, 0.95), "max_ms": latencies[-1],
               "cpu_p50_ms": p(cpu_latencies, 0.5), "cpu_p95_ms": p(cpu_latencies, 0.95),
               "queries": results, "scans": scans, "cpus": os.cpu_count(), "load_average": os.getloadavg()}
    print(f"{args.n} articles; index: {index['segments']} segments, {index['posting_rows']} posting rows")
    b = summary["build"]
    print(f"build: {b['index_s_per_1k']:.2f} s ({b['index_cpu_s_per_1k']:.2f} s CPU) per 1k articles;"
          f" size {b['index_bytes_per_1k'] / 1e6:.2f} MB per 1k articles ({b['index_bytes'] / 1e6:.0f} MB,"
          f" {b['index_bytes'] / b['articles_bytes']:.2f} x the articles);"
          f" one more batch of {args.batch}: {extra:.2f} s")
    print(f"{'query':<42} {'filter':>7} {'median ms':>10} {'max ms':>8} {'matches':>8} {'exact':>6} {'cand.':>7}")
    for r in results:
        print(f"{r['query']:<42} {r['filters'] or '':>7} {r['median_ms']:>10.1f} {r['max_ms']:>8.1f}"
              f" {r['matches']:>8} {'yes' if r['exact'] else 'est.':>6} {r['candidates']:>7}")
    print(f"latency over all queries and repeats: p50 {summary['p50_ms']:.1f} ms, p95 {summary['p95_ms']:.1f} ms,"
          f" max {summary['max_ms']:.1f} ms; CPU per query p50 {summary['cpu_p50_ms']:.1f} ms,"
          f" p95 {summary['cpu_p95_ms']:.1f} ms; load average {summary['load_average'][0]:.1f} on {os.cpu_count()} CPUs")
    for s in scans:
        print(f"plain scan {s['query']!r}: {s['scan_s_full']:.1f} s{' (scaled from %d rows)' % s['scanned'] if s['scaled'] else ''}"
              f" = {s['scan_over_search']:.0f} x the search; matches {s['scan_matches']}"
              f"{'' if s['same_matches'] is None else ' (same as search)' if s['same_matches'] else ' (DIFFERENT)'}")
    out = out_dir / f"bench_search-{name}.json"
    out.write_text(json.dumps(summary, indent=2, default=str))
    print(f"wrote {out.relative_to(ROOT)}")
    if not args.keep:
        path.unlink()
        Path(f"{path}.lock").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
