"""One report as plain functions: the matches of a time window rendered as HTML and text files.

The ``report`` command calls :func:`report_recent` in its own process, without Prefect; the
``report`` flow (``newswatch run``, ``serve``'s schedule) wraps the same function.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

from newswatch.chart import volume_chart
from newswatch.config import Config, check_hours
from newswatch.models import MatchedArticle
from newswatch.render import Report, build_report, write_report
from storage.db import Database, now, open_reader

log = logging.getLogger("newswatch.reports")


def report_window(hours: float, end: datetime | None = None) -> tuple[datetime, datetime]:
    """The ``hours`` up to ``end`` (default: now) as (start, end); ValueError for a span out of
    bounds (see :func:`newswatch.config.check_hours`)."""
    check_hours(hours)
    end = end or now()
    return end - timedelta(hours=hours), end


def _chart_time(row: MatchedArticle, start: datetime, end: datetime) -> datetime:
    """Where a listed article is counted on the chart: its publication time when that falls in
    the window, else when it was found (which always does), so the chart counts every article
    the report lists."""
    return row.published_at if row.published_at and start <= row.published_at < end else row.discovered_at


def report(
    config: Config, db: Database, start: datetime, end: datetime, out_dir: Path
) -> tuple[Report, Path, Path]:
    """Build the report of matches in [start, end) and write its HTML and text files."""
    rows = db.matches_between(start, end)
    topics = [topic.name for topic in config.topics]
    built = build_report(
        rows,
        [(topic.name, topic.description) for topic in config.topics],
        start,
        end,
        generated_at=now(),
        failing_feeds=db.failing_feeds(),
        clusters=db.cluster_summaries([row.article_id for row in rows]),
        chart=volume_chart(((r.topic, _chart_time(r, start, end)) for r in rows), topics, start, end),
        feeds_total=len(config.enabled_feeds),
        feedback_url=config.settings.report.feedback_url or "",
    )
    html_path, text_path = write_report(built, out_dir)
    log.info("report: %d matches -> %s", built.item_count, html_path)
    return built, html_path, text_path


def report_recent(config: Config, hours: float | None = None, out_dir: Path | None = None) -> tuple[Report, Path, Path]:
    """The report of the last ``hours`` (default ``settings.report.window_hours``) written to
    ``out_dir`` (default ``settings.report.output_dir``). It reads the database as a reader:
    while an ingest writes it, the report is made from its snapshot."""
    start, end = report_window(hours or config.settings.report.window_hours)
    settings = config.settings
    with open_reader(settings.database, create_lock_timeout=settings.lock_timeout) as (db, _):
        return report(config, db, start, end, out_dir or settings.report.output_dir)
