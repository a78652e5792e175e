"""A synthetic news web for the ingest benchmark: N feeds on N loopback hosts, M articles each.

Every feed lives on its own address (127.0.1.1, 127.0.1.2, ...: all of 127/8 is loopback on
Linux), so per-host politeness behaves as with real, separate sites. Pages look like real
news pages (head with scripts and meta tags, navigation, sidebar, related links, footer) and
their text comes from the labelled multilingual articles in ``tests/labelled`` (one in ten
leads with an on-topic text, the rest of the body is filler that matches no watched topic, so
about one article in ten is on topic, as in a real news stream); one article in ten is a
syndicated copy of another site's story. Feeds answer conditional GETs (ETag and
Last-Modified -> 304). The server runs in its own process with an adjustable latency and
counts what it sends.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import random
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, fields, is_dataclass
from email.utils import format_datetime
from datetime import UTC, datetime, timedelta
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from newswatch.config import load_config
from newswatch.query import Term, parse_query, parse_term
from newswatch.text import analyse

REPO = Path(__file__).resolve().parent.parent
LABELLED = REPO / "tests" / "labelled" / "articles.yaml"
NAMED_DOMAIN = "caucasus-wire.com"  # sites' names with named=True: wire<N>.caucasus-wire.com
SYNDICATED_EVERY = 10  # article a of a feed with a % 10 == 9 copies another site's story
TOPICAL_EVERY = 10  # article a with a % 10 == 2 leads with an on-topic text
EPOCH = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


class _TopicWords:
    """Every word the shipped topics match on: their terms, their queries' words and the
    aliases of the entities (as stems, or as prefixes for ``word*``)."""

    def __init__(self) -> None:
        config = load_config(REPO / "sources.yaml", None)
        terms = [parse_term(a) for entity in config.entities.values() for a in entity.aliases]
        for topic in config.topics:
            terms += [parse_term(p) for phrases in topic.terms.values() for p in phrases]
            if topic.query:
                terms += _terms_in(parse_query(topic.query))
        words = [w for term in terms for w in term.words]
        self.stems = {analyse(w.text)[0] for w in words if not w.prefix}
        self.prefixes = tuple({analyse(w.text)[1] for w in words if w.prefix})

    def __contains__(self, word: str) -> bool:
        stem, surface = analyse(word)
        return stem in self.stems or surface.startswith(self.prefixes)


def _terms_in(node: object) -> list[Term]:
    """The terms of a parsed query."""
    if isinstance(node, Term):
        return [node]
    if not is_dataclass(node):
        return []
    children = [getattr(node, f.name) for f in fields(node)]
    return [t for child in children for c in (child if isinstance(child, tuple) else (child,)) for t in _terms_in(c)]


def resolve_names() -> None:
    """Make this process resolve the sites' names (``wire<N>.`` :data:`NAMED_DOMAIN`) to their
    loopback addresses, as /etc/hosts entries would."""
    lookup = socket.getaddrinfo
    pattern = re.compile(rf"wire(\d+)\.{re.escape(NAMED_DOMAIN)}")

    def getaddrinfo(host, *args, **kwargs):
        found = pattern.fullmatch(host) if isinstance(host, str) else None
        return lookup(f"127.0.1.{int(found[1]) + 1}" if found else host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


@dataclass(frozen=True)
class Story:
    """Text of one story: language, title and paragraphs."""

    language: str
    title: str
    paragraphs: tuple[str, ...]


class Corpus:
    """The deterministic content of the synthetic web (same arguments, same bytes)."""

    def __init__(self, feeds: int, articles: int, seed: int = 7, named: bool = False):
        self.feeds, self.articles, self.named = feeds, articles, named
        self._topical: dict[str, list[dict]] = {}
        self._other: dict[str, list[dict]] = {}
        self._words: dict[str, list[str]] = {}
        for item in yaml.safe_load(LABELLED.read_text(encoding="utf-8")):
            (self._topical if item["topics"] else self._other).setdefault(item["lang"], []).append(item)
        topical = _TopicWords()  # left out of the filler: text drawn from the rest matches no topic
        for language, items in self._other.items():
            words = {w for item in items for w in re.findall(r"\w+", f"{item['title']} {item['body']}")}
            self._words[language] = sorted(w for w in words if w not in topical)
        self._languages = sorted(self._other)
        self._seed = seed

    def host(self, feed: int) -> str:
        """The loopback address of feed ``feed``'s site."""
        return f"127.0.1.{feed + 1}"

    def site(self, feed: int, port: int) -> str:
        """``http://host:port`` of feed ``feed``'s site: by address, or with ``named`` by a name
        under :data:`NAMED_DOMAIN` (for programs that refuse addresses; see :func:`resolve_names`)."""
        return f"http://{f'wire{feed}.{NAMED_DOMAIN}' if self.named else self.host(feed)}:{port}"

    def language(self, feed: int) -> str:
        """The language of a feed (they rotate through the labelled set's languages)."""
        return self._languages[feed % len(self._languages)]

    def story(self, feed: int, article: int) -> Story:
        """The story of one article; syndicated ones copy a story of another site, re-led.

        One article in ten leads with a labelled on-topic text, the others with an off-topic
        one; the rest of the body is random sentences over the off-topic vocabulary, without
        the words the topics match on.
        """
        if article % SYNDICATED_EVERY == SYNDICATED_EVERY - 1 and self.feeds > len(self._languages):
            source = self.story((feed + len(self._languages)) % self.feeds, article - 1)
            lead = f"{source.paragraphs[0]} (Agencies)"
            return Story(source.language, source.title, (lead, *source.paragraphs[1:]))
        language = self.language(feed)
        rng = random.Random(f"{self._seed}/{feed}/{article}")
        main = rng.choice((self._topical if article % TOPICAL_EVERY == 2 else self._other)[language])
        words = self._words[language]
        paragraphs = [main["body"]]
        for _ in range(rng.randint(5, 10)):
            sentences = (" ".join(rng.choices(words, k=rng.randint(8, 18))) for _ in range(rng.randint(2, 5)))
            paragraphs.append(" ".join(f"{s[:1].upper()}{s[1:]}." for s in sentences))
        return Story(language, f"{main['title']} ({feed}-{article})", tuple(paragraphs))

    def published(self, article: int) -> datetime:
        """Publication time: articles are ten minutes apart, newest last."""
        return EPOCH + timedelta(minutes=10 * article)

    def article_url(self, feed: int, article: int, port: int) -> str:
        """Where article ``article`` of ``feed`` is served."""
        return f"{self.site(feed, port)}/news/{article}/story-{feed}-{article}.html"

    def article_html(self, feed: int, article: int, port: int) -> bytes:
        """A full news page around the article, with the boilerplate of a real news site
        (mega menu, related-story grid, comments, share bar, inline SVG, JSON-LD, scripts):
        what trafilatura has to remove. About 90 KB, like the pages of the shipped feeds."""
        story = self.story(feed, article)
        rng = random.Random(f"page/{self._seed}/{feed}/{article}")
        words = self._words[story.language]
        site = f"Caucasus Wire {feed}"
        teaser = lambda k: escape(" ".join(rng.choices(words, k=k)))  # noqa: E731
        menu = "".join(
            f'<div class="mega-col"><h4><a href="/section/{c}">Section {c}</a></h4><ul>'
            + "".join(f'<li class="menu-item"><a class="menu-link" href="/section/{c}/{i}">{teaser(2)}</a></li>'
                      for i in range(15))
            + "</ul></div>"
            for c in range(8)
        )
        related = "".join(
            f'<div class="card card--related"><a class="card__media" href="/news/{rng.randrange(10**6)}/r.html">'
            f'<img loading="lazy" src="/img/{i}.jpg" srcset="/img/{i}-320.jpg 320w, /img/{i}-640.jpg 640w" alt=""></a>'
            f'<div class="card__body"><h3 class="card__title"><a href="/news/{rng.randrange(10**6)}/r.html">{teaser(8)}</a></h3>'
            f'<p class="card__teaser">{teaser(20)}</p><span class="card__date">{rng.randrange(1, 28)} Nov</span></div></div>'
            for i in range(24)
        )
        comments = "".join(
            f'<li class="comment"><div class="comment__meta"><span class="comment__author">reader{rng.randrange(999)}</span>'
            f'<time>2026-11-0{1 + i % 9}</time></div><p class="comment__text">{teaser(25)}</p>'
            f'<div class="comment__actions"><button>Reply</button><button>Like</button></div></li>'
            for i in range(10)
        )
        footer = "".join(f'<a class="footer-link" href="/about/{i}">{teaser(2)}</a> ' for i in range(60))
        share = "".join(f'<a class="share share--{n}" href="https://share.example/{n}?u=x">{n}</a>'
                        for n in ("facebook", "x", "telegram", "whatsapp", "vk", "email"))
        icons = "".join(f'<symbol id="i{i}" viewBox="0 0 24 24"><path d="M{i} 2 L22 {i} L2 22 Z m3 3 h6 v6 h-6 z c1 2 3 4 5 6"/></symbol>'
                        for i in range(60))
        body = "".join(f"<p>{escape(p)}</p>" for p in story.paragraphs)
        published = self.published(article).isoformat()
        script = "var _q = window._q || []; _q.push(['track', 'pageview', %d]);" % article
        ld = escape(f'{{"@type": "NewsArticle", "headline": "{story.title}", "datePublished": "{published}"}}', quote=False)
        return f"""<!DOCTYPE html>
<html lang="{story.language}"><head><meta charset="utf-8">
<title>{escape(story.title)} | {site}</title>
<meta name="description" content="{escape(story.paragraphs[0][:150])}">
<meta property="og:title" content="{escape(story.title)}">
<meta property="article:published_time" content="{published}">
<meta name="author" content="Staff reporter {feed}">
<link rel="canonical" href="{self.article_url(feed, article, port)}">
<script type="application/ld+json">{ld}</script>
<script>{script * 40}</script><style>{"body{margin:0} .nav li{display:inline} .card{float:left} " * 60}</style>
</head><body>
<svg style="display:none">{icons}</svg>
<header><div class="logo">{site}</div><nav class="nav mega">{menu}</nav>
<form class="search"><input name="q" placeholder="Search"><button>Go</button></form></header>
<div class="cookie">We use cookies to improve your experience. <button>Accept</button></div>
<div class="ad ad--top" data-slot="top"></div>
<main><article>
<h1>{escape(story.title)}</h1>
<div class="byline">By Staff reporter {feed} · <time datetime="{published}">{published[:10]}</time></div>
<div class="share-bar">{share}</div>
<div class="article-body">{body}</div>
<div class="tags">Tags: <a href="/tag/caucasus">Caucasus</a> <a href="/tag/politics">Politics</a></div>
<div class="share-bar">{share}</div>
</article>
<section class="related"><h2>Related</h2>{related}</section>
<section class="comments"><h2>Comments</h2><ul>{comments}</ul></section>
<aside class="newsletter"><h2>Newsletter</h2><form><input type="email"><button>Subscribe</button></form></aside>
</main>
<footer>{footer}<p>© 2026 {site}. All rights reserved.</p></footer>
<script>{script * 80}</script>
</body></html>""".encode()

    def feed_xml(self, feed: int, port: int) -> bytes:
        """The RSS feed of a site: all its articles, newest first."""
        items = []
        for article in reversed(range(self.articles)):
            story = self.story(feed, article)
            items.append(
                f"<item><title>{escape(story.title)}</title>"
                f"<link>{self.article_url(feed, article, port)}</link>"
                f"<guid>{self.article_url(feed, article, port)}</guid>"
                f"<pubDate>{format_datetime(self.published(article))}</pubDate>"
                f"<description>{escape(story.paragraphs[0][:300])}</description></item>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Caucasus Wire {feed}</title><link>{self.site(feed, port)}/</link>"
            f"<description>Synthetic feed {feed}</description>{''.join(items)}</channel></rss>"
        ).encode()


