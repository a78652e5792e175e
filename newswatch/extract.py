"""Fetch article pages and extract their text and metadata with trafilatura."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import trafilatura

from newswatch.config import HttpSettings
from newswatch.dedupe import content_hash, page_url
from newswatch.http import FetchError, fetch, make_client
from newswatch.language import detect_language
from newswatch.models import ExtractedArticle, PendingArticle
from newswatch.textclean import clean_text

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", ""})


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


def fetch_and_extract(
    client: httpx.Client, article: PendingArticle, settings: HttpSettings
) -> ExtractedArticle:
    """Fetch one article page and extract it; on any failure keep the feed summary."""
    try:
        response = fetch(client, article.url, settings, robots=settings.respect_robots)
        if response.status >= 400:
            raise FetchError(f"HTTP {response.status}")
        if response.content_type not in HTML_TYPES:
            raise FetchError(f"not an HTML page ({response.content_type})")
        try:
            fields = extract_page(response.content, response.url)
        except Exception as err:  # a hostile page must cost one article, never the batch
            raise FetchError(f"extraction failed: {type(err).__name__}: {err}") from err
        if fields is None:
            raise FetchError("no article text found on the page")
    except FetchError as err:
        return summary_only(article, str(err))
    fields["canonical_url"] = page_url(article.url, response.url, fields["canonical_url"])
    # The feed's declared language first: a page's lang attribute is often a site-wide default.
    hint = article.language_hint or fields["language"]
    fields["language"] = detect_language(f"{fields['title'] or article.title}\n{fields['text']}", hint)
    return ExtractedArticle(
        id=article.id,
        status="extracted",
        final_url=response.url,
        content_hash=content_hash(fields["text"]),
        **fields,
    )


def summary_only(article: PendingArticle, error: str) -> ExtractedArticle:
    """The fallback record for an article whose page could not be used."""
    return ExtractedArticle(
        id=article.id,
        status="summary_only",
        text=article.summary,
        content_hash=content_hash(article.summary) if article.summary.strip() else None,
        language=detect_language(f"{article.title}\n{article.summary}", article.language_hint),
        error=error,
    )


def extract_batch(
    articles: Sequence[PendingArticle], settings: HttpSettings
) -> list[ExtractedArticle]:
    """Fetch and extract a batch of articles, ``settings.concurrency`` pages at a time."""
    with make_client(settings) as client, ThreadPoolExecutor(settings.concurrency) as pool:
        return list(pool.map(lambda article: fetch_and_extract(client, article, settings), articles))
