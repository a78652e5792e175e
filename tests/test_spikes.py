"""Spike detection: the seasonal detector on synthetic histories (seeded), against a naive one
that ignores the week; and a spike alert end to end from a real DuckDB file to a webhook."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from alert_helpers import alert_config, alert_entry
from spike_histories import HOURS_PER_WEEK, History, evaluate, expected_rate, history

from newswatch.alert_config import SpikeSettings
from newswatch.models import FeedFetch, FeedItem, TopicMatch
from newswatch.spikes import judge
from storage.db import open_database

SETTINGS = SpikeSettings()
WINDOW = SETTINGS.window_hours
WEEKS = 9  # 8 weeks of baseline, then the week evaluated


def seasonal(counts, end: int) -> bool:
    """The shipped detector on hourly counts: the window ending at ``end`` against the same
    window in each earlier week."""
    def total(stop: int) -> int:
        return sum(counts[stop - WINDOW : stop])

    baseline = [total(end - k * HOURS_PER_WEEK) for k in range(1, SETTINGS.weeks + 1) if end - k * HOURS_PER_WEEK >= WINDOW]
    return judge(total(end), baseline, SETTINGS).spike


def naive(counts, end: int) -> bool:
    """The same rule with a non-seasonal baseline: the previous eight windows right before."""
    baseline = [sum(counts[end - (k + 1) * WINDOW : end - k * WINDOW]) for k in range(1, 9)]
    return judge(sum(counts[end - WINDOW : end]), baseline, SETTINGS).spike


def histories(seed: int, n: int, dispersion: float = 10.0) -> list[History]:
    """``n`` histories, every other one with a burst in its last week."""
    rng = random.Random(seed)
    return [history(rng, WEEKS, burst=i % 2 == 0, window=WINDOW, dispersion=dispersion) for i in range(n)]


MONDAY_NOON = (WEEKS - 1) * HOURS_PER_WEEK + 12  # window end: Monday 12:00 of the last week


def test_normal_monday_is_no_spike_but_a_burst_is():
    usual = [round(expected_rate(hour, base=1.5)) for hour in range(WEEKS * HOURS_PER_WEEK)]
    monday, sunday = (sum(usual[end - WINDOW : end]) for end in (MONDAY_NOON, MONDAY_NOON - 24))
    assert monday > 4 * sunday  # the weekly peak
    assert not seasonal(usual, MONDAY_NOON)
    assert naive(usual, MONDAY_NOON)  # what a baseline blind to the week says
    burst = list(usual)
    for hour in range(MONDAY_NOON - 3, MONDAY_NOON):
        burst[hour] += 12  # 36 extra stories in three hours, on top of the Monday peak
    assert seasonal(burst, MONDAY_NOON)


def test_no_noisy_history_alerts_on_its_normal_monday():
    rng = random.Random(11)
    quiet = [history(rng, WEEKS, burst=False, window=WINDOW) for _ in range(100)]
    assert sum(seasonal(h.counts, MONDAY_NOON) for h in quiet) == 0
    assert sum(naive(h.counts, MONDAY_NOON) for h in quiet) > 30


def test_too_little_history_never_alerts():
    assert not judge(50, [1, 2], SETTINGS).spike  # 2 weeks < min_weeks
    assert judge(50, [1, 2, 1], SETTINGS).spike
    assert not judge(4, [0, 0, 0], SETTINGS).spike  # under min_stories


def test_precision_and_recall_on_synthetic_histories(capsys):
    sample = histories(seed=2025, n=400)
    score = evaluate(seasonal, sample, WINDOW)
    blind = evaluate(naive, sample, WINDOW)
    bursty = evaluate(seasonal, histories(seed=2025, n=400, dispersion=4.0), WINDOW)
    with capsys.disabled():
        print(f"\nspike detector, 400 synthetic histories (seed 2025, {WEEKS} weeks, half with a burst in the"
              f" last week, evaluated every hour of it):\n  seasonal (shipped): {score}"
              f"\n  naive (previous 48 h): {blind}\n  seasonal, twice as bursty a background: {bursty}")
    assert score.precision >= 0.95 and score.recall >= 0.9
    assert blind.precision < 0.5  # the weekly peaks fool it; the seasonal baseline is what helps
    assert bursty.recall >= 0.9 and bursty.precision >= 0.7


# -- end to end --------------------------------------------------------------------------

AT = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)  # a Monday


def store_history(db, per_week: list[int], now_count: int) -> None:
    """Articles matched for CSTO in the six hours before ``AT`` of earlier weeks (``per_week``
    stories, most recent week first) and of this week (``now_count``), through the storage API."""
    items, times = [], {}
    for week, count in enumerate([now_count, *per_week]):
        for i in range(count):
            published = AT - timedelta(weeks=week, minutes=10 + (20 * i) % 340)
            item_id = f"w{week}-{i}"
            items.append(FeedItem(item_id, "Daily", f"https://example.org/{item_id}", f"https://example.org/{item_id}",
                                  f"CSTO story {week}-{i}", "CSTO news", published))
            times[item_id] = published
    db.sync_feeds([("Daily", "https://example.org/feed.xml")])
    db.record_feed_fetch(FeedFetch("Daily", "https://example.org/feed.xml", 200, tuple(items)), "en")
    db.store_matches("synthetic", {i.id: [TopicMatch("CSTO", 3.0 + (i.id == "w0-0"), ("CSTO",))] for i in items})
    # the history was watched from its first week on (articles are found when they are published)
    with db.transaction() as con:
        con.execute("UPDATE articles SET discovered_at = published_at")


@pytest.mark.parametrize(("now_count", "alerted"), [(3, False), (16, True)])
def test_spike_alert_end_to_end(site, tmp_path, hook, now_count, alerted):
    from digest_helpers import Newsroom

    room = Newsroom(site, tmp_path)
    config = alert_config(room, [{"name": "hook", "url_env": "NW_TEST_HOOK_URL"}],
                          [alert_entry(topics=["CSTO"], stories=False, spikes=True)])
    with open_database(config.settings.database) as db:
        store_history(db, [2, 3, 2, 4, 3, 2], now_count)  # the 6th week is partly watched: left out
        from newswatch.alerts import run_alerts

        run = run_alerts(config, db, at=AT)
        again = run_alerts(config, db, at=AT + timedelta(hours=1))  # the same burst, an hour on
    assert [o.spikes for o in run.outcomes] == [int(alerted)] and again.outcomes[0].spikes == 0
    assert len(hook.hits) == int(alerted)
    if alerted:
        message = hook.hits[0].json
        assert message["title"] == "[newswatch] spike: CSTO"
        assert message["message"].startswith(
            "CSTO: 16 stories in the 6 hours to 2025-06-02 12:00 UTC, usually 3 at this time of the week"
            " (5-week median of the same hours; 4.4 robust deviations above it).\nTop stories:\n- CSTO story 0-0 (Daily)"
        )
        assert message["message"].count("\n- ") == SETTINGS.examples
