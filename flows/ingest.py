"""The ``ingest`` flow: fetch feeds (a task per feed) and extract pages (a task per batch)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict

from prefect import flow, get_run_logger, task, unmapped
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.task_runners import TaskRunner

from flows import configure_logging, configured
from newswatch.config import Config, Feed, HttpSettings, RunnerSettings
from newswatch.errors import TransientFeedError
from newswatch.models import ExtractedArticle, FeedFetch, FeedState, PendingArticle
from newswatch.pages import extract_batch
from newswatch.parse_pool import parser
from newswatch.pipeline import fetch_one_feed, ingest, run_ahead
from newswatch.publish import Published, after_ingest
from storage.db import Database


@task(name="fetch-feed", cache_policy=NO_CACHE, task_run_name="fetch {feed.name}")
def fetch_feed_task(feed: Feed, state: FeedState | None, http: HttpSettings, workers: int = 1) -> FeedFetch:
    """Fetch one feed, parsed by ``workers`` processes; transient failures raise so that
    Prefect retries them with backoff."""
    result = fetch_one_feed(feed, state, http, workers)
    if result.transient:
        raise TransientFeedError(result)
    return result


@task(name="extract-batch", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5)
def extract_batch_task(
    batch: Sequence[PendingArticle], http: HttpSettings, workers: int = 1
) -> list[ExtractedArticle]:
    """Fetch and extract one batch of article pages, parsed by ``workers`` processes."""
    return extract_batch(batch, http, parser(workers))


def dask_task_runner(settings: RunnerSettings) -> TaskRunner:
    """A Dask task runner: on the scheduler at ``dask_address``, or on a local cluster."""
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as err:
        raise RuntimeError(
            "settings.runner.kind is dask, but the dask extra is not installed: "
            "run `uv sync --extra dask` (or `pip install 'newswatch[dask]'`)"
        ) from err
    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    workers = settings.dask_workers or os.cpu_count() or 1
    return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True})


class PrefectStages:
    """Runs the network stages as Prefect tasks: feeds on the flow's task runner, page batches
    there too (parsed by ``parse_workers`` processes) or on Dask, as ``runner`` says."""

    def __init__(self, runner: RunnerSettings | None = None, parse_workers: int = 0):
        self.parse_workers = parse_workers
        # built now, so that a missing extra fails the run before any work; started when used
        self.dask = dask_task_runner(runner) if runner and runner.kind == "dask" else None

    def fetch_feeds(
        self, jobs: Sequence[tuple[Feed, FeedState | None]], http: HttpSettings
    ) -> Iterator[FeedFetch]:
        """One task run per feed, retried with exponential backoff; results as they finish."""
        if not jobs:
            return
        delays = [http.retry_delay * 2**attempt for attempt in range(http.retries)]
        task_ = fetch_feed_task.with_options(retries=http.retries, retry_delay_seconds=delays or 0)
        futures = task_.map(
            [feed for feed, _ in jobs], [state for _, state in jobs], unmapped(http), unmapped(self.parse_workers)
        )
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
        """One task run per batch: a few at a time on the flow's threads, in order (as the plain
        pipeline does), or all at once on Dask, as they finish."""
        if not batches:
            return
        if self.dask is None:
            yield from run_ahead(lambda batch: extract_batch_task.submit(batch, http, self.parse_workers), batches)
            return
        with self.dask:
            # Dask workers are (daemonic) processes already, in parallel: they parse in-process
            parameters = {"batch": batches, "http": unmapped(http), "workers": unmapped(1)}
            for future in as_completed(self.dask.map(extract_batch_task, parameters)):
                yield future.result()


@task(name="alerts-and-feeds", cache_policy=NO_CACHE)
def publish_task(config: Config, db: Database) -> Published:
    """Send due alerts, write the Atom feeds (:func:`newswatch.publish.after_ingest`)."""
    return after_ingest(config, db)


@flow(name="ingest", log_prints=True)
def ingest_flow(sources: str = "sources.yaml", database: str | None = None) -> dict:
    """Fetch every enabled feed, extract new articles, store and match them."""
    configure_logging()
    with configured(sources, database) as (config, db):
        stats = ingest(config, db, PrefectStages(config.settings.runner, config.settings.extract.workers))
        published = publish_task(config, db)
    logger = get_run_logger()
    logger.info(
        "%d new articles, %d feeds failed, %d articles matched; alerts: %s",
        stats.new_articles, stats.feeds_failed, stats.matched_articles, published.alerts,
    )
    for problem in [*published.alerts_failed, *filter(None, [published.feeds_error])]:
        logger.warning("%s", problem)
    return {**asdict(stats), "published": asdict(published)}
