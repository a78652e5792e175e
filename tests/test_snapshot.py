"""Readers never wait for the writer: while another process holds the database for writing,
search, sources status, reports, feedback and the web pages work from the snapshot that the
last ingest published; feedback given meanwhile is queued and stored by the next writer.
The writer is a real second process holding the database; the readers are real commands."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import REPO, write_sources
from digest_helpers import CSTO_EN, PEACE_RU, WINE
from web_helpers import newswatch

from newswatch.config import load_config
from newswatch.feedback import queued, record
from newswatch.pipeline import ingest
from storage.db import open_database, open_reader
from storage.snapshot import snapshot_path

HOLD = """
import sys
from pathlib import Path
from storage.db import open_database
with open_database(Path(sys.argv[1]), read_only=sys.argv[2] == "read", lock_timeout=5) as db:
    if sys.argv[2] == "write":
        db.publish_snapshot()  # publishing must not give up the writer's hold on the file
        db.con.execute("UPDATE feeds SET items_seen = items_seen + 1000")  # a change readers must not see
    print("holding", flush=True)
    sys.stdin.readline()
"""


@contextmanager
def holding(path: Path, mode: str = "write") -> Iterator[subprocess.Popen]:
    """Another process holding the database (``write``: as the writer; ``read``: as a reader) until the block ends."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path), mode], cwd=REPO, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "holding"
        yield proc
    finally:
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0


@pytest.fixture
def ingested(site, tmp_path):
    """A database filled by one real ingest of a local news site (which publishes the snapshot)."""
    sources = write_sources(tmp_path, [
        {"name": "Daily", "url": site.add_feed("/en.xml", [CSTO_EN, WINE]), "language": "en"},
        {"name": "Novosti", "url": site.add_feed("/ru.xml", [PEACE_RU]), "language": "ru"},
    ])
    config = load_config(sources)
    with open_database(config.settings.database) as db:
        stats = ingest(config, db)
    assert stats.indexed == 3
    return config, sources


def test_ingest_publishes_a_snapshot_that_opens_on_its_own(ingested):
    config, _ = ingested
    copy = snapshot_path(config.settings.database)
    assert copy.exists()
    with open_database(copy, read_only=True) as db:
        assert db.counts()["articles"] == 3
        assert db.search_index_stats()["docs"] == 3


def test_readers_use_the_snapshot_while_another_process_writes(ingested):
    config, _ = ingested
    path = config.settings.database
    with holding(path):
        with open_reader(path) as (db, freshness):
            assert freshness.snapshot and "snapshot of" in freshness.describe()
            assert db.counts()["articles"] == 3
            assert db.con.execute("SELECT max(items_seen) FROM feeds").fetchone()[0] < 1000
    with open_reader(path) as (db, freshness):
        assert not freshness.snapshot
        assert db.con.execute("SELECT max(items_seen) FROM feeds").fetchone()[0] >= 1000


def test_feedback_given_during_a_run_is_queued_then_stored_by_the_next_writer(ingested):
    config, _ = ingested
    path = config.settings.database
    with open_reader(path) as (db, _):
        article = db.con.execute("SELECT id FROM articles WHERE title = ?", [CSTO_EN.title]).fetchone()[0]
    with holding(path):
        item, stored = record(path, "not_relevant", "CSTO", article, note="summit logistics", wait=0.5)
        assert not stored and "/news/csto-summit" in item.url  # completed from the snapshot
        assert [q.article_id for q in queued(path)] == [article]
    with open_database(path) as db:  # the next writer (here: the pipeline's first step would do the same)
        ingest(config, db)
        assert [(f.kind, f.topic, f.article_id, f.note) for f in db.feedback()] == [
            ("not_relevant", "CSTO", article, "summit logistics")]
    assert queued(path) == []


def test_a_writer_waits_for_a_reader_that_has_the_file_open(ingested):
    config, _ = ingested
    path = config.settings.database
    opened = threading.Event()
    with holding(path, "read") as reader:
        def write() -> None:
            with open_database(path, lock_timeout=60) as db:
                db.reset_feed_health("Daily")
            opened.set()

        thread = threading.Thread(target=write)
        thread.start()
        assert not opened.is_set()  # cannot have opened: the reader still holds the file
        reader.stdin.close()
        assert reader.wait(timeout=60) == 0
        thread.join(timeout=60)
    assert opened.is_set()


@pytest.mark.slow
def test_commands_work_while_another_process_writes(ingested, tmp_path):
    config, sources = ingested
    path = config.settings.database
    with open_reader(path) as (db, _):
        article = db.con.execute("SELECT id FROM articles WHERE title = ?", [PEACE_RU.title]).fetchone()[0]
    with holding(path):
        found = newswatch("search", "мирный договор", "--format", "json", "--sources", str(sources), cwd=tmp_path)
        assert found.returncode == 0, found.stderr
        data = json.loads(found.stdout)
        assert data["snapshot_of"] and [s["title"] for s in data["stories"]] == [PEACE_RU.title]
        status = newswatch("sources", "status", "--sources", str(sources), cwd=tmp_path)
        assert status.returncode == 0, status.stderr
        assert "snapshot of" in status.stderr and "Novosti" in status.stdout
        report = newswatch("report", "--sources", str(sources), cwd=tmp_path)
        assert report.returncode == 0, report.stderr[-3000:]
        assert "report: 2 matches" in report.stdout
        given = newswatch("feedback", "missed", "peace accord", article, "--sources", str(sources), cwd=tmp_path)
        assert given.returncode == 0 and "queued" in given.stdout, given.stderr
        listed = newswatch("feedback", "list", "--sources", str(sources), cwd=tmp_path)
        assert "queued" in listed.stdout and "missed" in listed.stdout
    given = newswatch("feedback", "not-relevant", "CSTO", "https://elsewhere.example/x", "--sources", str(sources),
                      cwd=tmp_path)
    assert given.returncode == 0 and "stored" in given.stdout, given.stderr
    listed = newswatch("feedback", "list", "--sources", str(sources), cwd=tmp_path)
    assert "queued" not in listed.stdout and listed.stdout.count("stored") == 2
