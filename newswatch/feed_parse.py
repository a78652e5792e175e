"""RSS/Atom bytes parsed into feed items: what the parser processes of
:mod:`newswatch.parse_pool` run for a feed (whose forkserver imports this module), or the
calling process."""

from __future__ import annotations

import calendar
import codecs
import re
from collections.abc import Callable
from datetime import UTC, datetime

import charset_normalizer
import feedparser
import lxml.html

from newswatch.models import FeedItem
from newswatch.text import clean_text
from newswatch.urls import article_id, canonical_url

FeedParse = Callable[[bytes, str, str, str], tuple[FeedItem, ...]]
"""The signature of :func:`parse_feed` (content, feed name, base URL, Content-Type), in-process or not."""
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")


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
        try:
            item = _item(entry, feed_name)
        except (ValueError, TypeError, AttributeError, OverflowError):
            continue  # one broken entry costs that entry, never the feed
        if item is not None and item.id not in items:
            items[item.id] = item
    return tuple(items.values())


def _item(entry: feedparser.FeedParserDict, feed_name: str) -> FeedItem | None:
    """The entry as an item, or None without an http(s) link. A date that cannot be read or is
    out of range is dropped (the item keeps everything else)."""
    link = entry.get("link") or (entry.get("id") if str(entry.get("id", "")).startswith("http") else None)
    if not isinstance(link, str) or not link.startswith(("http://", "https://")):
        return None
    return FeedItem(
        id=article_id(link),
        feed_name=feed_name,
        url=link,
        canonical_url=canonical_url(link),
        title=html_to_text(entry.get("title", "")) or link,
        summary=html_to_text(entry.get("summary", "")),
        published_at=_entry_time(entry),
        author=entry.get("author") or None,
    )


def _bozo_reason(parsed: feedparser.FeedParserDict) -> str:
    exc = parsed.get("bozo_exception")
    return f"{type(exc).__name__}: {exc}" if exc else "unrecognised format"


def _entry_time(entry: feedparser.FeedParserDict) -> datetime | None:
    """The entry's first readable date (published, updated, created); None when none is, such
    as a year 10000 or a month 13. Dates in the future are kept here and clamped when stored."""
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            except (ValueError, OverflowError, OSError, TypeError):
                continue
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
