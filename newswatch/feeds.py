"""Fetch one feed with a conditional GET; its entries are parsed by
:func:`newswatch.feed_parse.parse_feed` (in a parser process, or in the calling process)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

import httpx

from newswatch.config import Feed, HttpSettings
from newswatch.errors import FetchError
from newswatch.feed_parse import FeedParse, parse_feed
from newswatch.http import HttpResponse, fetch
from newswatch.models import FeedFetch, FeedState

log = logging.getLogger("newswatch.feeds")


FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"


def fetch_feed(
    client: httpx.Client, feed: Feed, state: FeedState | None, settings: HttpSettings,
    parse: FeedParse | None = None,
) -> FeedFetch:
    """Download ``feed`` and parse it with ``parse`` (default :func:`parse_feed`, in this
    process); never raises for network or format problems.

    Sends the stored ETag / Last-Modified so that an unchanged feed answers 304 with no body.
    A 429/503 with a short ``Retry-After`` (at most ``settings.retry_after_wait``) is waited
    out and the feed fetched once more; a longer one is returned as ``retry_after`` (capped at
    ``settings.retry_after_max``), before which the feed is not fetched again. Only the first
    ``settings.max_items_per_feed`` items are returned (``items_dropped`` counts the rest).
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
    if len(items) > settings.max_items_per_feed:
        log.warning("feed %s: %d items, only the first %d taken (settings.http.max_items_per_feed); %d dropped",
                    feed.name, len(items), settings.max_items_per_feed, len(items) - settings.max_items_per_feed)
    return FeedFetch(
        **base,
        items=items[: settings.max_items_per_feed],
        items_dropped=max(0, len(items) - settings.max_items_per_feed),
        etag=response.headers.get("etag"),
        last_modified=response.headers.get("last-modified"),
    )


def _retry_after(response: HttpResponse) -> float | None:
    """Seconds a 429/503 answer asked us to wait, or None."""
    return response.retry_after() if response.status in (429, 503) else None
