"""Spike detection: is a topic's story count in the last hours far above its usual level?

The usual level is seasonal: the count in the same hours of the week in each of the previous
``weeks`` weeks (so a busy Monday morning is compared with earlier Monday mornings, not with
Sunday night); weeks that newswatch was not yet watching are left out. Counts are put on a
variance-stabilised scale (Anscombe: 2·sqrt(x + 3/8), where Poisson noise has a standard
deviation of about 1 whatever the level), and the window is compared with the median of its
baseline, in units of the baseline's robust spread (MAD × 1.4826, never below the Poisson
noise of 1). A spike is a window with at least ``min_stories`` stories that lies ``threshold``
or more such units above the median, with at least ``min_weeks`` weeks of baseline.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from newswatch.alert_config import SpikeSettings
from newswatch.render import StoryItem, clusters_by_article, collapse_stories
from storage.db import Database

WEEK = timedelta(days=7)


def key_prefix(topic: str) -> str:
    """What the ledger keys of ``topic``'s spikes start with."""
    return f"spike:{topic}:"
MAD_TO_SD = 1.4826


@dataclass(frozen=True, slots=True)
class Verdict:
    """The test of one window's count against its seasonal baseline."""

    observed: int
    expected: float  # median of the baseline
    z: float  # robust deviations above it, on the variance-stabilised scale
    weeks: int  # baseline windows available
    spike: bool


def judge(observed: int, baseline: Sequence[int], settings: SpikeSettings) -> Verdict:
    """Whether ``observed`` stories are a spike against ``baseline`` (counts of the same
    window in previous weeks); never one with fewer than ``min_weeks`` of them."""
    if not baseline:
        return Verdict(observed, 0.0, 1.0, 0, False)
    stable = [anscombe(count) for count in baseline]
    centre = statistics.median(stable)
    spread = max(MAD_TO_SD * statistics.median(abs(value - centre) for value in stable), 1.0)
    z = (anscombe(observed) - centre) / spread
    spike = len(baseline) >= settings.min_weeks and observed >= settings.min_stories and z >= settings.threshold
    return Verdict(observed, statistics.median(baseline), z, len(baseline), spike)


def anscombe(count: float) -> float:
    """2·sqrt(count + 3/8): Poisson counts of any mean get a standard deviation of about 1."""
    return 2.0 * math.sqrt(count + 0.375)


@dataclass(frozen=True, slots=True)
class Spike:
    """A topic whose volume in ``[window_end - window_hours, window_end)`` is a spike."""

    topic: str
    window_end: datetime
    window_hours: int
    verdict: Verdict
    stories: tuple[StoryItem, ...]  # the window's best stories

    @property
    def observed(self) -> int:
        """Stories in the window."""
        return self.verdict.observed

    @property
    def key(self) -> str:
        """The spike's ledger key: topic and the hour the window ends in."""
        return f"{key_prefix(self.topic)}{self.window_end:%Y-%m-%dT%H}"


def baseline_windows(at: datetime, settings: SpikeSettings, watched_since: datetime) -> list[tuple[datetime, datetime]]:
    """The current window, then the same window 1..``weeks`` weeks back that were watched."""
    length = timedelta(hours=settings.window_hours)
    windows = [(at - length - k * WEEK, at - k * WEEK) for k in range(settings.weeks + 1)]
    return [windows[0]] + [window for window in windows[1:] if window[0] >= watched_since]


def detect(db: Database, topic: str, at: datetime, settings: SpikeSettings) -> Spike | None:
    """The spike of ``topic`` in the window ending at ``at``, or None."""
    watched_since = db.watched_since()
    if watched_since is None:
        return None
    windows = baseline_windows(at, settings, watched_since)
    observed, *baseline = db.topic_story_counts(topic, windows)
    verdict = judge(observed, baseline, settings)
    if not verdict.spike:
        return None
    start, end = windows[0]
    rows = db.topic_window_matches(topic, start, end)
    cluster_of = clusters_by_article(db.cluster_summaries(sorted({row.article_id for row in rows})))
    stories = collapse_stories(rows, cluster_of)[: settings.examples]
    return Spike(topic, end, settings.window_hours, verdict, stories)
