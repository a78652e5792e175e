"""The plain pipeline (no Prefect) against a real local news site and a real DuckDB file."""

from __future__ import annotations

from markupsafe import escape

import duckdb
import pytest
from conftest import UNRELATED, Article, sample_articles, write_sources

from newswatch.config import load_config
from newswatch.pipeline import BATCHES_AHEAD, LocalStages, ingest, run_ahead
from newswatch.reports import report, report_window
from storage.db import open_database


def topics_by_title(db_path) -> dict[str, set[str]]:
    con = duckdb.connect(str(db_path), read_only=True)
    rows = con.execute(
        "SELECT a.title, m.topic FROM articles a LEFT JOIN matches m ON m.article_id = a.id"
    ).fetchall()
    con.close()
    found: dict[str, set[str]] = {}
    for title, topic in rows:
        found.setdefault(title, set())
        if topic:
            found[title].add(topic)
    return found


def test_samples_are_matched_and_unrelated_is_not(site, tmp_path):
    articles = sample_articles()
    sources = write_sources(tmp_path, [
        {"name": "Daily", "url": site.add_feed("/rss.xml", articles[:2]), "language": "en"},
        {"name": "Wire", "url": site.add_feed("/atom.xml", articles[2:], kind="atom"), "language": "en"},
    ])
    config = load_config(sources)
    with open_database(config.settings.database) as db:
        stats = ingest(config, db)
    assert stats.feeds_ok == 2 and stats.new_articles == 3 and stats.extracted == 3
    found = topics_by_title(config.settings.database)
    assert found[articles[0].title] == {"peace accord", "CSTO"}
    assert "peacekeeping mandate" in found[articles[1].title]
    assert found[UNRELATED.title] == set()


def test_rerun_is_idempotent_and_uses_conditional_get(site, tmp_path):
    sources = write_sources(tmp_path, [
        {"name": "Daily", "url": site.add_feed("/rss.xml", sample_articles()), "language": "en"},
    ])
    config = load_config(sources)
    with open_database(config.settings.database) as db:
        ingest(config, db)
        first = db.counts()
        snapshot = db.con.execute("SELECT * FROM matches ORDER BY article_id, topic").fetchall()
        second = ingest(config, db)
        assert db.counts() == first
        assert second.new_articles == 0 and second.feeds_not_modified == 1
        assert db.con.execute("SELECT * FROM matches ORDER BY article_id, topic").fetchall() == snapshot
    assert site.statuses("/rss.xml") == [200, 304]
    assert site.bodies_served("/rss.xml")[1] == 0


def test_new_items_are_added_on_the_next_run(site, tmp_path):
    articles = sample_articles()
    url = site.add_feed("/rss.xml", articles[:1])
    config = load_config(write_sources(tmp_path, [{"name": "Daily", "url": url, "language": "en"}]))
    with open_database(config.settings.database) as db:
        assert ingest(config, db).new_articles == 1
        site.add_feed("/rss.xml", articles)
        assert ingest(config, db).new_articles == 2
        assert db.counts()["articles"] == 3


def test_failing_feed_is_recorded_and_others_continue(site, tmp_path):
    sources = write_sources(tmp_path, [
        {"name": "Dead", "url": site.url + "/missing.xml", "language": "en"},
        {"name": "Garbage", "url": site.url + "/news/" + UNRELATED.slug, "language": "en"},
        {"name": "Daily", "url": site.add_feed("/rss.xml", sample_articles()), "language": "en"},
    ])
    config = load_config(sources)
    with open_database(config.settings.database) as db:
        stats = ingest(config, db)
        assert stats.feeds_ok == 1 and stats.feeds_failed == 2 and stats.new_articles == 3
        assert stats.failures["Dead"] == "HTTP 404"
        assert stats.failures["Garbage"].startswith("not a feed")
        health = {feed.name: feed.last_error for feed in db.failing_feeds()}
    assert health == {"Dead": "HTTP 404", "Garbage": stats.failures["Garbage"]}


def test_unreachable_page_keeps_summary(site, tmp_path):
    article = Article("peace-talks", "Talks resume", "x", summary="Armenian and Azerbaijani negotiators discussed the peace treaty and Armenia's CSTO membership.")
    url = site.add_feed("/rss.xml", [article])
    site.broken_pages.add(article.slug)
    config = load_config(write_sources(tmp_path, [{"name": "Daily", "url": url, "language": "en"}]))
    with open_database(config.settings.database) as db:
        stats = ingest(config, db)
        assert stats.summary_only == 1
        status, text, error = db.con.execute("SELECT status, text, extract_error FROM articles").fetchone()
    assert (status, text, error) == ("summary_only", article.summary, "HTTP 500")
    assert topics_by_title(config.settings.database)["Talks resume"] == {"peace accord", "CSTO"}


class CrashingStages(LocalStages):
    """Dies (like kill -9 would) after storing the first extracted batch."""

    def extract_batches(self, batches, http):
        for number, results in enumerate(super().extract_batches(batches, http)):
            if number == 1:
                raise KeyboardInterrupt("simulated crash")
            yield results


def test_interrupted_run_is_completed_by_the_next_one(site, tmp_path):
    articles = [Article(f"story-{i}", f"CSTO story number {i}", f"The CSTO defence ministers met for the {i}th time.\n" * 5) for i in range(7)]
    url = site.add_feed("/rss.xml", articles)
    config = load_config(write_sources(tmp_path, [{"name": "Daily", "url": url, "language": "en"}],
                                       extract={"batch_size": 3}))
    with open_database(config.settings.database) as db, pytest.raises(KeyboardInterrupt):
        ingest(config, db, CrashingStages())
    with open_database(config.settings.database) as db:
        statuses = [row[0] for row in db.con.execute("SELECT status FROM articles").fetchall()]
        assert sorted(statuses).count("pending") == 4 and len(statuses) == 7
        stats = ingest(config, db)
        assert stats.extracted == 4 and stats.feeds_not_modified == 1
        assert db.counts()["articles"] == 7
        assert db.con.execute("SELECT count(*), count(DISTINCT article_id) FROM matches").fetchone() == (7, 7)


def test_report_lists_matches_grouped_by_topic(site, tmp_path):
    articles = sample_articles()
    config = load_config(write_sources(tmp_path, [{"name": "Daily", "url": site.add_feed("/rss.xml", articles), "language": "en"}]))
    with open_database(config.settings.database) as db:
        ingest(config, db)
        start, end = report_window(24)
        built, html_path, text_path = report(config, db, start, end, tmp_path / "out")
    html = html_path.read_text(encoding="utf-8")
    text = text_path.read_text(encoding="utf-8")
    assert [s.name for s in built.sections] == ["peace accord", "CSTO", "peacekeeping mandate"]
    assert escape(articles[0].title) in html and escape(articles[1].title) in html
    assert escape(UNRELATED.title) not in html
    assert "<mark>" in html and f"{site.url}/news/{articles[0].slug}" in html
    assert articles[0].title in text and "[[" in text


def test_run_ahead_keeps_order_and_bounds_the_work_in_flight():
    submitted, consumed, most_in_flight = [], [], []

    class Done:
        def __init__(self, value: int):
            self.value = value

        def result(self) -> int:
            return self.value

    def submit(item: int) -> Done:
        submitted.append(item)
        most_in_flight.append(len(submitted) - len(consumed))
        return Done(item * 10)

    for result in run_ahead(submit, range(10)):
        consumed.append(result)
    assert consumed == [i * 10 for i in range(10)]
    assert max(most_in_flight) == BATCHES_AHEAD
