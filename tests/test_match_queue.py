"""The match queue (issue 15): each run matches what was stored since, never rescans the archive;
a topic change re-matches the whole archive once; nothing is lost on upgrade or after a crash."""

from __future__ import annotations

import duckdb
import pytest
import yaml
from conftest import UNRELATED, Article, write_sources
from labelled.data import load_articles, load_watchlist

from newswatch.config import load_config
from newswatch.match import compile_topics
from newswatch.models import ExtractedArticle, TopicMatch
from newswatch.pipeline import ingest, match_stored
from newswatch.text import content_hash
from storage.db import open_database


def queued(db) -> list[str]:
    return [row[0] for row in db.con.execute("SELECT article_id FROM match_queue ORDER BY 1").fetchall()]


def matched_at(db) -> dict[tuple[str, str], object]:
    """When each (article, topic) match was stored; one row each (a second would be a duplicate)."""
    rows = db.con.execute("SELECT article_id, topic, matched_at FROM matches ORDER BY 1, 2").fetchall()
    assert len({(a, t) for a, t, _ in rows}) == len(rows), rows
    return {(a, t): at for a, t, at in rows}


def fingerprints(db) -> set[str | None]:
    return {row[0] for row in db.con.execute(
        "SELECT DISTINCT matched_fingerprint FROM articles WHERE status <> 'pending'").fetchall()}


def two_matching_and_one_unrelated() -> list[Article]:
    """From the labelled set (in every clone): an English article the shipped topics match as
    CSTO only, well above its threshold (a small threshold change keeps it), one they match as
    the peacekeeping mandate only, and an unrelated one."""
    topics, entities = load_watchlist()
    matcher = compile_topics(topics, entities)
    threshold = {topic.name: topic.min_score for topic in topics}
    chosen = {}
    for item in load_articles():
        if item["lang"] != "en" or len(item["topics"]) != 1 or item["topics"][0] in chosen:
            continue
        found = matcher.match(item["title"], item["body"], "en")
        if [m.topic for m in found] == item["topics"] and found[0].score >= threshold[found[0].topic] + 0.5:
            chosen[item["topics"][0]] = Article(item["id"], item["title"], item["body"])
    return [chosen["CSTO"], chosen["peacekeeping mandate"], UNRELATED]


@pytest.fixture
def config(site, tmp_path):
    return load_config(write_sources(tmp_path, [
        {"name": "Daily", "url": site.add_feed("/rss.xml", two_matching_and_one_unrelated()), "language": "en"}
    ]))


def test_only_queued_articles_are_matched_and_they_leave_the_queue(config):
    matcher = compile_topics(config.topics, config.entities, semantic=config.settings.semantic)
    with open_database(config.settings.database) as db:
        stats = ingest(config, db)
        assert stats.matched_articles == 2 and queued(db) == []
        before = matched_at(db)
        # an article whose matches are gone but which is not queued is not looked for in the archive
        lost = next(article for article, _ in before)
        db.con.execute("DELETE FROM matches WHERE article_id = ?", [lost])
        assert match_stored(db, matcher, 10) == (0, 0)
        db.con.execute("INSERT INTO match_queue VALUES (?)", [lost])
        articles, _ = match_stored(db, matcher, 10)
        assert articles == 1 and queued(db) == []
        assert matched_at(db).keys() == before.keys()
        # extracted again with the same text: not queued; with another text: queued
        text = db.con.execute("SELECT text FROM articles WHERE id = ?", [lost]).fetchone()[0]
        db.store_extracted([ExtractedArticle(lost, "extracted", text, content_hash=content_hash(text))])
        assert queued(db) == []
        changed = text + " The CSTO summit ended."
        db.store_extracted([ExtractedArticle(lost, "extracted", changed, content_hash=content_hash(changed))])
        assert queued(db) == [lost]


