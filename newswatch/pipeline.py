"""The ingest pipeline as plain functions: fetch -> store -> extract -> store -> match (the
report is :mod:`newswatch.reports`).

Network stages are reached through a :class:`Stages` object, so the same sequence runs with a
local thread pool (:class:`LocalStages`) or as Prefect tasks (``flows.ingest``). All writes go
through the :class:`storage.db.Database` passed in, from the calling thread only.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol, TypeVar

from newswatch.config import Config, Feed, HttpSettings
from newswatch.feedback import drain_queue
from newswatch.topic_changes import accept_unchanged_verdicts
from newswatch.feed_parse import parse_feed
from newswatch.feeds import fetch_feed
from newswatch.health import skip_reason
from newswatch.http import make_client
from newswatch.match import Matcher, compile_topics
from newswatch.models import ExtractedArticle, FeedFetch, FeedState, IngestStats, PendingArticle
from newswatch.pages import extract_batch
from newswatch.parse_pool import ParseLimits, in_pool, parser
from newswatch.politeness import spread_hosts
from newswatch.search import index_postings
from storage.db import Database, now

if TYPE_CHECKING:
    from newswatch.cluster import StoryClusterer

log = logging.getLogger("newswatch.pipeline")
T = TypeVar("T")
R = TypeVar("R", covariant=True)
BATCHES_AHEAD = 4  # batches of pages in progress at once: fetched and parsed while earlier ones are stored
SNAPSHOT_INTERVAL = 300.0  # seconds between readers' snapshots during one long ingest


class _Result(Protocol[R]):
    def result(self) -> R: ...


class Stages(Protocol):
    """How the network-bound stages are executed."""

    def fetch_feeds(
        self, jobs: Sequence[tuple[Feed, FeedState | None]], http: HttpSettings
    ) -> Iterable[FeedFetch]:
        """Fetch every feed; yield results as they complete."""
        ...

    def extract_batches(
        self, batches: Sequence[Sequence[PendingArticle]], http: HttpSettings
    ) -> Iterable[list[ExtractedArticle]]:
        """Fetch and extract every batch; yield each batch's results as it completes."""
        ...


def fetch_one_feed(
    feed: Feed, state: FeedState | None, http: HttpSettings, parse_workers: int = 1, limits: ParseLimits = ParseLimits()
) -> FeedFetch:
    """Fetch one feed with its own client, parsed by ``parse_workers`` processes (see
    :func:`~newswatch.parse_pool.in_pool`); a bug is reported as a failed fetch, not raised."""
    try:
        with make_client(http) as client:
            return fetch_feed(client, feed, state, http, in_pool(parse_workers, parse_feed, limits))
    except Exception as err:  # one broken feed must never stop the others
        log.exception("unexpected error fetching feed %s", feed.name)
        url = state.url if state else feed.url
        return FeedFetch(feed.name, url, None, error=f"internal error: {type(err).__name__}: {err}", permanent=True)


class LocalStages:
    """Runs the stages in a local thread pool, without Prefect; pages and feeds are parsed by
    ``parse_workers`` processes (0: one per CPU core, 1: in this process)."""

    def __init__(self, workers: int = 8, parse_workers: int = 0, limits: ParseLimits = ParseLimits()):
        self.workers = workers
        self.parse_workers = parse_workers
        self.limits = limits

    def fetch_feeds(
        self, jobs: Sequence[tuple[Feed, FeedState | None]], http: HttpSettings
    ) -> Iterator[FeedFetch]:
        """Fetch every feed concurrently; yield results as they complete."""
        with ThreadPoolExecutor(self.workers) as pool:
            futures = [pool.submit(fetch_one_feed, feed, state, http, self.parse_workers, self.limits)
                       for feed, state in jobs]
            for future in as_completed(futures):
                yield future.result()

    def extract_batches(
        self, batches: Sequence[Sequence[PendingArticle]], http: HttpSettings
    ) -> Iterator[list[ExtractedArticle]]:
        """Extract the batches, :data:`BATCHES_AHEAD` at a time; results in order."""
        parse = parser(self.parse_workers, self.limits)
        with ThreadPoolExecutor(BATCHES_AHEAD) as pool:
            yield from run_ahead(lambda batch: pool.submit(extract_batch, batch, http, parse), batches)


def run_ahead(submit: Callable[[T], _Result[R]], items: Iterable[T]) -> Iterator[R]:
    """The results of ``submit(item)`` for each item, in order, with up to
    :data:`BATCHES_AHEAD` submitted and not yet consumed at any time."""
    in_flight: deque[_Result[R]] = deque()
    for item in items:
        in_flight.append(submit(item))
        if len(in_flight) >= BATCHES_AHEAD:
            yield in_flight.popleft().result()
    while in_flight:
        yield in_flight.popleft().result()


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """``items`` cut into consecutive slices of at most ``size``."""
    return [items[i : i + size] for i in range(0, len(items), size)]


