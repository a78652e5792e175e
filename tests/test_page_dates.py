"""A page's own publication time: time and zone kept, never a date from a sidebar or a list of
other articles, None when the page states none (pages in tests/data/page_dates)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from newswatch.page_dates import page_published

PAGES = Path(__file__).parent / "data" / "page_dates"
PLUS_4 = timezone(timedelta(hours=4))
# page -> (feed language, the moment it states)
STATED = {
    "wire-jsonld.html": ("en", datetime(2026, 3, 4, 5, 15, tzinfo=timezone.utc)),
    "daily-meta.html": ("hy", datetime(2026, 3, 4, 13, 40, tzinfo=PLUS_4)),
    "herald-line.html": ("en", datetime(2026, 3, 4, 17, 5, tzinfo=PLUS_4)),
    "times-time.html": ("ka", datetime(2026, 3, 4, 9, 15, tzinfo=PLUS_4)),
    "vestnik-line-ru.html": ("ru", datetime(2026, 3, 4, 9, 15, tzinfo=timezone(timedelta(hours=3)))),
    "xeber-line-az.html": ("az", datetime(2026, 3, 4, 11, 40, tzinfo=PLUS_4)),
    "review-none.html": ("en", None),
}


@pytest.mark.parametrize("page", sorted(STATED))
def test_the_page_own_time_with_its_zone_never_a_sidebar_date(page):
    language, expected = STATED[page]
    found = page_published((PAGES / page).read_bytes(), language)
    assert found == expected
    assert found is None or found.utcoffset() is not None


def test_every_page_here_is_listed():
    assert {p.name for p in PAGES.glob("*.html")} == set(STATED)


def test_a_visible_time_without_zone_is_read_in_the_zone_of_the_page_language():
    page = ("<html><body><h1>Title</h1><div class='when'>04.03.2026 09:15</div>"
            f"<p>{'word ' * 60}</p></body></html>")
    assert page_published(page, "hy") == datetime(2026, 3, 4, 5, 15, tzinfo=timezone.utc)
    assert page_published(page, "en") == datetime(2026, 3, 4, 9, 15, tzinfo=timezone.utc)


def test_a_visible_time_without_zone_is_read_in_the_feeds_time_zone_when_it_has_one():
    """An English page of a Baku outlet states Baku time: the feed's ``timezone`` says so."""
    page = ("<html><body><h1>Title</h1><div class='when'>7 October 2026, 11:30</div>"
            f"<p>{'word ' * 60}</p></body></html>")
    assert page_published(page, "en", "Asia/Baku") == datetime(2026, 10, 7, 7, 30, tzinfo=timezone.utc)
    assert page_published(page, "hy", "Asia/Baku") == datetime(2026, 10, 7, 7, 30, tzinfo=timezone.utc)
    stated = page.replace("11:30", "11:30 +02:00")  # a zone the page states wins
    assert page_published(stated, "en", "Asia/Baku") == datetime(2026, 10, 7, 9, 30, tzinfo=timezone.utc)


def test_dates_after_the_article_text_begins_are_not_its_date():
    page = (f"<html><body><h1>Title</h1><p>{'word ' * 60}</p>"
            "<p>Signed on 10 November 2020, 01:00.</p></body></html>")
    assert page_published(page, "en") is None


def test_unreadable_metadata_is_skipped_not_fatal():
    page = ('<html><head><script type="application/ld+json">{not json</script>'
            '<meta property="article:published_time" content="yesterday"></head>'
            '<body><h1>T</h1><time datetime="2026-03-04T10:00:00+04:00">4 March</time></body></html>')
    assert page_published(page, "en") == datetime(2026, 3, 4, 10, tzinfo=PLUS_4)
    assert page_published(b"", "en") is None
