"""Shared fixtures: a real local HTTP news site, sources files, a Prefect test server."""

from __future__ import annotations

import hashlib
import ipaddress
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

import pytest
import yaml
from werkzeug import Request, Response

from newswatch.prefect_env import configure_prefect

REPO = Path(__file__).resolve().parents[1]

# A suite started in the background by a non-interactive shell (`cmd &`, as CI runners may do)
# inherits SIGINT ignored, and so would every process it starts: Prefect's worker (which stops
# by sending itself SIGINT on SIGTERM) and `prefect server start` would then never stop. Any
# handler here is reset to the default in child processes when they start.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Prefect reads its settings when it is first imported (which loggers send records to the API,
# for one), as in the CLI: set newswatch's defaults before any test module imports it.
configure_prefect()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that wait for the clock first, then the other slow ones, each in their usual order:
    their waiting overlaps other work, and the quick tests fill the workers' last minutes instead
    of one long test running alone at the end."""
    items.sort(key=lambda item: 0 if item.get_closest_marker("clock") else 1 if item.get_closest_marker("slow") else 2)


NON_LOOPBACK_CONNECTS: list[object] = []


def _loopback_only(event: str, args: tuple) -> None:
    """Audit hook: tests never reach beyond loopback; such a connect is recorded and fails."""
    if event != "socket.connect" or not isinstance(args[1], tuple):
        return
    host = str(args[1][0]).split("%")[0]
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        NON_LOOPBACK_CONNECTS.append(args[1])
        raise ConnectionRefusedError(f"test tried to connect to non-loopback address {args[1]!r}")


sys.addaudithook(_loopback_only)
SAMPLES = REPO.parent / "shared" / "samples"
sys.path.insert(0, str(Path(__file__).resolve().parent))


@dataclass
class Article:
    """An article page served by :class:`NewsSite`."""

    slug: str
    title: str
    body: str
    published: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(hours=2))
    summary: str = ""


def article_html(article: Article) -> str:
    """A realistic article page: navigation, the article, comments and a footer."""
    paragraphs = "\n".join(f"<p>{escape(p)}</p>" for p in article.body.split("\n") if p.strip())
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{escape(article.title)} | Caucasus Daily</title>
<meta property="article:published_time" content="{article.published.isoformat()}">
<meta name="author" content="Staff reporter"></head>
<body><header><nav><a href="/">Home</a> <a href="/politics">Politics</a> <a href="/sport">Sport</a></nav></header>
<main><article><h1>{escape(article.title)}</h1>
<div class="byline">By Staff reporter</div>
{paragraphs}
</article>
<aside><h3>Most read</h3><ul><li><a href="/x">Weather in Yerevan</a></li></ul></aside></main>
<footer>&copy; Caucasus Daily. All rights reserved.</footer></body></html>"""


def rss(site_url: str, articles: list[Article], title: str = "Caucasus Daily") -> str:
    """An RSS 2.0 document listing ``articles``."""
    items = "\n".join(
        f"""<item><title>{escape(a.title)}</title><link>{site_url}/news/{a.slug}?utm_source=rss</link>
<guid isPermaLink="false">{a.slug}</guid><pubDate>{format_datetime(a.published)}</pubDate>
<description>{escape(a.summary or a.body[:200])}</description></item>"""
        for a in articles
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{escape(title)}</title><link>{site_url}/</link>
<description>News</description>{items}</channel></rss>"""


def atom(site_url: str, articles: list[Article], title: str = "Caucasus Wire") -> str:
    """An Atom 1.0 document listing ``articles``."""
    entries = "\n".join(
        f"""<entry><title>{escape(a.title)}</title><link href="{site_url}/news/{a.slug}"/>
<id>urn:x:{a.slug}</id><updated>{a.published.isoformat()}</updated>
<summary>{escape(a.summary or a.body[:200])}</summary></entry>"""
        for a in articles
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>{escape(title)}</title>
<id>urn:x:feed</id><updated>{datetime.now(UTC).isoformat()}</updated>{entries}</feed>"""


class NewsSite:
    """Feeds and article pages on a real loopback HTTP server, with ETag support."""

    def __init__(self, httpserver):
        self.server = httpserver
        self.url = httpserver.url_for("").rstrip("/")
        self.feeds: dict[str, tuple[str, str]] = {}
        self.articles: dict[str, Article] = {}
        self.broken_pages: set[str] = set()
        self.routes: dict[str, Callable[[Request], Response]] = {}  # path -> custom handler
        self.log: list[tuple[str, int, int]] = []  # (path, status, body bytes)
        httpserver.expect_request(
            __import__("re").compile(r"^/.*$")
        ).respond_with_handler(self._handle)

    def add_feed(self, path: str, articles: list[Article], kind: str = "rss") -> str:
        """Serve ``articles`` as a feed at ``path`` and their pages; return the feed URL."""
        for article in articles:
            self.articles[article.slug] = article
        body = (rss if kind == "rss" else atom)(self.url, articles)
        content_type = "application/rss+xml" if kind == "rss" else "application/atom+xml"
        self.feeds[path] = (body, content_type)
        return self.url + path

    def bodies_served(self, path: str) -> list[int]:
        """Body sizes of the responses served for ``path`` (0 for a 304, -1 when streamed)."""
        return [size for p, _, size in self.log if p == path]

    def statuses(self, path: str) -> list[int]:
        """Statuses of the responses served for ``path``."""
        return [status for p, status, _ in self.log if p == path]

    def route(self, path: str, handler: Callable[[Request], Response]) -> str:
        """Serve ``path`` with ``handler`` (before feeds and pages); return its URL."""
        self.routes[path] = handler
        return self.url + path

    def _handle(self, request: Request) -> Response:
        response = self._respond(request)
        size = -1 if response.is_streamed else len(response.get_data())
        self.log.append((request.path, response.status_code, size))
        return response

    def _respond(self, request: Request) -> Response:
        if request.path in self.routes:
            return self.routes[request.path](request)
        if request.path in self.feeds:
            body, content_type = self.feeds[request.path]
            etag = '"' + hashlib.sha1(body.encode()).hexdigest() + '"'
            if request.headers.get("If-None-Match") == etag:
                return Response(status=304, headers={"ETag": etag})
            return Response(body, content_type=f"{content_type}; charset=utf-8", headers={"ETag": etag})
        if request.path.startswith("/news/"):
            slug = request.path.removeprefix("/news/")
            if slug in self.broken_pages:
                return Response("upstream error", status=500)
            if slug in self.articles:
                return Response(article_html(self.articles[slug]), content_type="text/html; charset=utf-8")
        return Response("not found", status=404)


def sample(name: str) -> str:
    """Text of a sample article from ../shared/samples (test skipped when absent)."""
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"sample {path} not present")
    return path.read_text(encoding="utf-8")


