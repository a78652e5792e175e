"""The programs bench_contenders.py measures next to ``newswatch ingest``, one per subcommand.

    python benchmarks/contenders.py plain SOURCES DB          # newswatch's pipeline as plain functions
    python benchmarks/contenders.py extract PAGES.json N      # bare trafilatura over N processes
    python benchmarks/contenders.py naive FEEDS.txt DB        # feedparser + httpx + trafilatura + duckdb
    python benchmarks/contenders.py report SOURCES DB HOURS OUT.json   # report: queries + rendering
    python benchmarks/contenders.py digest SOURCES DB OUT.json         # digest: queries + rendering

Each imports only what it uses, so that its process tree costs what such a program costs.
``report`` and ``digest`` time their work once warm (second call), in this process's CPU.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# newswatch's options (newswatch.pages.extract_page), so that the baselines do the same extraction
TRAFILATURA_OPTIONS = {"with_metadata": True, "include_comments": False, "favor_recall": True}


def plain(sources: str, database: str) -> None:
    """One ingest with newswatch's plain functions (no Prefect), as a script would call them."""
    from newswatch.config import load_config
    from newswatch.pipeline import ingest
    from storage.db import open_database

    config = load_config(Path(sources), Path(database))
    with open_database(config.settings.database) as db:
        stats = ingest(config, db)
    print(f"plain ingest: {stats.extracted} extracted, {stats.matched_articles} matched")


def _extract_file(item: tuple[str, str]) -> bool:
    import trafilatura

    url, path = item
    return trafilatura.bare_extraction(Path(path).read_bytes(), url=url, **TRAFILATURA_OPTIONS) is not None


def extract(pages: str, workers: str) -> None:
    """Bare trafilatura extraction of saved pages (a JSON list of [url, file]) over ``workers``
    processes: the least CPU any ingest of these pages can use."""
    from concurrent.futures import ProcessPoolExecutor

    items = json.loads(Path(pages).read_text())
    with ProcessPoolExecutor(int(workers)) as pool:
        done = sum(pool.map(_extract_file, items, chunksize=8))
    print(f"extracted {done} of {len(items)} pages")


def naive(feeds: str, database: str) -> None:
    """The script a user might write instead: each feed, then each of its pages, one after
    the other; text extracted with trafilatura, stored in DuckDB."""
    import duckdb
    import feedparser
    import httpx
    import trafilatura

    con = duckdb.connect(database)
    con.execute("CREATE TABLE IF NOT EXISTS articles (url VARCHAR PRIMARY KEY, title VARCHAR, text VARCHAR,"
                " author VARCHAR, published VARCHAR)")
    stored = 0
    with httpx.Client(timeout=30) as client:
        for feed_url in Path(feeds).read_text().split():
            for entry in feedparser.parse(client.get(feed_url).content).entries:
                if con.execute("SELECT 1 FROM articles WHERE url = ?", [entry.link]).fetchone():
                    continue
                doc = trafilatura.bare_extraction(client.get(entry.link).content, url=entry.link, **TRAFILATURA_OPTIONS)
                if doc is not None:
                    con.execute("INSERT INTO articles VALUES (?, ?, ?, ?, ?)",
                                [entry.link, doc.title or entry.title, doc.text, doc.author, doc.date])
                    stored += 1
    con.close()
    print(f"naive script: {stored} articles stored")


def _warm_cpu(work) -> dict:
    """CPU and wall seconds of ``work()`` on its second call (the first loads what it needs)."""
    work()
    cpu, wall = time.process_time(), time.perf_counter()
    result = work()
    return {"cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall, "result": str(result)}


def report(sources: str, database: str, hours: str, out: str) -> None:
    """CPU of newswatch's report (its queries and rendering), warm, without the command around it."""
    from newswatch.config import load_config
    from newswatch.reports import report as write_report, report_window
    from storage.db import open_reader

    config = load_config(Path(sources), Path(database))
    start, end = report_window(float(hours))
    with open_reader(config.settings.database) as (db, _):
        figures = _warm_cpu(lambda: write_report(config, db, start, end, Path(out).parent / "report-fn")[0].item_count)
    Path(out).write_text(json.dumps(figures))


def digest(sources: str, database: str, out: str) -> None:
    """CPU of each configured digest (queries and rendering, written as files: a dry run),
    warm, without the command around it."""
    from newswatch.config import load_config
    from newswatch.digest import send_digest
    from storage.db import open_database

    config = load_config(Path(sources), Path(database))
    outbox = Path(out).parent / "digest-fn"
    with open_database(config.settings.database) as db:
        figures = _warm_cpu(lambda: [send_digest(config, db, d.name, outbox).listed for d in config.digests])
    Path(out).write_text(json.dumps(figures))


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    {"plain": plain, "extract": extract, "naive": naive, "report": report, "digest": digest}[command](*arguments)