class Counters:
    """What the server sent, shared between processes."""

    NAMES = ("feed_bodies", "feed_not_modified", "article_pages", "other")

    def __init__(self, context: multiprocessing.context.BaseContext):
        self._values = {name: context.Value("q", 0) for name in self.NAMES}
        self.latency = context.Value("d", 0.0)

    def add(self, name: str) -> None:
        """Count one response of kind ``name``."""
        value = self._values[name]
        with value.get_lock():
            value.value += 1

    def snapshot(self) -> dict[str, int]:
        """Current counts."""
        return {name: value.value for name, value in self._values.items()}


def _handler(corpus: Corpus, feed: int, port: int, counters: Counters) -> type[BaseHTTPRequestHandler]:
    feed_body = corpus.feed_xml(feed, port)
    etag = '"%s"' % hashlib.sha1(feed_body).hexdigest()[:16]
    modified = format_datetime(corpus.published(corpus.articles - 1), usegmt=True)
    pages: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real sites
        disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms ACK stalls

        def log_message(self, *args) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            time.sleep(counters.latency.value)
            if self.path == "/feed.xml":
                if self.headers.get("If-None-Match") == etag:
                    counters.add("feed_not_modified")
                    return self._send(304, b"", "application/rss+xml")
                counters.add("feed_bodies")
                return self._send(200, feed_body, "application/rss+xml; charset=utf-8")
            if self.path.startswith("/news/"):
                article = int(self.path.split("/")[2])
                if article < corpus.articles:
                    counters.add("article_pages")
                    if self.path not in pages:
                        pages[self.path] = corpus.article_html(feed, article, port)
                    return self._send(200, pages[self.path], "text/html; charset=utf-8")
            counters.add("other")
            if self.path == "/robots.txt":
                return self._send(200, b"User-agent: *\nAllow: /\n", "text/plain")
            return self._send(404, b"not found", "text/plain")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if self.path == "/feed.xml":
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", modified)
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _serve(feeds: int, articles: int, named: bool, counters: Counters, ready) -> None:
    corpus = Corpus(feeds, articles, named=named)
    servers = []
    for feed in range(feeds):
        server = ThreadingHTTPServer((corpus.host(feed), 0), BaseHTTPRequestHandler)
        server.daemon_threads = True
        server.RequestHandlerClass = _handler(corpus, feed, server.server_port, counters)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    ready.send([server.server_port for server in servers])
    ready.recv()  # block until the parent says stop (or goes away)