def ingest(config: Config, db: Database, stages: Stages | None = None) -> IngestStats:
    """Run one ingest: fetch all enabled feeds, extract new articles, match them.

    Safe to rerun at any point: work left over by an interrupted run (pending extraction,
    unmatched articles) is picked up, and nothing already stored is stored twice.
    """
    extract = config.settings.extract
    stages = stages or LocalStages(config.settings.http.concurrency, extract.workers, ParseLimits.of(extract))
    http = config.settings.http
    stats = IngestStats()
    feeds = config.enabled_feeds
    db.sync_feeds((feed.name, feed.url) for feed in feeds)
    drain_queue(db)  # feedback given while the database was being written
    accept_unchanged_verdicts(config, db)  # a changed topic that loses analysts' verdicts stops the run
    states = db.feed_states()
    by_name = {feed.name: feed for feed in feeds}
    stats.skipped = feeds_to_skip(db, config)
    stats.feeds_skipped = len(stats.skipped)
    jobs = [(feed, states.get(feed.name)) for feed in feeds if feed.name not in stats.skipped]
    for result in stages.fetch_feeds(jobs, http):
        stats.new_articles += db.record_feed_fetch(result, by_name[result.feed_name].language)
        if result.items_dropped:
            stats.dropped[result.feed_name] = result.items_dropped
        if result.not_modified:
            stats.feeds_not_modified += 1
        elif result.ok:
            stats.feeds_ok += 1
        else:
            stats.feeds_failed += 1
            stats.failures[result.feed_name] = result.error or "failed"
            log.warning("feed %s failed: %s", result.feed_name, result.error)
    from newswatch.cluster import StoryClusterer  # numpy, datasketch, scipy: only commands that cluster load them

    zones = {feed.name: feed.timezone for feed in config.feeds if feed.timezone}
    pending = spread_hosts([replace(a, timezone=zones.get(a.feed_name))
                            for a in db.pending_articles(config.settings.extract.max_attempts)], lambda a: a.url)
    clusterer = StoryClusterer(config.settings.clusters)
    matcher = compile_topics(config.topics, config.entities, semantic=config.settings.semantic)
    batch_size, max_attempts = config.settings.extract.batch_size, config.settings.extract.max_attempts
    for results in stages.extract_batches(chunks(pending, batch_size), http):
        db.store_extracted(results)
        stats.extracted += sum(r.status == "extracted" for r in results)
        stats.summary_only += sum(r.status == "summary_only" for r in results)
        _match(db, matcher, batch_size, stats)  # while the next batches are fetched and parsed
        stats.indexed += db.update_search_index(index_postings, batch_size)
        db.publish_snapshot(min_interval=SNAPSHOT_INTERVAL)  # readers see long runs progress
    stats.clustered = cluster_stored(db, clusterer, max_attempts)  # in large batches: fewer queries
    _match(db, matcher, batch_size, stats)  # what earlier runs left, or all after a topic change
    stats.indexed += db.update_search_index(index_postings)  # what earlier runs left (all, after an upgrade)
    db.publish_snapshot()  # what readers see while the next run writes
    log.info(
        "ingest: %d feeds ok, %d unchanged, %d failed, %d skipped; %d new articles; %d extracted,"
        " %d summary-only; %d clustered; %d articles matched (%d matches)",
        stats.feeds_ok, stats.feeds_not_modified, stats.feeds_failed, stats.feeds_skipped,
        stats.new_articles, stats.extracted, stats.summary_only, stats.clustered,
        stats.matched_articles, stats.matches,
    )
    return stats


def _match(db: Database, matcher: Matcher, batch_size: int, stats: IngestStats) -> None:
    articles, matches = match_stored(db, matcher, batch_size)
    stats.matched_articles += articles
    stats.matches += matches


def feeds_to_skip(db: Database, config: Config) -> dict[str, str]:
    """Feeds this run must not fetch (Retry-After pending, dead), with the reason; logged."""
    at = now()
    health = db.feed_health()
    skipped = {}
    for feed in config.enabled_feeds:
        reason = skip_reason(health.get(feed.name), config.settings.health, at)
        if reason:
            log.info("feed %s skipped: %s", feed.name, reason)
            skipped[feed.name] = reason
    return skipped


def cluster_stored(db: Database, clusterer: StoryClusterer, max_attempts: int) -> int:
    """Put every article whose text is final into a story cluster; return how many were new."""
    count = 0
    while batch := db.articles_to_cluster(max_attempts, clusterer.settings.batch_size):
        with db.cluster_tables() as tables:
            clusterer.assign(tables, batch)
        count += len(batch)
    return count


def match_stored(db: Database, matcher: Matcher, batch_size: int) -> tuple[int, int]:
    """Match every queued article (all of them once after a topic change); return (articles, matches)."""
    articles = matches = 0
    db.queue_all_for_matcher(matcher.fingerprint)
    while batch := db.articles_to_match(batch_size):
        results = {a.id: matcher.match(a.title, a.text, a.language) for a in batch}
        db.store_matches(matcher.fingerprint, results)
        articles += sum(bool(found) for found in results.values())
        matches += sum(len(found) for found in results.values())
    return articles, matches
