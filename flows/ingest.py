"""The ``ingest`` flow: fetch feeds (a task per feed) and extract pages (a task per batch)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path

from prefect import flow, get_run_logger, task, unmapped
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed

from newswatch.config import Feed, HttpSettings, load_config
from newswatch.extract import extract_batch
from newswatch.models import ExtractedArticle, FeedFetch, FeedState, PendingArticle
from newswatch.pipeline import fetch_one_feed, ingest
from storage.db import open_database


class TransientFeedError(Exception):
    """A feed failed in a way worth retrying; carries the failed fetch for the record."""

    def __init__(self, result: FeedFetch):
        super().__init__(f"{result.feed_name}: {result.error}")
        self.result = result


class _NoTracebackForFeedErrors(logging.Filter):
    """A feed that is down is an expected event: log one line, not a Python traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], TransientFeedError):
            record.exc_info = None
            record.exc_text = None
        return True


logging.getLogger("prefect.task_runs").addFilter(_NoTracebackForFeedErrors())


@task(name="fetch-feed", cache_policy=NO_CACHE, task_run_name="fetch {feed.name}")
def fetch_feed_task(feed: Feed, state: FeedState | None, http: HttpSettings) -> FeedFetch:
    """Fetch one feed; transient failures raise so that Prefect retries them with backoff."""
    result = fetch_one_feed(feed, state, http)
    if result.transient:
        raise TransientFeedError(result)
    return result


@task(name="extract-batch", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5)
def extract_batch_task(batch: Sequence[PendingArticle], http: HttpSettings) -> list[ExtractedArticle]:
    """Fetch and extract one batch of article pages."""
    return extract_batch(batch, http)


class PrefectStages:
    """Runs the network stages as Prefect tasks on the flow's task runner."""

    def fetch_feeds(
        self, jobs: Sequence[tuple[Feed, FeedState | None]], http: HttpSettings
    ) -> Iterator[FeedFetch]:
        """One task run per feed, retried with exponential backoff; results as they finish."""
        if not jobs:
            return
        delays = [http.retry_delay * 2**attempt for attempt in range(http.retries)]
        task_ = fetch_feed_task.with_options(retries=http.retries, retry_delay_seconds=delays or 0)
        futures = task_.map([feed for feed, _ in jobs], [state for _, state in jobs], unmapped(http))
        for future in as_completed(futures):
            outcome = future.result(raise_on_failure=False)
            if isinstance(outcome, TransientFeedError):
                yield outcome.result
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                yield outcome

    def extract_batches(
        self, batches: Sequence[Sequence[PendingArticle]], http: HttpSettings
    ) -> Iterator[list[ExtractedArticle]]:
        """One task run per batch; results as they finish."""
        if not batches:
            return
        for future in as_completed(extract_batch_task.map(batches, unmapped(http))):
            yield future.result()


@flow(name="ingest", log_prints=True)
def ingest_flow(sources: str = "sources.yaml", database: str | None = None) -> dict:
    """Fetch every enabled feed, extract new articles, store and match them."""
    config = load_config(Path(sources), Path(database) if database else None)
    with open_database(config.settings.database, lock_timeout=config.settings.lock_timeout) as db:
        stats = ingest(config, db, PrefectStages())
    get_run_logger().info(
        "%d new articles, %d feeds failed, %d articles matched",
        stats.new_articles, stats.feeds_failed, stats.matched_articles,
    )
    return asdict(stats)