class CorpusSite:
    """The synthetic web, served from a child process while the context is open; with
    ``named``, its URLs name the sites (see :func:`resolve_names`)."""

    def __init__(self, feeds: int, articles: int, named: bool = False):
        self.corpus = Corpus(feeds, articles, named=named)
        context = multiprocessing.get_context("spawn")
        self.counters = Counters(context)
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(feeds, articles, named, self.counters, child), daemon=True)
        self.ports: list[int] = []

    def __enter__(self) -> CorpusSite:
        self._process.start()
        self.ports = self._pipe.recv()
        return self

    def __exit__(self, *exc) -> None:
        self._pipe.send("stop")
        self._process.join(10)

    @property
    def pid(self) -> int | None:
        """The server process id."""
        return self._process.pid

    def set_latency(self, seconds: float) -> None:
        """Delay every response by ``seconds`` from now on."""
        self.counters.latency.value = seconds

    def feed_url(self, feed: int) -> str:
        """URL of feed ``feed``."""
        return f"{self.corpus.site(feed, self.ports[feed])}/feed.xml"

    def pages(self) -> Iterator[tuple[str, bytes]]:
        """Every article page as (url, html), exactly as served, made one at a time."""
        for f in range(self.corpus.feeds):
            for a in range(self.corpus.articles):
                yield self.corpus.article_url(f, a, self.ports[f]), self.corpus.article_html(f, a, self.ports[f])


