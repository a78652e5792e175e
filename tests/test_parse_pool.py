"""Parsing in a pool of processes gives the same articles as parsing in-process, and a parser
process dying costs only the page that killed it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import REPO, Article, article_html
from parse_hooks import CRASH, parse_or_die
from werkzeug import Response

from newswatch.config import Feed, HttpSettings
from newswatch.models import PendingArticle
from newswatch.pages import extract_batch
from newswatch.parse_pool import ParsePool, parser, shared_pool
from newswatch.pipeline import fetch_one_feed

HTTP = HttpSettings(allow_hosts=("127.0.0.1", "localhost"), per_host_delay=0, respect_robots=False)
RUSSIAN = Article("ru", "ОДКБ", "Лидеры государств ОДКБ обсудили в Ереване мандат миротворцев.\n" * 6)


def pending(site, slugs: list[str]) -> list[PendingArticle]:
    return [PendingArticle(slug, f"{site.url}/news/{slug}", "F", f"Title {slug}", f"Summary {slug}.", "en")
            for slug in slugs]


@pytest.fixture
def pages(site) -> list[str]:
    """Article pages (English, Russian), a page without text, a deeply nested one and an error."""
    for i in range(4):
        article = Article(f"story-{i}", f"Story {i}", f"The CSTO met in Yerevan for the {i}th time.\n" * 6)
        site.articles[article.slug] = article
    site.articles[RUSSIAN.slug] = RUSSIAN
    deep = "<html><body>" + "<div>" * 50_000 + "<p>deep</p>" + "</div>" * 50_000 + "</body></html>"
    site.route("/news/deep", lambda request: Response(deep, content_type="text/html"))
    site.route("/news/empty", lambda request: Response("<html><body></body></html>", content_type="text/html"))
    site.broken_pages.add("broken")
    return ["story-0", "story-1", RUSSIAN.slug, "empty", "story-2", "deep", "broken", "story-3"]


def test_process_pool_extracts_what_the_calling_process_does(site, pages):
    articles = pending(site, pages)
    in_process = extract_batch(articles, HTTP, parser(1))
    assert extract_batch(articles, HTTP, parser(2)) == in_process
    assert [a.status for a in in_process] == ["extracted"] * 3 + ["summary_only", "extracted"] + ["summary_only"] * 2 + ["extracted"]
    assert in_process[2].language == "ru" and in_process[3].error == "no article text found on the page"
    assert shared_pool(0) is shared_pool(os.cpu_count() or 1)  # one pool per process


def test_a_page_that_kills_its_parser_process_costs_only_that_page(site, pages):
    crasher = Article("crasher", "Crasher", "Looks like news.")
    site.route("/news/crasher", lambda request: Response(article_html(crasher) + CRASH.decode(), content_type="text/html"))
    articles = pending(site, ["crasher", *pages])
    expected = extract_batch(articles[1:], HTTP, parser(1))
    pool = ParsePool(2, parse_or_die)
    try:
        results = extract_batch(articles, HTTP, pool)
        assert results[1:] == expected
        assert (results[0].status, results[0].text) == ("summary_only", "Summary crasher.")
        assert results[0].error == "extraction failed: the page crashed the parser process"
        assert extract_batch(articles[1:], HTTP, pool) == expected  # the pool was replaced and works
    finally:
        pool.shutdown()


def test_a_call_that_finds_its_pool_stopped_by_another_runs_alone():
    """The race behind a page crash: a thread took the executor just before another thread's
    call broke it and shut it down; its submit is refused, and the call runs in a fresh process
    instead of failing the page."""
    pool = ParsePool(2)
    try:
        stopped = pool._running()
        stopped.shutdown(wait=False)  # what the other thread's discard does meanwhile
        assert pool.run(len, b"page") == 4
        assert pool._running() is not stopped  # later calls get a new executor
    finally:
        pool.shutdown()


def test_feeds_parsed_in_the_pool_match_in_process_parsing(site):
    articles = [Article(f"s{i}", f"ОДКБ story {i}", "Text.") for i in range(3)]
    feeds = [Feed(name="Rss", url=site.add_feed("/rss.xml", articles), language="ru"),
             Feed(name="Atom", url=site.add_feed("/atom.xml", articles, kind="atom"), language="en")]
    for feed in feeds:
        in_process = fetch_one_feed(feed, None, HTTP, parse_workers=1)
        pooled = fetch_one_feed(feed, None, HTTP, parse_workers=2)
        assert pooled.ok and len(pooled.items) == 3
        assert pooled.items == in_process.items and pooled.etag == in_process.etag


MAIN_PROGRAM = """
import datasketch, prefect  # what the main module of the pool's owner imports (a flow run's: prefect.engine)
from newswatch.parse_pool import shared_pool
from parse_hooks import imported
print(shared_pool(2).run(imported, "datasketch", "scipy", "prefect", "typer", "duckdb", "pydantic", "httpx",
                         "trafilatura"))
"""


@pytest.mark.parametrize("how", ["path", "module"])
def test_parser_processes_import_the_parsers_and_not_their_owners_main_module(tmp_path, how):
    """A parser process imports what parsing needs (trafilatura), not the fetching code (httpx), the
    configuration's validation (pydantic), nor the main module of the process that owns the pool."""
    (tmp_path / "main_program.py").write_text(MAIN_PROGRAM, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO / "tests"), str(REPO)])}
    command = [str(tmp_path / "main_program.py")] if how == "path" else ["-m", "main_program"]
    done = subprocess.run([sys.executable, *command], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "['trafilatura']"
