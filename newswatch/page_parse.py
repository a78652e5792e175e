"""Article pages parsed into text and metadata: the CPU-bound part of extraction.

:func:`parse_page` runs in the parser processes of :mod:`newswatch.parse_pool` (whose
forkserver imports this module and only what it needs: trafilatura, lingua, the date rules),
or in the calling process. Only the page goes in and only a :class:`ParsedPage` comes out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import trafilatura
from lxml.html import HtmlElement
from trafilatura.metadata import examine_meta, extract_author, extract_meta_json, extract_title, extract_url
from trafilatura.settings import DEFAULT_CONFIG, Document

from newswatch.errors import FetchError
from newswatch.language import detect_language
from newswatch.page_dates import page_published
from newswatch.text import clean_text, content_hash


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


Parse = Callable[[bytes, str, str, str | None, str | None], ParsedPage]
"""The signature of :func:`parse_page` (content, URL, feed title, language hint, feed's time
zone), in-process or not."""

MAX_FILE_SIZE = DEFAULT_CONFIG.getint("DEFAULT", "MAX_FILE_SIZE")  # trafilatura's own limit, as its loader applies it

Favor = Literal["precision", "balanced", "recall"]
FAVOR: Favor = "recall"
"""trafilatura's bias (benchmarks/eval_clusters.py measures each): recall keeps more of the
article; what it keeps of the site's chrome is left out of clustering by the outlet's
recurring lines (:mod:`newswatch.cluster`)."""


def page_metadata(tree: HtmlElement, url: str) -> Document:
    """Title, author and canonical URL of a parsed page, found as trafilatura's own metadata
    extraction finds them, without what newswatch never reads (its dates, site name,
    categories, tags and licence: most of that extraction's cost). Reads ``tree`` only."""
    found = examine_meta(tree)
    if found.author and " " not in found.author:  # as trafilatura: a one-word author is a handle
        found.author = None
    try:
        found = extract_meta_json(tree, found)
    except Exception:  # noqa: BLE001 - trafilatura's JSON-LD reader has bugs; the other sources remain
        pass
    found.title = found.title or extract_title(tree)
    found.author = found.author or extract_author(tree)
    found.url = found.url or extract_url(tree, url)
    found.clean_and_trim()
    return found


def extract_page(
    html: bytes | str, url: str, language: str | None = None, favor: Favor = FAVOR, timezone_name: str | None = None
) -> dict | None:
    """Main text and metadata of an HTML page, or None when there is no article text.

    The page is parsed once (trafilatura's loader: its encoding guess and size limit); the
    publication time is the page's own (:func:`newswatch.page_dates.page_published`, with
    ``timezone_name`` or ``language`` for a visible time stated without zone), never a date trafilatura finds
    elsewhere on the page (sidebars, lists of other articles).
    """
    tree = trafilatura.load_html(html, MAX_FILE_SIZE)
    if tree is None:
        return None
    document = trafilatura.bare_extraction(  # on its own copy of the tree, which it prunes
        tree, url=url, with_metadata=False, include_comments=False,
        favor_recall=favor == "recall", favor_precision=favor == "precision",
    )
    if document is None or not (document.text or "").strip():
        return None
    metadata = page_metadata(tree, url)
    return {
        "text": clean_text(document.text).strip(),
        "title": clean_text(metadata.title) if metadata.title else None,
        "author": metadata.author,
        "published_at": page_published(tree, language, timezone_name),
        "canonical_url": metadata.url,
    }


def parse_page(
    content: bytes, url: str, title: str, language_hint: str | None, timezone_name: str | None = None, *,
    favor: Favor = FAVOR,
) -> ParsedPage:
    """Extract the page at ``url``; FetchError when it has no usable article text.

    ``title`` (the feed's) stands in for a page without one in language detection, and the
    feed's declared ``language_hint`` comes first: a page's lang attribute is often a
    site-wide default. ``timezone_name`` (the feed's) is the zone of a time the page states
    without one.
    """
    try:
        fields = extract_page(content, url, language_hint, favor, timezone_name)
    except Exception as err:  # a hostile page must cost one article, never the batch
        raise FetchError(f"extraction failed: {type(err).__name__}: {err}") from err
    if fields is None:
        raise FetchError("no article text found on the page")
    fields["language"] = detect_language(f"{fields['title'] or title}\n{fields['text']}", language_hint)
    return ParsedPage(content_hash=content_hash(fields["text"]), **fields)
