"""Hostile article pages: each costs only its own article (kept as summary), never the run."""

from __future__ import annotations


from conftest import Article, article_html, write_sources
from parse_hooks import HUNGRY, parse_or_hog
from servers import TrickleServer, gzip_bomb
from werkzeug import Response

from newswatch.config import HttpSettings, load_config
from newswatch.models import PendingArticle
from newswatch.pages import extract_batch
from newswatch.parse_pool import ParseLimits, ParsePool
from newswatch.pipeline import ingest
from storage.db import open_database

CSTO = "The CSTO summit in Yerevan discussed the peacekeeping mandate at length."


def feed_of(site, pages: dict[str, str]) -> str:
    """An RSS feed whose items link to ``pages`` (title -> URL); return the feed URL."""
    items = "".join(
        f"<item><title>{title}</title><link>{url}</link><description>{CSTO} ({title})</description></item>"
        for title, url in pages.items()
    )
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
    return site.route("/pages.xml", lambda request: Response(body, content_type="application/rss+xml"))


def outcomes(config) -> dict[str, tuple[str, str | None]]:
    """(status, error) of every article, by the last path segment of its URL."""
    with open_database(config.settings.database) as db:
        rows = db.con.execute("SELECT url, status, extract_error FROM articles").fetchall()
    return {url.rsplit("/", 1)[1]: (status, error) for url, status, error in rows}


def test_hostile_pages_keep_their_summaries(site, tmp_path):
    good = Article("good", "Good page", (CSTO + "\n") * 8)
    site.articles[good.slug] = good
    deep = "<html><body>" + "<div>" * 50_000 + f"<p>{CSTO}</p>" + "</div>" * 50_000 + "</body></html>"
    scripts = "<html><head><script>" + "var x = 1;" * 50_000 + "</script></head><body><script>render()</script></body></html>"
    # bodies made once, not per request: the test server answers one request at a time, and
    # compressing 100 MB on a busy machine held up the requests queued behind it
    huge, bomb = "<html><body>" + "<p>big</p>" * 200_000, gzip_bomb(100)
    routes = {
        "/huge": lambda request: Response(huge, content_type="text/html"),
        "/binary": lambda request: Response(bytes(range(256)) * 100, content_type="application/octet-stream"),
        "/image": lambda request: Response(b"\x89PNG\r\n\x1a\n" + bytes(1000), content_type="image/png"),
        "/scripts": lambda request: Response(scripts, content_type="text/html"),
        "/deep": lambda request: Response(deep, content_type="text/html"),
        "/bomb": lambda request: Response(bomb, content_type="text/html", headers={"Content-Encoding": "gzip"}),
        "/error": lambda request: Response("oops", status=500),
        "/elsewhere": lambda request: Response(status=302, headers={
            "Location": f"http://localhost:{site.server.port}/news/{good.slug}"}),
    }
    for path, handler in routes.items():
        site.route(path, handler)
    pages = {path.strip("/"): site.url + path for path in routes}
    pages["Good page"] = f"{site.url}/news/{good.slug}"
    config = load_config(write_sources(
        tmp_path, [{"name": "Pages", "url": feed_of(site, pages), "language": "en"}],
        http={"max_bytes": 1_000_000, "respect_robots": True},  # the site has no robots.txt (404)
    ))
    with open_database(config.settings.database) as db:
        stats = ingest(config, db)
    assert (stats.new_articles, stats.extracted, stats.summary_only) == (9, 2, 7)
    assert outcomes(config) == {
        "huge": ("summary_only", "body of 2000012 bytes exceeds limit of 1000000"),
        "binary": ("summary_only", "not an HTML page (application/octet-stream)"),
        "image": ("summary_only", "not an HTML page (image/png)"),
        "scripts": ("summary_only", "no article text found on the page"),
        "deep": ("summary_only", "no article text found on the page"),
        "bomb": ("summary_only", "body exceeds limit of 1000000 bytes"),
        "error": ("summary_only", "HTTP 500"),
        "elsewhere": ("extracted", None),  # redirected to another (allowed) host
        "good": ("extracted", None),
    }
    # every article, extracted or not, was matched on what it has
    with open_database(config.settings.database) as db:
        assert db.con.execute("SELECT count(DISTINCT article_id) FROM matches").fetchone()[0] == 9


def test_slow_page_times_out_and_is_retried_on_later_runs(site, tmp_path):
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html><body>"
    with TrickleServer(head, b"<p>slow</p>", interval=0.05) as slow:
        config = load_config(write_sources(
            tmp_path, [{"name": "Pages", "url": feed_of(site, {"slow": slow.url + "/a"}), "language": "en"}],
            http={"total_timeout": 1}, extract={"max_attempts": 2},
        ))
        for _ in range(3):
            with open_database(config.settings.database) as db:
                ingest(config, db)
        assert slow.connections == 2  # max_attempts, then the summary is kept for good
    with open_database(config.settings.database) as db:
        row = db.con.execute("SELECT status, attempts, extract_error, text FROM articles").fetchone()
    assert row == ("summary_only", 2, "response took longer than 1s", f"{CSTO} (slow)")