def write_sources(site: CorpusSite, workdir: Path, semantic: bool = False, prefix: str = "wire",
                  prefect_home: Path | None = None) -> Path:
    """sources.yaml in ``workdir`` for the synthetic web: its feeds (named ``prefix``-N), the
    shipped topics and digest, reports and digests written under ``workdir``, the CLI's Prefect
    state in ``prefect_home`` (default: beside the database), no politeness delay."""
    shipped = yaml.safe_load((REPO / "sources.yaml").read_text(encoding="utf-8"))
    topics = shipped["topics"] if semantic else [
        {k: v for k, v in topic.items() if k != "semantic"} for topic in shipped["topics"]
    ]
    corpus = site.corpus
    data = {
        "settings": {
            "database": str(workdir / "unused.duckdb"),
            # the sites are on 127.0.1.x; politeness stays on (2 requests in flight per host,
            # robots.txt obeyed) but without the 1 s delay between requests to one host
            "http": {"allow_hosts": ["127.0.0.0/8"], "per_host_delay": 0},
            "report": {"output_dir": str(workdir / "reports")},
            "mail": {"sender": "newswatch <newswatch@example.org>", "transport": "outbox",
                     "outbox_dir": str(workdir / "outbox")},
            **({"prefect": {"home": str(prefect_home)}} if prefect_home else {}),
        },
        "feeds": [
            {"name": f"{prefix}-{f}", "url": site.feed_url(f), "language": corpus.language(f), "tags": ["bench"]}
            for f in range(corpus.feeds)
        ],
        "entities": shipped.get("entities", {}),
        "topics": topics,
        "digests": shipped.get("digests", []),
    }
    path = workdir / "sources.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
