"""Politeness towards the sites we fetch: per-host concurrency, a minimum delay, robots.txt.

State is per process and shared by every client and thread in it, so limits hold across the
concurrent feed and page fetches of one run (and across runs of a long-lived ``serve``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain, zip_longest
from typing import TypeVar
from urllib.parse import urlsplit

from protego import Protego

T = TypeVar("T")
ROBOTS_TTL = 3600.0  # seconds a robots.txt answer is reused (RFC 9309 allows up to 24 h)
ROBOTS_MAX_BYTES = 500 * 1024  # RFC 9309: parse at least the first 500 KiB


class HostGate:
    """At most ``concurrency`` requests in flight, started at least ``delay`` seconds apart."""

    def __init__(self, concurrency: int, delay: float):
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._delay = delay
        self._next_start = 0.0

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one request slot, waiting for a free slot and for the delay to pass."""
        with self._slots:
            with self._lock:
                now = time.monotonic()
                start = max(now, self._next_start)
                self._next_start = start + self._delay
            if start > now:
                time.sleep(start - now)
            yield


_gates: dict[tuple[str, int, float], HostGate] = {}
_gates_lock = threading.Lock()


@contextmanager
def host_slot(host: str, concurrency: int, delay: float) -> Iterator[None]:
    """Hold a request slot for ``host`` (see :class:`HostGate`)."""
    key = (host.lower(), concurrency, delay)
    with _gates_lock:
        gate = _gates.setdefault(key, HostGate(concurrency, delay))
    with gate.slot():
        yield


def spread_hosts(items: Sequence[T], url: Callable[[T], str]) -> list[T]:
    """``items`` taken round-robin across their hosts (in order within a host), so that any
    slice of the result mixes many sites and per-host limits do not serialise it."""
    by_host: dict[str, list[T]] = {}
    for item in items:
        by_host.setdefault((urlsplit(url(item)).hostname or "").lower(), []).append(item)
    gap = object()
    return [item for item in chain.from_iterable(zip_longest(*by_host.values(), fillvalue=gap)) if item is not gap]


@dataclass(frozen=True, slots=True)
class _Robots:
    rules: Protego | None  # None: no usable rules
    allow_all: bool
    expires: float


_robots: dict[str, _Robots] = {}
_robots_locks: dict[str, threading.Lock] = {}
_robots_lock = threading.Lock()

RobotsLoader = Callable[[str], tuple[int | None, bytes]]


def robots_allowed(origin: str, url: str, user_agent: str, load: RobotsLoader) -> bool:
    """Whether robots.txt of ``origin`` (``scheme://host[:port]``) lets ``user_agent`` fetch ``url``.

    ``load(robots_url)`` returns (status, body), status None when the server was unreachable.
    Following RFC 9309: a 4xx answer allows everything, a 5xx or unreachable server disallows
    everything (until the answer expires), a 2xx body is parsed.
    """
    with _robots_lock:
        lock = _robots_locks.setdefault(origin, threading.Lock())
    with lock:  # one download per origin, other threads wait for it
        entry = _robots.get(origin)
        if entry is None or entry.expires < time.monotonic():
            entry = _load_robots(origin, load)
            _robots[origin] = entry
    if entry.rules is None:
        return entry.allow_all
    return entry.rules.can_fetch(url, user_agent)


def _load_robots(origin: str, load: RobotsLoader) -> _Robots:
    status, body = load(origin + "/robots.txt")
    expires = time.monotonic() + ROBOTS_TTL
    if status is not None and 200 <= status < 300:
        text = body[:ROBOTS_MAX_BYTES].decode("utf-8", errors="replace")
        return _Robots(Protego.parse(text), True, expires)
    return _Robots(None, status is not None and 400 <= status < 500, expires)


def reset() -> None:
    """Forget robots.txt answers and host gates (a fresh start, e.g. between tests)."""
    with _robots_lock:
        _robots.clear()
        _robots_locks.clear()
    with _gates_lock:
        _gates.clear()
