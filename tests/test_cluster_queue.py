"""The cluster queue (issue 15): each run clusters what was stored since, never rescans the archive."""

from __future__ import annotations

from conftest import sample_articles, write_sources

from newswatch.config import load_config
from newswatch.pipeline import ingest
from storage.db import open_database


def queued(db) -> list[str]:
    return [row[0] for row in db.con.execute("SELECT article_id FROM cluster_queue ORDER BY 1").fetchall()]


def test_clustered_articles_leave_the_queue_and_only_queued_ones_are_clustered(site, tmp_path):
    config = load_config(write_sources(tmp_path, [
        {"name": "Daily", "url": site.add_feed("/rss.xml", sample_articles()), "language": "en"}
    ]))
    with open_database(config.settings.database) as db:
        assert ingest(config, db).clustered == 3
        assert queued(db) == []
        # an extracted article that is not queued is not looked for among the archive
        first = db.con.execute("SELECT min(id) FROM articles").fetchone()[0]
        db.con.execute("DELETE FROM cluster_bands WHERE article_id = ?", [first])
        db.con.execute("DELETE FROM cluster_members WHERE article_id = ?", [first])
        assert db.articles_to_cluster(config.settings.extract.max_attempts, 100) == []
        db.con.execute("INSERT INTO cluster_queue VALUES (?)", [first])
        assert [a.id for a in db.articles_to_cluster(config.settings.extract.max_attempts, 100)] == [first]


def test_the_migration_queues_what_an_older_database_left_unclustered(site, tmp_path):
    config = load_config(write_sources(tmp_path, [
        {"name": "Daily", "url": site.add_feed("/rss.xml", sample_articles()), "language": "en"}
    ]))
    path = config.settings.database
    with open_database(path) as db:
        ingest(config, db)
        first = db.con.execute("SELECT min(id) FROM articles").fetchone()[0]
        # as a database of a newswatch before the queue, one article not clustered yet
        db.con.execute("DELETE FROM cluster_bands WHERE article_id = ?", [first])
        db.con.execute("DELETE FROM cluster_members WHERE article_id = ?", [first])
        db.con.execute("DROP TABLE cluster_queue")
        db.con.execute("DELETE FROM schema_version WHERE name = '150_cluster_queue.sql'")
    with open_database(path) as db:
        assert queued(db) == [first]
        stats = ingest(config, db)
        assert stats.clustered == 1
        assert queued(db) == []
        assert db.con.execute("SELECT count(*) FROM cluster_members").fetchone()[0] == 3