def test_the_migration_queues_what_an_older_database_left_unmatched(config):
    path = config.settings.database
    with open_database(path) as db:
        ingest(config, db)
        before = matched_at(db)
        current = db.con.execute("SELECT value FROM match_state").fetchone()[0]
        never, half = sorted({article for article, _ in before})  # the two articles with matches
        # as a database of a newswatch before the queue: one article extracted but never matched,
        # one left by a re-match that stopped half way (matched with another fingerprint)
        db.con.execute("DELETE FROM matches WHERE article_id = ?", [never])
        db.con.execute("UPDATE articles SET matched_fingerprint = NULL WHERE id = ?", [never])
        db.con.execute("UPDATE articles SET matched_fingerprint = 'older matcher' WHERE id = ?", [half])
        db.con.execute("DROP TABLE match_queue")
        db.con.execute("DROP TABLE match_state")
        db.con.execute("DELETE FROM schema_version WHERE name = '210_match_queue.sql'")
    with open_database(path) as db:
        assert queued(db) == sorted([never, half])
        assert db.con.execute("SELECT value FROM match_state").fetchone()[0] == current
        ingest(config, db)
        assert queued(db) == []
        after = matched_at(db)
        assert after.keys() == before.keys()
        # the two queued were matched again, the third (matched with the current matcher) was not
        assert {key for key in after if after[key] != before[key]} == {key for key in after if key[0] in (never, half)}
        assert fingerprints(db) == {current}


def test_a_crash_between_batches_or_inside_one_loses_and_repeats_nothing(config):
    path = config.settings.database
    matcher = compile_topics(config.topics, config.entities, semantic=config.settings.semantic)
    with open_database(path) as db:
        ingest(config, db)
        expected = matched_at(db).keys()
        db.con.execute("DELETE FROM matches")
        db.con.execute("UPDATE articles SET matched_fingerprint = NULL")
        db.con.execute("INSERT INTO match_queue SELECT id FROM articles")
        # a failure inside the transaction that stores a batch (after its old matches were
        # deleted): the batch stays queued, nothing of it is stored
        first = db.articles_to_match(1)
        assert len(first) == 1
        broken = {first[0].id: [TopicMatch("CSTO", None, ("CSTO",))]}  # score is NOT NULL
        with pytest.raises(duckdb.ConstraintException):
            db.store_matches(matcher.fingerprint, broken)
        assert len(queued(db)) == 3 and matched_at(db) == {}
        # one batch of one article stored, then the process stops
        db.store_matches(matcher.fingerprint, {a.id: matcher.match(a.title, a.text, a.language) for a in first})
        assert len(queued(db)) == 2
        done = matched_at(db)
    with open_database(path) as db:  # the next run finishes the queue
        assert match_stored(db, matcher, 1)[0] == 2 - len({a for a, _ in done})
        assert queued(db) == []
        after = matched_at(db)
        assert after.keys() == expected
        assert {key: after[key] for key in done} == done  # the batch stored before the crash: not repeated
        assert fingerprints(db) == {matcher.fingerprint}


def test_a_topic_change_re_matches_the_whole_archive_once(config, tmp_path):
    sources = tmp_path / "sources.yaml"
    with open_database(config.settings.database) as db:
        ingest(config, db)
        first = matched_at(db)
        old = fingerprints(db)
    data = yaml.safe_load(sources.read_text(encoding="utf-8"))
    topic = next(t for t in data["topics"] if t["name"] == "CSTO")
    topic["min_score"] = topic.get("min_score", 1.0) + 0.01  # changes the fingerprint, not the matches
    sources.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    changed = load_config(sources)
    matcher = compile_topics(changed.topics, changed.entities, semantic=changed.settings.semantic)
    with open_database(changed.settings.database) as db:
        ingest(changed, db)
        second = matched_at(db)
        assert second.keys() == first.keys()
        assert all(second[key] > first[key] for key in first)  # every article matched again
        assert fingerprints(db) == {matcher.fingerprint} != old
        assert queued(db) == []
        ingest(changed, db)
        assert matched_at(db) == second  # and only once
