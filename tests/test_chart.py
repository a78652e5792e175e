"""The per-topic volume chart: bucketing over the window and bar geometry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from newswatch.chart import ROW_HEIGHT, bucket_hours, volume_chart

END = datetime(2026, 3, 2, 12, 30, tzinfo=UTC)


def test_bucket_size_keeps_the_chart_readable():
    assert bucket_hours(timedelta(hours=24)) == 1
    assert bucket_hours(timedelta(days=7)) == 3
    assert bucket_hours(timedelta(days=30)) == 12
    assert bucket_hours(timedelta(days=45)) == 24
    assert bucket_hours(timedelta(days=3650)) == 168


def test_counts_land_in_their_hour_and_topic():
    start = END - timedelta(hours=24)
    events = [("CSTO", END - timedelta(minutes=10)), ("CSTO", END - timedelta(minutes=20)),
              ("peace accord", start + timedelta(minutes=40)), ("CSTO", start - timedelta(hours=1)),
              ("unknown topic", END - timedelta(minutes=5))]
    chart = volume_chart(events, ["peace accord", "CSTO"], start, END)
    assert chart.bucket == "per hour" and chart.total == 3 and chart.scale_max == 2
    peace, csto = chart.rows
    assert [(bar.count, bar.label) for bar in csto.bars] == [(2, "02 Mar 12:00")]
    assert [(bar.count, bar.label) for bar in peace.bars] == [(1, "01 Mar 13:00")]  # 13:10 UTC
    assert csto.bars[0].height == ROW_HEIGHT and peace.bars[0].height == ROW_HEIGHT / 2
    assert csto.bars[0].y + csto.bars[0].height == csto.bottom  # bars stand on their row's base line
    assert peace.bottom < csto.top and peace.color != csto.color
    assert peace.bars[0].x < csto.bars[0].x <= chart.right


def test_daily_buckets_start_at_local_midnight():
    tz = ZoneInfo("Asia/Yerevan")
    start = END - timedelta(days=45)
    chart = volume_chart([("CSTO", END)], ["CSTO"], start, END, tz)
    assert chart.bucket == "per day"
    assert chart.x_ticks[0][1] == start.astimezone(tz).strftime("%d %b")
    assert chart.rows[0].bars[0].label == END.astimezone(tz).strftime("%d %b")


def test_empty_window_draws_empty_rows():
    chart = volume_chart([], ["CSTO"], END - timedelta(hours=6), END)
    assert chart.total == 0 and chart.rows[0].bars == () and chart.scale_max == 1
