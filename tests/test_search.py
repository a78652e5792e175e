"""Archive search: the index finds exactly what the topic matcher finds, keeps up with ingest
batches (segments, merges, re-extracted text), filters, collapses stories, and rejects bad
queries with a reason. Real DuckDB files throughout."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from conftest import REPO
from labelled.data import load_articles, load_watchlist

from newswatch.config import Topic, load_config
from newswatch.errors import SearchError
from newswatch.match import compile_topics
from newswatch.models import AnyPlan, LangPlan, ScaledPlan, SearchFilters, WordPlan
from newswatch.query import parse_query
from newswatch.search import _plan, index_postings, search
from newswatch.search_output import run as run_search
from storage import search_index
from storage.db import migrations, open_database

START = datetime(2026, 5, 1, tzinfo=UTC)
QUERIES = [
    "CSTO", "ОДКБ OR ՀԱՊԿ OR KTMT", '"peace treaty"', "peacekeep*", "миротвор* AND NOT ООН",
    "title:@armenia", "@russia AND lang:ru", "(peace OR мир*) NEAR/5 (Armenia OR Армени*)", "ATLEAST/2 CSTO",
    '"sülh müqavilə*"', "სამშვიდობო ხელშეკრულებ*", "Karabakh AND NOT peacekeep*", "Pashinyan^0 AND CSTO",
]


def insert_articles(db, rows) -> None:
    """Store (id, title, text, language, feed, published) rows as extracted articles, one batch."""
    at = datetime.now(UTC)
    for n, (article_id, title, text, language, feed, published) in enumerate(rows):
        db.con.execute(
            """INSERT INTO articles (id, canonical_url, url, feed_name, title, summary, text, language,
                   published_at, discovered_at, extracted_at, status)
               VALUES (?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, 'extracted')""",
            [article_id, f"https://example.org/{article_id}", f"https://example.org/{article_id}", feed, title, text,
             language, published, published, at + timedelta(microseconds=n)],
        )


@pytest.fixture
def labelled_db(tmp_path):
    """The labelled multilingual set, indexed one small segment at a time (so segments merge)."""
    articles = load_articles()
    with open_database(tmp_path / "search.duckdb") as db:
        for start in range(0, len(articles), 4):
            insert_articles(db, [
                (a["id"], a["title"], a["body"], a["lang"], f"Outlet {n % 3}", START + timedelta(hours=n))
                for n, a in enumerate(articles[start : start + 4], start)
            ])
            db.update_search_index(index_postings, batch_size=4)
        yield db, articles


def matcher_hits(query: str, articles: list[dict], entities) -> set[str]:
    matcher = compile_topics([Topic(name="q", query=query, min_score=0)], entities, semantic=False)
    return {a["id"] for a in articles if matcher.match(a["title"], a["body"], a["lang"])}


@pytest.mark.parametrize("query", QUERIES)
def test_search_finds_exactly_what_the_matcher_finds(labelled_db, query):
    db, articles = labelled_db
    _, entities = load_watchlist()
    expected = matcher_hits(query, articles, entities)
    result = search(db, query, entities, limit=200)
    assert result.exact
    assert result.total == len(expected)
    assert {s.article.article_id for s in result.stories} == expected


def every_posting_scored(con, plan, filters: SearchFilters, newest: bool) -> list[tuple[str, float]]:
    """The exhaustive answer to ``plan``: every posting row read and checked in Python, every live doc
    that passes ``filters`` scored and ordered as search ranks them (score, date, doc number)."""
    rows = con.execute("SELECT key, word, docs, impacts, fields FROM search_postings").fetchall()
    docs = {d[0]: d[1:] for d in con.execute(
        "SELECT doc, article_id, seen_at, live, language, feed_name FROM search_docs").fetchall()}

    def scores(p) -> dict[int, float]:
        if isinstance(p, WordPlan):
            out: dict[int, float] = {}
            for key, word, numbers, impacts, fields in rows:
                if word.startswith(p.value) if p.prefix else key == p.value:
                    for doc, impact, field in zip(numbers, impacts, fields, strict=True):
                        if field & p.fields:
                            out[doc] = out.get(doc, 0.0) + impact
            return out
        if isinstance(p, LangPlan):
            return {doc: 0.0 for doc, d in docs.items() if d[3] == p.code}
        if isinstance(p, ScaledPlan):
            return {doc: w * p.factor for doc, w in scores(p.operand).items()}
        if isinstance(p, AnyPlan):
            out = {}
            for op in p.operands:
                for doc, w in scores(op).items():
                    out[doc] = out.get(doc, 0.0) + w
            return out
        parts = [scores(op) for op in p.required]
        excluded = set().union(*(scores(op) for op in p.excluded))
        return {doc: sum(part[doc] for part in parts) for doc in parts[0]
                if all(doc in part for part in parts) and doc not in excluded}

    found = []
    for doc, w in scores(plan).items():
        article_id, seen, live, language, feed = docs[doc]
        if live and w > 0 and (not filters.since or seen >= filters.since) and (
                not filters.until or seen < filters.until) and (
                not filters.languages or language in filters.languages) and (
                not filters.sources or feed in filters.sources):
            found.append((-seen.timestamp(), -w, doc, article_id) if newest else (-w, -seen.timestamp(), doc, article_id))
    return [(f[3], -f[0 if not newest else 1]) for f in sorted(found)]


@pytest.mark.parametrize("query", [*QUERIES, "@armenia AND @azerbaijan", "Armenia AND NOT Russia", "@karabakh",
                                   "ლაჩინ* AND დერეფ*", "title:CSTO OR body:ОДКБ"])
def test_index_lookups_rank_as_reading_every_posting_does(labelled_db, query):
    """The index reads a few posting rows per word (by number, in each segment) and ranks in arrays;
    reading every row of every segment must give the same docs, scores, order and count."""
    db, _ = labelled_db
    _, entities = load_watchlist()
    db.con.execute("UPDATE articles SET text = 'CSTO and Armenia, rewritten.', extracted_at = now()"
                   " WHERE id = (SELECT min(id) FROM articles)")
    db.update_search_index(index_postings)  # a dead doc, still in its segment's postings
    plan = _plan(parse_query(query), entities)[0]
    for filters in (SearchFilters(), SearchFilters(since=START + timedelta(hours=30), languages=("en", "ru"))):
        for newest in (False, True):
            expected = every_posting_scored(db.con, plan, filters, newest)
            ranked, total = search_index.candidates(db.con, plan, filters, newest, 30)
            assert total == len(expected)
            assert [a for a, _ in ranked] == [a for a, _ in expected[:30]]
            assert [w for _, w in ranked] == pytest.approx([w for _, w in expected[:30]], rel=1e-9)


def test_words_longer_than_the_lookup_numbers_are_told_apart(tmp_path):
    """Words sharing their first 16 bytes share a lookup number: their strings decide."""
    long = "ЗАХВАТЫВАЮЩ"  # 22 bytes in UTF-8
    with open_database(tmp_path / "s.duckdb") as db:
        insert_articles(db, [(f"a{n}", f"Report {n}", f"The word {word} is here.", "en", "Daily", START)
                             for n, word in enumerate(["zzzzzzzzzzzzzzzzalpha", "zzzzzzzzzzzzzzzzbeta", long + "ий",
                                                       long + "ая", "ЗАХВАТ"])])
        db.update_search_index(index_postings)

        def found(query: str) -> set[str]:
            result = search(db, query, limit=50)
            assert result.exact and result.total == len(result.stories)  # the index's count, not the matcher's
            return {s.article.article_id for s in result.stories}

        assert found("zzzzzzzzzzzzzzzzalpha") == {"a0"}
        assert found("zzzzzzzzzzzzzzzzbe*") == {"a1"}
        assert found("zzzzzzzzzzzzzzzz*") == {"a0", "a1"}
        assert found(long + "ий*") == {"a2"}
        assert found(long + "*") == {"a2", "a3"}
        assert found("захват*") == {"a2", "a3", "a4"}


def test_lookup_numbers_are_the_strings_first_bytes(tmp_path):
    """Migration 195 numbers the postings written before it as indexing does after it, in order."""
    import duckdb

    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    shipped = {version: sql for version, _, sql in migrations()}
    con.execute(shipped[160])
    words = ["a", "армения", "ხელშეკრულებისთვის", "x" * 16, "x" * 15 + "y", "ab"]
    con.execute("INSERT INTO search_postings SELECT 1, w, w, [1], [1.0], [2] FROM unnest(?::VARCHAR[]) t(w)", [words])
    con.execute(shipped[195])
    rows = con.execute("SELECT key, key_prefix, word_prefix FROM search_postings").fetchall()
    assert [r[0] for r in rows] == words  # the order of the rows is kept
    for key, key_prefix, word_prefix in rows:
        assert key_prefix == word_prefix == search_index.prefix_range(key, prefix=False)[0]
        low, high = search_index.prefix_range(key[:2], prefix=True)
        assert low <= key_prefix <= high
    assert sorted(rows, key=lambda r: r[1]) == sorted(rows, key=lambda r: r[0].encode())


def test_segments_merge_and_answers_stay_the_same(labelled_db):
    db, articles = labelled_db
    _, entities = load_watchlist()
    stats = db.search_index_stats()
    assert stats["docs"] == len(articles)
    # 4 articles per segment: every ten segments written were merged into one, fewer than ten wait
    assert stats["segments"] < len(articles) // 4
    tiers = dict(db.con.execute("SELECT tier, count(*) FROM search_segments GROUP BY tier").fetchall())
    assert tiers.get(1, 0) >= 1 and tiers.get(0, 0) < search_index.FANOUT


def test_re_extracted_text_replaces_the_old_version(labelled_db):
    db, _ = labelled_db
    before = search(db, "CSTO")
    target = before.stories[0].article.article_id
    db.con.execute("UPDATE articles SET text = 'Nothing about the alliance now.', title = 'Weather',"
                   " extracted_at = now() WHERE id = ?", [target])
    assert db.update_search_index(index_postings) == 1
    after = search(db, "CSTO")
    assert target not in {s.article.article_id for s in after.stories}
    assert after.total == before.total - 1
    assert [s.article.article_id for s in search(db, "weather").stories] == [target]
    live = db.con.execute("SELECT count(*) FROM search_docs WHERE article_id = ? AND live", [target]).fetchone()[0]
    assert live == 1


def test_filters_dates_languages_outlets_and_newest_first(labelled_db):
    db, articles = labelled_db
    _, entities = load_watchlist()
    everything = search(db, "@armenia", entities, limit=200)
    since = START + timedelta(hours=40)
    late = search(db, "@armenia", entities, SearchFilters(since=since), limit=200)
    assert 0 < late.total < everything.total
    assert all(s.article.published_at >= since for s in late.stories)
    russian = search(db, "@armenia", entities, SearchFilters(languages=("ru",)), limit=200)
    assert russian.total and all(s.article.language == "ru" for s in russian.stories)
    outlet = search(db, "@armenia", entities, SearchFilters(sources=("Outlet 1",)), limit=200)
    assert outlet.total and all(s.article.feed_name == "Outlet 1" for s in outlet.stories)
    newest = search(db, "@armenia", entities, sort="newest", limit=5)
    times = [s.article.published_at for s in newest.stories]
    assert times == sorted(times, reverse=True) and times[0] == max(s.article.published_at for s in everything.stories)


def test_best_first_puts_title_and_repeated_mentions_on_top(labelled_db):
    db, _ = labelled_db
    result = search(db, "CSTO", limit=50)
    scores = [s.article.score for s in result.stories]
    assert scores == sorted(scores, reverse=True)
    assert "CSTO" in result.stories[0].article.title.upper() or "ОДКБ" in result.stories[0].article.title


def test_snippets_highlight_the_words_found(labelled_db):
    db, _ = labelled_db
    [story, *_] = search(db, '"peace treaty"').stories
    snippet = story.article.snippets[0]
    assert [snippet.text[s:e].lower() for s, e in snippet.spans][0].startswith("peace treat")


def test_story_clusters_are_collapsed_with_their_outlets(tmp_path):
    text = "The CSTO summit in Minsk ended without Armenia. " * 20
    with open_database(tmp_path / "s.duckdb") as db:
        insert_articles(db, [("lead", "CSTO summit without Armenia", text, "en", "Daily", START),
                             ("copy", "CSTO summit without Armenia", text + " Updated.", "en", "Wire", START),
                             ("other", "CSTO exercises", "The CSTO held exercises. " * 10, "en", "Daily", START)])
        db.con.execute("INSERT INTO cluster_members (article_id, cluster_id, source, seen_at, text_words,"
                       " signature, clustered_at) VALUES ('lead', 'lead', 'Daily', ?, 200, NULL, now()),"
                       " ('copy', 'lead', 'Wire', ?, 201, NULL, now())", [START, START])
        db.update_search_index(index_postings)
        result = search(db, "CSTO")
    assert result.total == 3
    assert len(result.stories) == 2
    story = next(s for s in result.stories if s.size == 2)
    assert story.cluster.outlets == ("Daily", "Wire")


@pytest.mark.parametrize(("query", "reason"), [
    ("CSTO AND", "ends too early"),
    ("@nobody", "unknown entity @nobody"),
    ("@terms", "@terms means a topic's own terms"),
    ("NOT CSTO", "none of its terms"),
])
def test_bad_queries_say_why(labelled_db, query, reason):
    db, _ = labelled_db
    _, entities = load_watchlist()
    with pytest.raises(SearchError, match=reason):
        search(db, query, entities)


def test_search_command_output_formats(labelled_db, tmp_path):
    db, _ = labelled_db
    config = load_config(REPO / "sources.yaml", db.path)
    db.con.close()  # the command opens the database itself (as a reader)
    data = json.loads(run_search(config, "CSTO", "2026-05-01", "2026-05-31", ["en"], [], None, "relevance", 3, "json"))
    assert data["exact"] and data["freshness"] == "live data"
    assert len(data["stories"]) == 3 and all(s["language"] == "en" for s in data["stories"])
    assert data["stories"][0]["snippets"][0]["highlights"]
    csv_text = run_search(config, "CSTO", None, None, [], [], None, "newest", 2, "csv")
    assert csv_text.splitlines()[0].startswith("rank,published_at,outlet") and "[[" in csv_text
    table = run_search(config, "CSTO", None, None, [], [], None, "relevance", 2, "table")
    assert "articles match" in table and "live data" in table
    with pytest.raises(SearchError, match="not a date"):
        run_search(config, "CSTO", "May 1st", None, [], [], None, "relevance", 2, "table")
    with pytest.raises(SearchError, match="unknown topic"):
        run_search(config, "CSTO", None, None, [], [], "nope", "relevance", 2, "table")


def test_search_command_exit_codes(labelled_db, tmp_path):
    db, _ = labelled_db
    db.con.close()
    sources = REPO / "sources.yaml"

    def search_command(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "newswatch", "search", *args, "--sources", str(sources),
                               "--db", str(db.path)], cwd=tmp_path, capture_output=True, text=True, timeout=120)

    bad = search_command("CSTO AND")
    assert bad.returncode == 2 and "Invalid search: query line 1, column" in bad.stderr
    good = search_command("CSTO", "--format", "csv", "--limit", "1")
    assert good.returncode == 0, good.stderr
    assert len(good.stdout.splitlines()) == 2
