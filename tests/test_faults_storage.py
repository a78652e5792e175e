"""Upgrading a database written by an older newswatch, and refusing one from a newer one."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest
from conftest import Article, write_sources
from typer.testing import CliRunner

from newswatch.cli import app
from newswatch.config import load_config
from newswatch.errors import StorageError
from newswatch.pipeline import ingest
from storage.db import migrations, open_database

FAILED_AT = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)


def make_v1_database(path, feed_url: str) -> None:
    """A database as the first release wrote it: schema 001 only, a feed failing, one article."""
    version, name, sql = migrations()[0]
    assert version == 1
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMPTZ)")
    con.execute(sql)
    con.execute("INSERT INTO schema_version VALUES (?, ?, ?)", [version, name, FAILED_AT])
    con.execute(
        "INSERT INTO feeds (name, url, configured_url, last_fetch_at, last_status, last_error,"
        " consecutive_failures) VALUES ('Daily', ?, ?, ?, 503, 'HTTP 503', 3)",
        [feed_url, feed_url, FAILED_AT],
    )
    con.execute(
        "INSERT INTO articles (id, canonical_url, url, feed_name, title, summary, discovered_at, status)"
        " VALUES ('old1', 'http://old.example/a', 'http://old.example/a', 'Daily', 'Old CSTO story',"
        " 'The CSTO defence ministers met.', ?, 'pending')",
        [FAILED_AT],
    )
    con.close()


def test_old_schema_is_migrated_and_keeps_its_data(site, tmp_path):
    article = Article("fresh", "Fresh CSTO story", "The CSTO defence ministers met again in Yerevan.\n" * 6)
    url = site.add_feed("/rss.xml", [article])
    sources = write_sources(tmp_path, [{"name": "Daily", "url": url, "language": "en"}],
                            extract={"max_attempts": 1})
    config = load_config(sources)
    config.settings.database.parent.mkdir(parents=True)
    make_v1_database(config.settings.database, url)

    status = CliRunner().invoke(app, ["sources", "status", "--sources", str(sources)])
    assert status.exit_code == 1 and "older schema" in status.output and "newswatch ingest" in status.output

    with open_database(config.settings.database) as db:
        assert db.pending_migrations() == []
        assert db.schema_version() == migrations()[-1][0]
        health = db.feed_health()["Daily"]
        assert (health.consecutive_failures, health.failing_since, health.retry_after_until) == (3, FAILED_AT, None)
        stats = ingest(config, db)
        assert stats.feeds_ok == 1 and stats.new_articles == 1
        rows = db.con.execute("SELECT id, status FROM articles ORDER BY id").fetchall()
        assert [row[0] for row in rows][-1] == "old1" and len(rows) == 2
        assert db.feed_health()["Daily"].consecutive_failures == 0
    status = CliRunner().invoke(app, ["sources", "status", "--sources", str(sources)], env={"COLUMNS": "200"})
    assert status.exit_code == 0 and "│ Daily" in status.output and " ok " in status.output


def test_upgrade_drops_the_runs_table_nothing_wrote(tmp_path):
    path = tmp_path / "v1.duckdb"
    make_v1_database(path, "http://old.example/rss.xml")
    with open_database(path) as db:
        tables = {row[0] for row in db.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert "runs" not in tables and {"feeds", "articles", "matches", "cluster_members"} <= tables
        assert db.schema_version() == migrations()[-1][0]


def test_database_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "future.duckdb"
    with open_database(path):
        pass
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_version VALUES (999, '999_future.sql', now())")
    con.close()
    with pytest.raises(StorageError, match=r"schema migrations \[999\].*newer version; upgrade newswatch"):
        with open_database(path):
            pass


def test_status_before_the_first_run_lists_feeds_as_new(site, tmp_path):
    sources = write_sources(tmp_path, [{"name": "Daily", "url": site.url + "/rss.xml", "language": "en"},
                                       {"name": "Off", "url": site.url + "/off.xml", "language": "en", "enabled": False}])
    result = CliRunner().invoke(app, ["sources", "status", "--sources", str(sources)], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.startswith("│")}
    assert " new " in lines["Daily"] and " disabled " in lines["Off"]
    assert not (tmp_path / "data").exists()  # status never creates the database