UNRELATED = Article(
    "tbilisi-wine-festival",
    "Tbilisi wine festival draws record crowds",
    "Thousands of visitors gathered in Tbilisi's old town for the annual wine festival.\n"
    "Winemakers from Kakheti presented qvevri wines, and the city hosted concerts until late "
    "at night. Organisers said attendance beat last year's record by a fifth, and hotels in "
    "the capital reported full bookings for the weekend. The festival also featured a cheese "
    "market and a food court with dishes from every region of Georgia.",
)


def sample_articles() -> list[Article]:
    """The two shared sample articles and one unrelated article."""
    return [
        Article("armenia-azerbaijan-peace-accord", "Armenia and Azerbaijan near a deal, Moscow loses ground",
                sample("peace-accord-csto.txt")),
        Article("russian-troops-karabakh", "Russia's troops in Karabakh: what comes after five years",
                sample("peacekeeping-mandate.txt")),
        UNRELATED,
    ]


@pytest.fixture(autouse=True)
def _fresh_politeness():
    """Each test starts without remembered robots.txt answers or host gates."""
    from newswatch import politeness

    politeness.reset()
    yield
    politeness.reset()


@pytest.fixture(scope="session")
def make_httpserver():
    """pytest-httpserver's server (as its plugin makes it), answering each request in a thread of
    its own: on a busy machine one slow answer (a large page, a stream) must not hold up the
    requests queued behind it past their timeouts."""
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host=HTTPServer.DEFAULT_LISTEN_HOST, port=HTTPServer.DEFAULT_LISTEN_PORT, threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def site(httpserver) -> NewsSite:
    """A fresh local news site on loopback."""
    return NewsSite(httpserver)


@pytest.fixture
def hook(monkeypatch):
    """A webhook receiver on loopback (tests/webhook.py), its json:// URL in NW_TEST_HOOK_URL."""
    from webhook import Webhook

    receiver = Webhook().start()
    monkeypatch.setenv("NW_TEST_HOOK_URL", receiver.url("json"))
    yield receiver
    receiver.stop()


def write_sources(tmp_path: Path, feeds: list[dict], **settings) -> Path:
    """A sources.yaml in ``tmp_path`` with the repo's topics (no digests), the given feeds and settings.

    ``settings.http`` allow-lists the loopback test server (``allow_hosts``; pass
    ``http={"allow_hosts": []}`` to see the SSRF guard refuse it) and switches off the
    politeness delay and robots.txt (``http={"respect_robots": True}`` to test them).
    """
    repo = yaml.safe_load((REPO / "sources.yaml").read_text(encoding="utf-8"))
    merged = {
        "database": str(tmp_path / "data" / "newswatch.duckdb"),
        "lock_timeout": 5,
        # the test site is on loopback, which the SSRF guard refuses unless allow-listed; no
        # politeness delay and no robots.txt (a bare pytest-httpserver answers 500 for it, which
        # means "disallow all"): tests/test_faults_*.py switch them on where they are the subject
        # generous timeouts: on a loaded machine a loopback answer can take seconds; tests of
        # slow servers set their own
        "http": {"timeout": 30, "total_timeout": 60, "retries": 0, "retry_delay": 0,
                 "allow_hosts": ["127.0.0.1", "localhost"], "per_host_delay": 0, "respect_robots": False},
        "report": {"output_dir": str(tmp_path / "reports")},
        "feeds_out": {"dir": str(tmp_path / "feeds")},
    }
    for key, value in settings.items():
        merged[key] = {**merged.get(key, {}), **value} if isinstance(value, dict) else value
    data = {key: value for key, value in repo.items() if key not in ("settings", "feeds", "digests")}
    data["settings"] = merged
    data["feeds"] = feeds
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory):
    """A real, temporary Prefect API (local ephemeral mode) for the whole test session."""
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=600):
        yield
