"""Synthetic hourly story counts with weekly seasonality, with and without injected bursts,
and the precision/recall of a spike detector over many of them (seeded)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

HOURS_PER_WEEK = 168
# relative volume by weekday (Monday first) and hour: Mondays are the weekly peak (briefings,
# week-opening statements), weekends are quiet, nights are quieter than days
DAY_FACTOR = (2.6, 1.2, 1.1, 1.1, 1.0, 0.5, 0.4)
HOUR_FACTOR = tuple(0.25 if h < 6 else 1.5 if 8 <= h < 18 else 0.8 for h in range(24))


@dataclass(frozen=True)
class History:
    """``weeks`` weeks of hourly counts; a burst of ``burst_size`` extra stories over
    ``burst_hours`` from hour ``burst_start`` (None: no burst)."""

    counts: tuple[int, ...]
    burst_start: int | None
    burst_hours: int


def expected_rate(hour: int, base: float) -> float:
    """Mean stories in hour ``hour`` of the history (hour 0: Monday 00:00)."""
    return base * DAY_FACTOR[(hour // 24) % 7] * HOUR_FACTOR[hour % 24]


def _neg_binomial(rng: random.Random, mean: float, dispersion: float) -> int:
    """Over-dispersed counts (gamma-Poisson), as news volume is."""
    rate = rng.gammavariate(dispersion, mean / dispersion) if mean > 0 else 0.0
    # Poisson by inversion (rates here are small)
    count, p, threshold = 0, 1.0, pow(2.718281828459045, -rate)
    while True:
        p *= rng.random()
        if p <= threshold:
            return count
        count += 1


def history(rng: random.Random, weeks: int, burst: bool, window: int, dispersion: float = 10.0) -> History:
    """One topic's history (hourly rates drawn from a gamma of shape ``dispersion`` around the
    seasonal mean, so smaller is burstier); a burst (3-8 times the window's usual volume, at
    least 10 extra stories, over 2-4 hours) somewhere in the last week when ``burst``."""
    base = rng.uniform(0.3, 2.0)
    hours = weeks * HOURS_PER_WEEK
    counts = [_neg_binomial(rng, expected_rate(h, base), dispersion) for h in range(hours)]
    start, length = None, rng.randint(2, 4)
    if burst:
        start = rng.randrange(hours - HOURS_PER_WEEK, hours - length)
        usual = sum(expected_rate(h, base) for h in range(start, start + window))
        extra = max(10, round(usual * rng.uniform(3, 8)))
        for i in range(extra):
            counts[start + i % length] += 1
    return History(tuple(counts), start, length)


@dataclass(frozen=True)
class Score:
    """Detector results over many histories, counted per alert episode."""

    bursts: int
    detected: int
    alerts: int  # episodes: runs of consecutive flagged hours
    true_alerts: int
    quiet_weeks: int

    @property
    def recall(self) -> float:
        """Bursts alerted on / bursts."""
        return self.detected / self.bursts if self.bursts else 1.0

    @property
    def precision(self) -> float:
        """Alert episodes that overlap a burst / alert episodes."""
        return self.true_alerts / self.alerts if self.alerts else 1.0

    @property
    def false_per_week(self) -> float:
        """False alert episodes per topic-week evaluated."""
        return (self.alerts - self.true_alerts) / self.quiet_weeks

    def __str__(self) -> str:
        return (f"precision {self.precision:.3f}, recall {self.recall:.3f} ({self.detected}/{self.bursts} bursts),"
                f" {self.alerts - self.true_alerts} false alerts in {self.quiet_weeks} topic-weeks")


Detector = Callable[[Sequence[int], int], bool]  # (hourly counts, window end hour) -> alert?


def evaluate(detector: Detector, histories: Sequence[History], window: int) -> Score:
    """Run ``detector`` at every hour of each history's last week, as the ingest would."""
    bursts = detected = alerts = true_alerts = 0
    for h in histories:
        end_hours = range(len(h.counts) - HOURS_PER_WEEK + window, len(h.counts) + 1)
        flags = [detector(h.counts, end) for end in end_hours]
        burst = set(range(h.burst_start, h.burst_start + h.burst_hours)) if h.burst_start is not None else set()
        bursts += bool(burst)
        hit = False
        previous = False
        for end, flag in zip(end_hours, flags, strict=True):
            if flag and not previous:
                alerts += 1
                episode_true = False
            if flag:
                overlaps = bool(burst & set(range(end - window, end)))
                if overlaps and not episode_true:
                    episode_true = True
                    true_alerts += 1
                hit = hit or overlaps
            previous = flag
        detected += hit
    return Score(bursts, detected, alerts, true_alerts, len(histories))
