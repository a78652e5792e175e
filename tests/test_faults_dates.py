"""Dates from the wild: an unreadable or out-of-range date costs the item its date, never the
feed; no stored date is in the future; every article is in the report (and the digest) of the
window in which newswatch found it, whatever date it claims."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from conftest import Article
from digest_helpers import digest_entry, digest_sources, mail_settings
from werkzeug import Response

from newswatch.config import load_config
from newswatch.digest import run_digest
from newswatch.pipeline import ingest
from newswatch.reports import report, report_window
from storage.db import open_database

NOW = datetime.now(UTC)
# slug -> the date the feed claims (as written in <pubDate>), None for no date at all
CLAIMS = {
    "fresh": format_datetime(NOW - timedelta(hours=2)),
    "year-10000": "9999-12-31T23:00:00-05:00",  # 10000-01-01 04:00 UTC: beyond Python's datetime
    "month-13": "2026-13-45T99:00:00Z",
    "tomorrow": format_datetime(NOW + timedelta(days=1)),
    "year-2100": "Fri, 01 Jan 2100 00:00:00 GMT",
    "ten-days-old": format_datetime(NOW - timedelta(days=10)),
    "undated": None,
}


def _articles() -> list[Article]:
    return [Article(slug, f"CSTO story {slug}", f"The CSTO defence ministers met again ({slug}) in Yerevan on Monday.\n" * 5)
            for slug in CLAIMS]


def _feed(site, articles: list[Article]) -> str:
    items = "".join(
        f"<item><title>{a.title}</title><link>{site.url}/news/{a.slug}</link>"
        + (f"<pubDate>{CLAIMS[a.slug]}</pubDate>" if CLAIMS[a.slug] else "")
        + "</item>"
        for a in articles
    )
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>W</title>{items}</channel></rss>'
    for article in articles:
        site.articles[article.slug] = article
    return site.route("/rss.xml", lambda request: Response(body, content_type="application/rss+xml"))


def test_wild_dates_cost_the_date_not_the_feed_and_every_item_is_reported_when_found(site, tmp_path):
    articles = _articles()
    feeds = [{"name": "Wild", "url": _feed(site, articles), "language": "en"}]
    config = load_config(digest_sources(tmp_path, feeds, [digest_entry(topics=["CSTO"])], mail_settings()))
    with open_database(config.settings.database) as db:
        stats = ingest(config, db)
        dates = dict(db.con.execute("SELECT split_part(url, '/', -1), published_at FROM articles").fetchall())
        found = db.con.execute("SELECT max(discovered_at) FROM articles").fetchone()[0]
        start, end = report_window(24)
        built, html_path, _ = report(config, db, start, end, tmp_path / "out")
        earlier, _, _ = report(config, db, start - timedelta(hours=24), start, tmp_path / "earlier")
        digest = run_digest(config, db, config.digest("brief"), None, dry_run_dir=tmp_path / "outbox")
    assert stats.feeds_failed == 0 and stats.new_articles == len(CLAIMS) == stats.extracted
    # lost the feed's date only: the page's own date (article:published_time, 2 hours ago) stands in
    assert (NOW - timedelta(hours=2)).date() == dates["year-10000"].date()
    assert all(date <= found for date in dates.values() if date)  # nothing is dated in the future
    assert dates["tomorrow"] == dates["year-2100"] == found  # clamped to when they were found
    assert abs(dates["ten-days-old"] - (NOW - timedelta(days=10))) < timedelta(seconds=1)  # kept as claimed
    # in the report of the window in which they were found: all of them, once; and not earlier
    listed = {item.article.title for section in built.sections for item in section.items}
    assert listed == {a.title for a in articles}
    assert built.chart.total == len(CLAIMS)
    assert earlier.item_count == 0
    # the digest lists the same stories
    assert digest.listed == len(CLAIMS)
    html = html_path.read_text(encoding="utf-8")
    assert all(a.title in html for a in articles)


def test_undated_feed_items_take_the_page_own_time_never_a_sidebar_date(site, tmp_path):
    """No date in the feed: the page's metadata gives the time (hour and zone kept); a page
    whose only dates are in its sidebar is dated when it was found (not years back, out of
    every report window)."""
    from pathlib import Path

    pages = Path(__file__).parent / "data" / "page_dates"
    served = {"with-meta": "daily-meta.html", "visible-line": "herald-line.html", "sidebar-only": "review-none.html"}
    for slug, page in served.items():
        body = (pages / page).read_bytes()
        site.route(f"/news/{slug}", lambda request, body=body: Response(body, content_type="text/html"))
    items = "".join(f"<item><title>Story {slug}</title><link>{site.url}/news/{slug}</link>"
                    "<description>Armenia and Azerbaijan talk about a peace treaty.</description></item>"
                    for slug in served)
    feed = site.route("/rss.xml", lambda request: Response(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>W</title>{items}</channel></rss>',
        content_type="application/rss+xml"))
    config = load_config(digest_sources(tmp_path, [{"name": "Undated", "url": feed, "language": "en"}],
                                        [digest_entry(topics=["peace accord"])], mail_settings()))
    with open_database(config.settings.database) as db:
        ingest(config, db)
        rows = db.con.execute("SELECT split_part(url, '/', -1), published_at, discovered_at, status FROM articles").fetchall()
    dates = {slug: (published, found, status) for slug, published, found, status in rows}
    assert all(status == "extracted" for _, _, status in dates.values())
    assert dates["with-meta"][0] == datetime(2026, 3, 4, 9, 40, tzinfo=UTC)  # 13:40 +04:00
    assert dates["visible-line"][0] == datetime(2026, 3, 4, 13, 5, tzinfo=UTC)  # 17:05 GMT+4
    assert dates["sidebar-only"][0] is None  # not 2019 or 2018 from "Most read": the time found counts


def test_a_page_time_without_zone_is_read_in_the_feeds_time_zone(site, tmp_path):
    """An English page of a Baku outlet gives local time without a zone: with the feed's
    ``timezone`` it is Baku time; without it, UTC (English says nothing about the place)."""
    page = ("<html><body><h1>Talks in Baku</h1><div class='date'>7 October 2026, 11:30</div>"
            + "<p>Armenia and Azerbaijan talk about a peace treaty in Baku this week, officials said.</p>" * 6
            + "</body></html>")
    feeds = []
    for name, zone in (("Baku English", "Asia/Baku"), ("Other English", None)):
        slug = name.lower().replace(" ", "-")
        site.route(f"/news/{slug}", lambda request: Response(page, content_type="text/html"))
        feed = site.route(f"/{slug}.xml", lambda request, slug=slug: Response(
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>W</title><item><title>Talks</title>'
            f"<link>{site.url}/news/{slug}</link></item></channel></rss>", content_type="application/rss+xml"))
        feeds.append({"name": name, "url": feed, "language": "en", **({"timezone": zone} if zone else {})})
    config = load_config(digest_sources(tmp_path, feeds, [digest_entry(topics=["peace accord"])], mail_settings()))
    with open_database(config.settings.database) as db:
        ingest(config, db)
        dates = dict(db.con.execute("SELECT feed_name, published_at FROM articles").fetchall())
    assert dates == {"Baku English": datetime(2026, 10, 7, 7, 30, tzinfo=UTC),
                     "Other English": datetime(2026, 10, 7, 11, 30, tzinfo=UTC)}