def test_robots_txt_disallow_keeps_the_summary(site, tmp_path):
    site.route("/robots.txt", lambda request: Response("User-agent: newswatch\nDisallow: /news/\n"))
    article = Article("blocked", "Blocked", (CSTO + "\n") * 8)
    url = site.add_feed("/rss.xml", [article])
    config = load_config(write_sources(tmp_path, [{"name": "F", "url": url, "language": "en"}],
                                       http={"respect_robots": True}))
    with open_database(config.settings.database) as db:
        assert ingest(config, db).summary_only == 1
    assert outcomes(config)["blocked?utm_source=rss"] == (
        "summary_only", f"disallowed by robots.txt: {site.url}/news/blocked?utm_source=rss")
    assert site.statuses("/news/blocked") == []
    assert article_html(article)  # the page exists; only robots.txt kept us away


def test_each_page_is_bounded_in_parse_time_and_size(site, tmp_path):
    """A pathological 1 MB page (trafilatura needs minutes for it) is stopped at the parse time
    limit, a page beyond max_page_bytes is not parsed at all; each costs only itself."""
    good = Article("good", "Good page", (CSTO + "\n") * 8)
    site.articles[good.slug] = good
    pathological = "<html><body>" + "<div><p>Some sentence text here.</p></div>" * 25_000 + "</body></html>"
    big = "<html><body><article>" + f"<p>{CSTO}</p>" * 30_000 + "</article></body></html>"
    site.route("/pathological", lambda request: Response(pathological, content_type="text/html"))
    site.route("/big", lambda request: Response(big, content_type="text/html"))
    pages = {"pathological": site.url + "/pathological", "big": site.url + "/big", "Good page": f"{site.url}/news/good"}
    config = load_config(write_sources(
        tmp_path, [{"name": "Pages", "url": feed_of(site, pages), "language": "en"}],
        # the limit leaves a loaded machine time for the good page (a first parse in a fresh
        # worker loads models); the pathological one needs minutes on an idle machine
        extract={"parse_timeout": 20, "workers": 2}, http={"total_timeout": 60},
    ))
    with open_database(config.settings.database) as db:
        stats = ingest(config, db)
    # stopped at the limit, not parsed to the end: the outcome says so (no wall-clock check here)
    assert (stats.extracted, stats.summary_only) == (1, 2)
    assert outcomes(config) == {
        "pathological": ("summary_only", "parsing took longer than 20s (settings.extract.parse_timeout):"
                                         " the parser process was stopped"),
        "big": ("summary_only", f"page of {len(big):,} bytes not parsed: more than settings.http.max_page_bytes"
                                " (2,000,000)"),
        "good": ("extracted", None),
    }


def test_a_page_needing_too_much_memory_costs_only_itself(site):
    """Parser processes are capped in memory (RLIMIT_AS): a page that needs more fails alone."""
    pages = {"hungry": article_html(Article("hungry", "Hungry", (CSTO + "\n") * 8)) + HUNGRY.decode(),
             "fine": article_html(Article("fine", "Fine", (CSTO + "\n") * 8))}
    for slug, page in pages.items():
        site.route(f"/news/{slug}", lambda request, page=page: Response(page, content_type="text/html"))
    articles = [PendingArticle(slug, f"{site.url}/news/{slug}", "F", slug, f"Summary {slug}.", "en") for slug in pages]
    http = HttpSettings(allow_hosts=("127.0.0.1", "localhost"), per_host_delay=0, respect_robots=False)
    pool = ParsePool(2, parse_or_hog, ParseLimits(seconds=120, memory_mb=512))
    try:
        hungry, fine = extract_batch(articles, http, pool)
    finally:
        pool.shutdown()
    assert (hungry.status, hungry.text) == ("summary_only", "Summary hungry.")
    assert hungry.error == "parsing needed more than 512 MB (settings.extract.parse_memory_mb)"
    assert fine.status == "extracted"


def test_a_feed_of_many_items_queues_at_most_max_items_per_feed(site, tmp_path, caplog):
    items = "".join(f"<item><title>CSTO item {i}</title><link>{site.url}/many/{i}</link></item>" for i in range(1000))
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
    url = site.route("/many.xml", lambda request: Response(body, content_type="application/rss+xml"))
    other = site.add_feed("/rss.xml", [Article("other", "Other", (CSTO + "\n") * 8)])
    config = load_config(write_sources(
        tmp_path, [{"name": "Many", "url": url, "language": "en"}, {"name": "Other", "url": other, "language": "en"}],
        http={"max_items_per_feed": 50},
    ))
    assert HttpSettings().max_items_per_feed == 200  # the default
    with open_database(config.settings.database) as db:
        stats = ingest(config, db)
        per_feed = dict(db.con.execute("SELECT feed_name, count(*) FROM articles GROUP BY ALL").fetchall())
    assert per_feed == {"Many": 50, "Other": 1} and stats.feeds_failed == 0
    assert stats.dropped == {"Many": 950}
    assert "feed Many: 1000 items, only the first 50 taken (settings.http.max_items_per_feed); 950 dropped" in caplog.text
