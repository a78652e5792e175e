"""Turn a fetched article page into text and metadata: the CPU-bound part of extraction.

Runs in the parser processes of :mod:`newswatch.parse_pool` (which preload this module, so
that trafilatura and lingua are imported once), or in the calling process. Only the page
goes in and only a :class:`ParsedPage` comes out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import trafilatura

from newswatch.dedupe import content_hash
from newswatch.http import FetchError
from newswatch.language import detect_language
from newswatch.textclean import clean_text


@dataclass(frozen=True, slots=True)
class ParsedPage:
    """What a page yielded; ``canonical_url`` is the page's own claim, not yet checked."""

    text: str
    title: str | None
    author: str | None
    published_at: datetime | None
    language: str | None
    canonical_url: str | None
    content_hash: str


Parse = Callable[[bytes, str, str, str | None], ParsedPage]
"""The signature of :func:`parse_page` (content, URL, feed title, language hint), in-process or not."""


def extract_page(html: bytes | str, url: str) -> dict | None:
    """Main text and metadata of an HTML page, or None when there is no article text."""
    document = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_comments=False, favor_recall=True
    )
    if document is None or not (document.text or "").strip():
        return None
    return {
        "text": clean_text(document.text).strip(),
        "title": clean_text(document.title) if document.title else None,
        "author": document.author,
        "published_at": _parse_date(document.date),
        "language": document.language,
        "canonical_url": document.url,
    }


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_page(content: bytes, url: str, title: str, language_hint: str | None) -> ParsedPage:
    """Extract the page at ``url``; FetchError when it has no usable article text.

    ``title`` (the feed's) stands in for a page without one in language detection, and the
    feed's declared ``language_hint`` comes first: a page's lang attribute is often a
    site-wide default.
    """
    try:
        fields = extract_page(content, url)
    except Exception as err:  # a hostile page must cost one article, never the batch
        raise FetchError(f"extraction failed: {type(err).__name__}: {err}") from err
    if fields is None:
        raise FetchError("no article text found on the page")
    hint = language_hint or fields["language"]
    fields["language"] = detect_language(f"{fields['title'] or title}\n{fields['text']}", hint)
    return ParsedPage(content_hash=content_hash(fields["text"]), **fields)
