"""Real ``python -m newswatch`` processes: kill -9 mid-ingest, concurrent runs, full disk,
read-only data directory. Nothing is lost or duplicated and every failure says what to do."""

from __future__ import annotations

import os
import random
import re
import resource
import signal
import string
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import pytest
from conftest import REPO, Article, article_html, write_sources
from proc_tree import alive, command_line, descendants
from waiting import wait_for
from werkzeug import Response

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]

# Tests about storage and locks parse in the calling process (extract.workers: 1): starting a
# pool of parser processes in every `python -m newswatch` doubled their time on a busy machine;
# the kill -9 test keeps the default pool.
ARTICLES = [
    # on topic however the random filler of big_articles reads (it may spell "ceo" or "bank..."):
    # the alliance is named next to the CSTO, as the topic asks in an article about companies
    Article(f"story-{i:02d}", f"CSTO story {i}", f"Story {i}: the CSTO alliance met in Yerevan about its future.\n" * 6)
    for i in range(24)
]


def big_articles(kilobytes: int) -> list[Article]:
    """ARTICLES with ``kilobytes`` of incompressible text each (random words, fixed seed), in
    paragraphs of about 12 KB: the parser's cost grows with the number of paragraphs, and
    these tests need a large database, not a slow parse."""
    def words(seed: int) -> str:
        rng = random.Random(seed)
        lines = (" ".join("".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))) for _ in range(2000))
                 for _ in range(max(1, kilobytes * 1024 // 12_500)))
        return "\n".join(f"{line}." for line in lines)

    return [Article(a.slug, a.title, a.body + words(number)) for number, a in enumerate(ARTICLES)]


@pytest.fixture(scope="session")
def big() -> list[Article]:
    """ARTICLES with 200 KB of text each, made once for the tests that fill a disk."""
    return big_articles(200)


def slow_site(site, delay: float, gate: threading.Event | None = None) -> str:
    """Serve ARTICLES with every page taking ``delay`` seconds (and waiting for ``gate`` to
    be set, if given); return the feed URL."""
    url = site.add_feed("/rss.xml", ARTICLES)
    for article in ARTICLES:
        def page(request, article=article):
            if gate is not None:
                gate.wait(600)
            time.sleep(delay)
            return Response(article_html(article), content_type="text/html")

        site.route(f"/news/{article.slug}", page)
    return url


def pages_served(site) -> int:
    return sum(1 for path, _, _ in list(site.log) if path.startswith("/news/"))


def newswatch(sources: Path, *args: str, limit_file_size: int | None = None, own_api: bool = False) -> subprocess.Popen:
    """Start ``python -m newswatch ingest`` (or ``args``) against the test Prefect API (with
    ``own_api``: as on a fresh machine, with no Prefect API configured)."""
    from prefect.settings import get_current_settings

    env = {**os.environ, "PREFECT_API_URL": str(get_current_settings().api.url),
           "NEWSWATCH_SOURCES": str(sources), "COLUMNS": "200"}
    if own_api:
        env = {key: value for key, value in env.items() if not key.startswith("PREFECT_")}
        env["PREFECT_HOME"] = str(sources.parent / "prefect-client")

    def limit() -> None:  # in the child: writes beyond the limit fail with EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_size, limit_file_size))

    output = tempfile.TemporaryFile("w+", encoding="utf-8")  # a pipe could fill up and block the child
    process = subprocess.Popen(
        [sys.executable, "-m", "newswatch", *(args or ("ingest",))],
        cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT, text=True,
        preexec_fn=limit if limit_file_size else None,
    )
    process.output = output
    return process


def finish(process: subprocess.Popen, timeout: float = 600) -> tuple[int, str]:
    """Wait for the process (a generous deadline: a loaded machine takes minutes where an idle
    one takes seconds); return its exit code and its stdout + stderr."""
    process.wait(timeout=timeout)
    with process.output as output:
        output.seek(0)
        return process.returncode, output.read()


def output_of(process: subprocess.Popen) -> str:
    """What a running process has printed so far."""
    process.output.flush()
    with open(process.output.fileno(), encoding="utf-8", closefd=False) as reader:
        reader.seek(0)
        return reader.read()


def settled(site) -> int:
    """Pages served once the server has caught up with requests already sent to it."""
    while True:
        count = pages_served(site)
        time.sleep(1.0)
        if pages_served(site) == count:
            return count


def assert_complete(database: Path) -> None:
    """Every article stored once, extracted once, matched once."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        assert con.execute("SELECT count(*), count(DISTINCT canonical_url) FROM articles").fetchone() == (24, 24)
        assert con.execute("SELECT status, count(*) FROM articles GROUP BY status").fetchall() == [("extracted", 24)]
        assert con.execute("SELECT max(attempts) FROM articles").fetchone() == (1,)
        assert con.execute("SELECT count(*), count(DISTINCT article_id) FROM matches").fetchone() == (24, 24)
        assert con.execute("SELECT consecutive_failures FROM feeds").fetchall() == [(0,)]
    finally:
        con.close()


def test_kill_9_during_ingest_then_rerun(site, tmp_path):
    sources = write_sources(tmp_path, [{"name": "Daily", "url": slow_site(site, 0.3), "language": "en"}],
                            extract={"batch_size": 2}, http={"concurrency": 2})
    database = tmp_path / "data" / "newswatch.duckdb"
    victim = newswatch(sources)
    wait_for(lambda: pages_served(site) >= 16, "16 pages served", every=0.05)
    victim.send_signal(signal.SIGKILL)
    code, _ = finish(victim)
    assert code == -signal.SIGKILL

    con = duckdb.connect(str(database))  # the file opens; the WAL is replayed
    statuses = dict(con.execute("SELECT status, count(*) FROM articles GROUP BY status").fetchall())
    con.close()
    assert sum(statuses.values()) == 24 and statuses.get("pending", 0) > 0  # killed mid-way

    served = settled(site)
    code, output = finish(newswatch(sources))
    assert code == 0, output
    assert_complete(database)
    assert pages_served(site) - served == statuses["pending"]  # the rerun fetched only what was left


def test_kill_9_leaves_no_process_behind(site, tmp_path):
    """The command's own Prefect server and its parser processes end with it, even on kill -9."""
    sources = write_sources(tmp_path, [{"name": "Daily", "url": slow_site(site, 0.3), "language": "en"}],
                            extract={"batch_size": 2, "workers": 2}, http={"concurrency": 2})
    victim = newswatch(sources, own_api=True)
    wait_for(lambda: pages_served(site) >= 6, "pages being fetched and parsed", every=0.05)
    tree = descendants(victim.pid)
    commands = [command_line(pid) for pid in tree]
    assert any("prefect.server.api.server:create_app" in c for c in commands), commands
    assert any("forkserver" in c for c in commands), commands  # the parser pool
    victim.send_signal(signal.SIGKILL)
    assert finish(victim)[0] == -signal.SIGKILL
    wait_for(lambda: not alive(tree), f"every process of the killed run to end: {commands}", deadline=300)


def test_second_run_waits_or_exits_with_a_clear_message(site, tmp_path):
    gate = threading.Event()
    sources = write_sources(tmp_path, [{"name": "Daily", "url": slow_site(site, 0, gate), "language": "en"}],
                            # the first run's page requests wait for the gate, which opens only after
                            # the other commands ran: minutes on a loaded machine
                            lock_timeout=1, http={"timeout": 600, "total_timeout": 900}, extract={"workers": 1})
    (tmp_path / "patient").mkdir()
    patient = write_sources(tmp_path / "patient", [{"name": "Daily", "url": site.url + "/rss.xml", "language": "en"}],
                            database=str(tmp_path / "data" / "newswatch.duckdb"), lock_timeout=600,
                            extract={"workers": 1})
    first = newswatch(sources)
    try:
        wait_for(lambda: site.statuses("/rss.xml") == [200], "the first run to hold the database", every=0.05)
        code, output = finish(newswatch(sources))
        assert code == 1, output
        assert "Storage error: another newswatch process is writing" in output and "newswatch.duckdb.lock" in output
        code, output = finish(newswatch(sources, "sources", "status"))  # the snapshot the first run opened with
        assert code == 0 and "an ingest is running: showing the snapshot of" in output, output
        assert re.search(r"Daily\W+new\W+0\W+never", output), output
        waiting = newswatch(patient)
        wait_for(lambda: "Beginning flow run" in output_of(waiting), "the second run to wait for the lock", every=0.05)
    finally:
        gate.set()
    code, output = finish(first)
    assert code == 0, output
    code, output = finish(waiting)
    assert code == 0 and "ingest: 0 new articles" in output, output
    assert site.statuses("/rss.xml") == [200, 304]
    assert_complete(tmp_path / "data" / "newswatch.duckdb")


def test_file_size_limit_gives_a_clear_error_and_a_rerun_completes(site, tmp_path, big):
    sources = write_sources(tmp_path, [{"name": "Daily", "url": site.add_feed("/rss.xml", big), "language": "en"}],
                            extract={"workers": 1})
    database = tmp_path / "data" / "newswatch.duckdb"
    code, output = finish(newswatch(sources, "sources", "validate"))
    assert code == 0, output
    code, output = finish(newswatch(sources, limit_file_size=1_000_000))
    assert code == 1, output
    assert "Storage error: cannot write database" in output and "File too large" in output
    assert "Check free disk space" in output

    code, output = finish(newswatch(sources))
    assert code == 0, output
    con = duckdb.connect(str(database), read_only=True)
    assert con.execute("SELECT count(*), count(DISTINCT canonical_url), count(*) FILTER (status = 'extracted')"
                       " FROM articles").fetchone() == (24, 24, 24)
    assert con.execute("SELECT count(*), count(DISTINCT article_id) FROM matches").fetchone() == (24, 24)
    con.close()


@pytest.fixture
def tiny_disk(tmp_path):
    """A 3 MiB tmpfs (needs mount rights, e.g. root in a container); unmounted afterwards."""
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mountpoint)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def test_full_disk_then_read_only_disk(site, tiny_disk, tmp_path, big):
    database = tiny_disk / "newswatch.duckdb"
    sources = write_sources(tmp_path, [{"name": "Daily", "url": site.add_feed("/rss.xml", big), "language": "en"}],
                            database=str(database), extract={"workers": 1})
    code, output = finish(newswatch(sources))
    assert code == 1, output
    assert "Storage error: cannot write database" in output and "No space left on device" in output

    subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
    code, output = finish(newswatch(sources))
    assert code == 1, output
    assert "Read-only file system" in output and "the data directory must be writable" in output

    # room again: the database, its readers' snapshot (a copy) and the copy being published
    subprocess.run(["mount", "-o", "remount,rw,size=256m", str(tiny_disk)], check=True)
    code, output = finish(newswatch(sources))
    assert code == 0, output
    con = duckdb.connect(str(database), read_only=True)
    assert con.execute("SELECT count(*), count(DISTINCT canonical_url), count(*) FILTER (status = 'extracted')"
                       " FROM articles").fetchone() == (24, 24, 24)
    con.close()
