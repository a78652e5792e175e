"""Fetch one feed with a conditional GET and parse its entries with feedparser."""

from __future__ import annotations

import calendar
import codecs
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import charset_normalizer
import feedparser
import httpx
import lxml.html

from newswatch.config import Feed, HttpSettings
from newswatch.errors import FetchError
from newswatch.http import HttpResponse, fetch
from newswatch.models import FeedFetch, FeedItem, FeedState
from newswatch.text import clean_text
from newswatch.urls import article_id, canonical_url

log = logging.getLogger("newswatch.feeds")


FeedParse = Callable[[bytes, str, str, str], tuple[FeedItem, ...]]
"""The signature of :func:`parse_feed` (content, feed name, base URL, Content-Type), in-process or not."""
FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")


def fetch_feed(
    client: httpx.Client, feed: Feed, state: FeedState | None, settings: HttpSettings,
    parse: FeedParse | None = None,
) -> FeedFetch:
    """Download ``feed`` and parse it with ``parse`` (default :func:`parse_feed`, in this
    process); never raises for network or format problems.

    Sends the stored ETag / Last-Modified so that an unchanged feed answers 304 with no body.
    A 429/503 with a short ``Retry-After`` (at most ``settings.retry_after_wait``) is waited
    out and the feed fetched once more; a longer one is returned as ``retry_after`` (capped at
    ``settings.retry_after_max``), before which the feed is not fetched again.
    A failure is returned as a :class:`FeedFetch` with ``error`` set.
    """
    url = state.url if state else feed.url
    headers = {"Accept": FEED_ACCEPT}
    if state and state.etag:
        headers["If-None-Match"] = state.etag
    if state and state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    try:
        response = fetch(client, url, settings, headers=headers)
        wait = _retry_after(response)
        if wait is not None and wait <= settings.retry_after_wait:
            log.info("feed %s: HTTP %d, waiting %.1fs as asked (Retry-After)", feed.name, response.status, wait)
            time.sleep(wait)
            response = fetch(client, url, settings, headers=headers)
    except FetchError as err:
        return FeedFetch(feed_name=feed.name, url=url, status=None, error=str(err), permanent=not err.retryable)
    base = dict(
        feed_name=feed.name,
        url=url,
        status=response.status,
        bytes_downloaded=len(response.content),
        final_url=response.url,
        permanent_redirect=response.permanent_redirect,
    )
    if response.status == 304:
        return FeedFetch(**base, not_modified=True)
    if response.status >= 400:
        wait = _retry_after(response)
        if wait is None:
            return FeedFetch(**base, error=f"HTTP {response.status}")
        until = datetime.now(UTC) + timedelta(seconds=min(wait, settings.retry_after_max))
        return FeedFetch(
            **base, error=f"HTTP {response.status}, asked to retry after {until:%Y-%m-%d %H:%M:%S} UTC",
            retry_after=until,
        )
    try:
        content_type = response.headers.get("content-type", "application/xml")
        items = (parse or parse_feed)(response.content, feed.name, response.url, content_type)
    except (ValueError, FetchError) as err:
        return FeedFetch(**base, error=str(err))
    return FeedFetch(
        **base,
        items=items,
        etag=response.headers.get("etag"),
        last_modified=response.headers.get("last-modified"),
    )


def _retry_after(response: HttpResponse) -> float | None:
    """Seconds a 429/503 answer asked us to wait, or None."""
    return response.retry_after() if response.status in (429, 503) else None


def decode_feed(content: bytes, content_type: str) -> str:
    """The text of a feed whose declared charset may be wrong or missing.

    Labels are often wrong (a web server's default charset, a copied XML declaration), but
    bytes are not: a byte-order mark wins, then valid UTF-8 is taken as UTF-8 (other text is
    practically never valid UTF-8), then the XML declaration's and the HTTP header's charsets
    if they decode the bytes, and finally a statistical guess (charset-normalizer).
    """
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            return content.decode(encoding, errors="replace")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    match = _XML_ENCODING.match(content[:512])
    declared = ([match.group(1).decode("ascii")] if match else []) + _CHARSET.findall(content_type)
    for encoding in declared:
        try:
            return content.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
    guess = charset_normalizer.from_bytes(content).best()
    return str(guess) if guess is not None else content.decode("utf-8", errors="replace")


def parse_feed(content: bytes, feed_name: str, base_url: str, content_type: str) -> tuple[FeedItem, ...]:
    """Turn RSS/Atom bytes into items; raise ValueError when it is not a usable feed.

    Entities declared in a DOCTYPE are never expanded and external entities never loaded
    (feedparser drops such declarations), so entity bombs and XXE come out as plain text.
    """
    if not content.strip():
        raise ValueError("not a feed: the response is empty")
    media_type = content_type.split(";")[0].strip().lower() or "application/xml"
    text = decode_feed(content, content_type)
    parsed = feedparser.parse(
        text.encode("utf-8"),
        response_headers={"content-location": base_url, "content-type": f"{media_type}; charset=utf-8"},
    )
    if not parsed.entries and not parsed.get("version"):
        if media_type in ("text/html", "application/xhtml+xml") or re.match(r"\s*<(!doctype html|html)", text, re.I):
            raise ValueError(f"not a feed: the server sent an HTML page ({media_type})")
        raise ValueError(f"not a feed: {_bozo_reason(parsed)}")
    items: dict[str, FeedItem] = {}
    for entry in parsed.entries:
        link = entry.get("link") or (entry.get("id") if str(entry.get("id", "")).startswith("http") else None)
        if not link or not link.startswith(("http://", "https://")):
            continue
        canonical = canonical_url(link)
        item_id = article_id(link)
        if item_id in items:
            continue
        items[item_id] = FeedItem(
            id=item_id,
            feed_name=feed_name,
            url=link,
            canonical_url=canonical,
            title=html_to_text(entry.get("title", "")) or link,
            summary=html_to_text(entry.get("summary", "")),
            published_at=_entry_time(entry),
            author=entry.get("author") or None,
        )
    return tuple(items.values())


def _bozo_reason(parsed: feedparser.FeedParserDict) -> str:
    exc = parsed.get("bozo_exception")
    return f"{type(exc).__name__}: {exc}" if exc else "unrecognised format"


def _entry_time(entry: feedparser.FeedParserDict) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    return None


def html_to_text(fragment: str) -> str:
    """Text content of an HTML fragment (feed titles and summaries), cleaned, whitespace collapsed."""
    if not fragment or not fragment.strip():
        return ""
    if "<" not in fragment and "&" not in fragment:
        return " ".join(clean_text(fragment).split())
    try:
        text = lxml.html.fragment_fromstring(fragment, create_parent="div").text_content()
    except (lxml.etree.ParserError, ValueError):
        text = fragment
    return " ".join(clean_text(text).split())
