"""Article pages fetched in threads, each parsed by :func:`newswatch.page_parse.parse_page` (in
the parser processes of :mod:`newswatch.parse_pool`, or in the calling process)."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict

import httpx

from newswatch.config import HttpSettings
from newswatch.errors import FetchError
from newswatch.http import fetch, make_client
from newswatch.language import detect_language
from newswatch.models import ExtractedArticle, PendingArticle
from newswatch.page_parse import Parse, parse_page
from newswatch.text import content_hash
from newswatch.urls import page_url


HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", ""})


def fetch_and_extract(
    client: httpx.Client, article: PendingArticle, settings: HttpSettings, parse: Parse = parse_page
) -> ExtractedArticle:
    """Fetch one article page and extract it with ``parse``; on any failure keep the feed summary."""
    try:
        response = fetch(client, article.url, settings, robots=settings.respect_robots)
        if response.status >= 400:
            raise FetchError(f"HTTP {response.status}")
        if response.content_type not in HTML_TYPES:
            raise FetchError(f"not an HTML page ({response.content_type})")
        if len(response.content) > settings.max_page_bytes:
            raise FetchError(f"page of {len(response.content):,} bytes not parsed: more than"
                             f" settings.http.max_page_bytes ({settings.max_page_bytes:,})")
        parsed = parse(response.content, response.url, article.title, article.language_hint, article.timezone)
    except FetchError as err:
        return summary_only(article, str(err))
    fields = asdict(parsed) | {"canonical_url": page_url(article.url, response.url, parsed.canonical_url)}
    return ExtractedArticle(id=article.id, status="extracted", final_url=response.url, **fields)


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
    articles: Sequence[PendingArticle], settings: HttpSettings, parse: Parse = parse_page
) -> list[ExtractedArticle]:
    """Fetch and extract a batch of articles, ``settings.concurrency`` pages at a time."""
    with make_client(settings) as client, ThreadPoolExecutor(settings.concurrency) as pool:
        return list(pool.map(lambda article: fetch_and_extract(client, article, settings, parse), articles))
