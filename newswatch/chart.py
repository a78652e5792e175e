"""Per-topic volume over time, as geometry for the inline SVG chart in ``_chart.svg.j2``.

One row of bars per topic ("small multiples") on a shared time axis and a shared scale, so
topics with the same counts never hide each other as overlapping lines would.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

# Distinct on white and for common colour-vision deficiencies (Okabe-Ito order, darkened).
PALETTE = ("#0b5fa5", "#d55e00", "#009e73", "#cc79a7", "#7a5c00", "#56b4e9", "#555555", "#e69f00")
BUCKET_HOURS = (1, 2, 3, 6, 12, 24, 48, 168)
MAX_BUCKETS = 60
WIDTH = 720
LABEL_WIDTH, MARGIN_RIGHT, MARGIN_TOP, AXIS_HEIGHT = 170, 8, 8, 24
ROW_HEIGHT, ROW_GAP = 44, 10


@dataclass(frozen=True, slots=True)
class ChartBar:
    """One bucket of one topic: its rectangle, count and the bucket's start (for the tooltip)."""

    x: float
    y: float
    width: float
    height: float
    count: int
    label: str


@dataclass(frozen=True, slots=True)
class ChartRow:
    """One topic's row of bars; ``top``/``bottom`` bound the bars, the label sits at the left."""

    name: str
    color: str
    total: int
    peak: int
    top: float
    bottom: float
    bars: tuple[ChartBar, ...]


@dataclass(frozen=True, slots=True)
class VolumeChart:
    """Everything the SVG template draws; coordinates are in SVG user units."""

    width: int
    height: int
    left: float
    right: float
    bucket: str
    scale_max: int
    rows: tuple[ChartRow, ...]
    x_ticks: tuple[tuple[float, str], ...]

    @property
    def total(self) -> int:
        """Events counted over all topics."""
        return sum(row.total for row in self.rows)

    @property
    def axis_y(self) -> float:
        """Where the time axis is drawn."""
        return self.rows[-1].bottom if self.rows else MARGIN_TOP


def bucket_hours(span: timedelta) -> int:
    """The smallest bucket size (hours) that keeps the chart to ``MAX_BUCKETS`` bars per row."""
    hours = span.total_seconds() / 3600
    return next((size for size in BUCKET_HOURS if hours / size <= MAX_BUCKETS), BUCKET_HOURS[-1])


def bucket_origin(start: datetime, hours: int, tz: tzinfo) -> datetime:
    """``start`` rounded down to a whole bucket in ``tz`` (hour multiple, or midnight)."""
    local = start.astimezone(tz).replace(minute=0, second=0, microsecond=0)
    return local.replace(hour=local.hour - local.hour % hours if hours < 24 else 0)


def volume_chart(
    events: Iterable[tuple[str, datetime]],
    topics: Sequence[str],
    start: datetime,
    end: datetime,
    tz: tzinfo = UTC,
) -> VolumeChart:
    """Count (topic, time) events per time bucket between ``start`` and ``end``, per topic."""
    hours = bucket_hours(end - start)
    size = timedelta(hours=hours)
    start = bucket_origin(start, hours, tz)
    count = max(1, math.ceil((end - start) / size))
    counts = {topic: [0] * count for topic in topics}
    for topic, moment in events:
        index = math.floor((moment - start) / size)
        if topic in counts and 0 <= index < count:
            counts[topic][index] += 1
    scale_max = max((max(values) for values in counts.values()), default=0) or 1
    left, right = LABEL_WIDTH, WIDTH - MARGIN_RIGHT
    step = (right - left) / count
    label_format = "%d %b" if hours >= 24 else "%d %b %H:%M"
    labels = [(start + i * size).astimezone(tz).strftime(label_format) for i in range(count)]
    rows = []
    for number, (topic, values) in enumerate(counts.items()):
        top = MARGIN_TOP + number * (ROW_HEIGHT + ROW_GAP)
        bottom = top + ROW_HEIGHT
        bars = tuple(
            ChartBar(left + i * step + step * 0.1, bottom - ROW_HEIGHT * n / scale_max, step * 0.8,
                     ROW_HEIGHT * n / scale_max, n, labels[i])
            for i, n in enumerate(values)
            if n
        )
        rows.append(ChartRow(topic, PALETTE[number % len(PALETTE)], sum(values), max(values), top, bottom, bars))
    every = max(1, math.ceil(count / 6))
    x_ticks = tuple((left + (i + 0.5) * step, labels[i]) for i in range(0, count, every))
    height = int((rows[-1].bottom if rows else MARGIN_TOP) + AXIS_HEIGHT)
    bucket = {1: "per hour", 24: "per day", 168: "per week"}.get(hours, f"per {hours} hours")
    return VolumeChart(WIDTH, height, left, right, bucket, scale_max, tuple(rows), x_ticks)
