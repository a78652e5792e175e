"""URL-level deduplication: AMP and mobile editions, redirects and rel=canonical."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from conftest import article_html, write_sources, Article
from werkzeug import Response

from newswatch.config import load_config
from newswatch.urls import article_id, canonical_url, page_url
from newswatch.pipeline import ingest
from storage.db import open_database


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("https://m.news.am/eng/news/812345.html", "https://news.am/eng/news/812345.html"),
        ("https://mobile.reuters.com/world/x", "https://reuters.com/world/x"),
        ("https://amp.example.com/a/b", "https://example.com/a/b"),
        ("https://news.am/eng/news/812345.html/amp/", "https://news.am/eng/news/812345.html"),
        ("https://apa.az/amp/politics/123", "https://apa.az/politics/123"),
        ("https://tass.ru/politika/1.amp.html", "https://tass.ru/politika/1.html"),
        ("https://x.ge/a?amp=1&id=3", "https://x.ge/a?id=3"),
        ("https://x.ge/a?outputType=amp", "https://x.ge/a"),
        (
            "https://www-trend-az.cdn.ampproject.org/c/s/www.trend.az/azerbaijan/1.html?amp",
            "https://trend.az/azerbaijan/1.html",
        ),
        ("https://www.google.com/amp/s/civil.ge/archives/1234/amp", "https://civil.ge/archives/1234"),
        # Not editions: kept as they are.
        ("https://m.am/x", "https://m.am/x"),
        ("https://example.com/ampere/amp-story", "https://example.com/ampere/amp-story"),
        ("https://example.com/page?amp=no", "https://example.com/page?amp=no"),
    ],
)
def test_amp_and_mobile_editions_map_to_the_main_page(url, canonical):
    assert canonical_url(url) == canonical


def test_amp_mobile_and_desktop_links_are_one_article():
    assert len({
        article_id("https://www.trend.az/azerbaijan/1.html?utm_source=rss"),
        article_id("https://m.trend.az/azerbaijan/1.html"),
        article_id("https://trend.az/azerbaijan/1.html/amp"),
    }) == 1


def test_page_url_prefers_same_site_canonical_then_redirect_target():
    link = "https://feeds.example.com/r/123"
    assert page_url(link) == "https://feeds.example.com/r/123"
    assert page_url(link, "https://www.example.com/news/1?utm_source=rss") == "https://example.com/news/1"
    assert page_url(link, "https://example.com/news/1?print=1", "https://example.com/news/1/amp") == (
        "https://example.com/news/1"
    )
    # A syndicated copy pointing at the agency's page stays its own article.
    assert page_url(link, "https://report.az/x", "https://apa.az/original") == "https://report.az/x"
    assert page_url(link, "https://report.az/x", "not a url") == "https://report.az/x"


def test_redirects_and_rel_canonical_store_one_page_once(httpserver, tmp_path):
    base = httpserver.url_for("").rstrip("/")
    story = Article(
        "treaty", "Baku and Yerevan finalize peace treaty text",
        "Azerbaijan and Armenia completed negotiations on the peace treaty text, the ministry said.\n"
        "All seventeen articles of the draft peace agreement have been agreed upon, officials said, "
        "and consultations on the signing date will follow.",
    )
    page = article_html(story).replace(
        "<head>", f'<head><link rel="canonical" href="{base}/news/treaty">'
    )
    published = format_datetime(datetime.now(UTC) - timedelta(hours=1))
    links = [f"{base}/news/treaty", f"{base}/r/42", f"{base}/print/treaty"]
    items = "".join(
        f"<item><title>{story.title}</title><link>{link}</link><guid>{n}</guid>"
        f"<pubDate>{published}</pubDate></item>"
        for n, link in enumerate(links)
    )
    feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>W</title>{items}</channel></rss>'
    httpserver.expect_request("/rss.xml").respond_with_data(feed, content_type="application/rss+xml")
    httpserver.expect_request("/r/42").respond_with_response(
        Response(status=301, headers={"Location": f"{base}/news/treaty?utm_source=rss"})
    )
    httpserver.expect_request("/news/treaty").respond_with_data(page, content_type="text/html")
    printable = page.replace("</article>", "<p>Printed from the Wire archive.</p></article>")
    httpserver.expect_request("/print/treaty").respond_with_data(printable, content_type="text/html")
    config = load_config(write_sources(
        tmp_path, [{"name": "Wire", "url": f"{base}/rss.xml", "language": "en"}]
    ))
    with open_database(config.settings.database) as db:
        stats = ingest(config, db)
        rows = db.con.execute(
            "SELECT canonical_url, duplicate_of IS NULL FROM articles ORDER BY discovered_at, id"
        ).fetchall()
        hashes = db.con.execute("SELECT count(DISTINCT content_hash) FROM articles").fetchone()[0]
        clustered = db.con.execute("SELECT count(*) FROM cluster_members").fetchone()[0]
    assert stats.extracted == 3
    assert {canonical for canonical, _ in rows} == {canonical_url(f"{base}/news/treaty")}
    assert hashes == 2  # the print page differs: only its canonical URL makes it a duplicate
    assert sum(original for _, original in rows) == 1
    assert clustered == 1  # the other two rows are the same page, not other outlets
