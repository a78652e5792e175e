"""Feed health: which failing feeds a run skips, and how a feed's state is described.

* A feed whose server answered 429/503 with ``Retry-After`` is not fetched before that time.
* A feed is *dead* after ``health.dead_after`` consecutive failures, the latest a 404 or 410;
  it is then fetched only every ``health.dead_recheck_hours`` (a success revives it).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from newswatch.config import HealthSettings
from newswatch.models import FeedHealth
from newswatch.text import format_time

GONE = frozenset({404, 410})


def is_dead(health: FeedHealth, settings: HealthSettings) -> bool:
    """Whether the feed has answered "not found"/"gone" long enough to be called dead."""
    return health.consecutive_failures >= settings.dead_after and health.last_status in GONE


def next_fetch(health: FeedHealth, settings: HealthSettings) -> datetime | None:
    """Earliest time the feed may be fetched again (None: on the next run)."""
    times = [health.retry_after_until] if health.retry_after_until else []
    if is_dead(health, settings) and health.last_fetch_at:
        times.append(health.last_fetch_at + timedelta(hours=settings.dead_recheck_hours))
    return max(times) if times else None


def skip_reason(health: FeedHealth | None, settings: HealthSettings, at: datetime) -> str | None:
    """Why a run at ``at`` should not fetch this feed, or None to fetch it."""
    if health is None:
        return None
    due = next_fetch(health, settings)
    if due is None or due <= at:
        return None
    if is_dead(health, settings):
        return (
            f"dead ({health.last_error}, {health.consecutive_failures} failures in a row);"
            f" next check after {format_time(due)}"
        )
    return f"the server asked us to wait until {format_time(due)} (Retry-After)"


def state(health: FeedHealth | None, settings: HealthSettings, at: datetime) -> str:
    """One word for operators: new, ok, failing, waiting or dead."""
    if health is None or health.last_fetch_at is None:
        return "new"
    if is_dead(health, settings):
        return "dead"
    if health.retry_after_until and health.retry_after_until > at:
        return "waiting"
    return "failing" if health.consecutive_failures else "ok"
