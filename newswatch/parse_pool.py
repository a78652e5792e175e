"""Processes that parse fetched pages and feeds, so that parsing uses every CPU core.

Fetching stays in threads (it waits on the network); parsing holds the GIL, so it is sent to
worker processes. A pool is created on first use and shared by every batch and thread of the
process (:func:`shared_pool`); it is shut down at interpreter exit. Workers are started by a
forkserver that has already imported :mod:`newswatch.pages` and :mod:`newswatch.feeds` (never
forked from the threaded caller), so they start warm.

A worker that dies (a page that crashes the parser, the OOM killer) breaks the whole pool: it
is replaced, and every page that was in flight is parsed again in a process of its own, so
only a page that kills that process too is lost (FetchError: the article keeps its summary).
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from typing import TypeVar

from newswatch.errors import FetchError
from newswatch.feeds import parse_feed
from newswatch.lifeline import exit_with
from newswatch.pages import Parse, ParsedPage, parse_page

F = TypeVar("F", bound=Callable)
T = TypeVar("T")


def _executor(workers: int) -> ProcessPoolExecutor:
    context = multiprocessing.get_context("forkserver")
    # imported by the forkserver when it starts, so that every worker starts warm
    context.set_forkserver_preload([parse_page.__module__, parse_feed.__module__])
    # a worker never outlives this process, even when it is killed with kill -9
    return ProcessPoolExecutor(workers, mp_context=context, initializer=exit_with, initargs=(os.getpid(),))


class ParsePool:
    """``workers`` processes running ``parse``; callable like it, from any number of threads."""

    def __init__(self, workers: int, parse: Parse = parse_page):
        self.workers = workers
        self._parse = parse
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._alone = threading.BoundedSemaphore(workers)  # pages retried alone at a time

    def __call__(self, content: bytes, url: str, title: str, language_hint: str | None) -> ParsedPage:
        """Parse one page in a worker process; FetchError as ``parse`` raises it, or if it kills two."""
        return self.run(self._parse, content, url, title, language_hint,
                        crashed="extraction failed: the page crashed the parser process")

    def run(self, function: Callable[..., T], *args, crashed: str = "parsing failed: the input crashed the parser process") -> T:
        """``function(*args)`` (a module-level function) in a worker process; its exceptions are
        raised here, and FetchError(``crashed``) if the call kills a worker twice."""
        executor = self._running()
        try:
            return executor.submit(function, *args).result()
        except BrokenProcessPool:
            self._discard(executor)
        with self._alone, _executor(1) as alone:
            try:
                return alone.submit(function, *args).result()
            except BrokenProcessPool as err:
                raise FetchError(crashed) from err

    def _running(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = _executor(self.workers)
            return self._executor

    def _discard(self, broken: ProcessPoolExecutor) -> None:
        """Forget a broken executor (once, whichever thread sees it first)."""
        with self._lock:
            if self._executor is broken:
                self._executor = None
        broken.shutdown(wait=False)

    def shutdown(self) -> None:
        """Stop the worker processes (a later call starts new ones)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


_shared: dict[int, ParsePool] = {}
_shared_lock = threading.Lock()


def _processes(workers: int) -> int:
    return workers or os.cpu_count() or 1


def shared_pool(workers: int) -> ParsePool:
    """The process-wide pool of ``workers`` processes (0: one per CPU core)."""
    workers = _processes(workers)
    with _shared_lock:
        if workers not in _shared:
            _shared[workers] = ParsePool(workers)
        return _shared[workers]


def in_pool(workers: int, function: F) -> F:
    """``function`` (module-level) as is (``workers`` 1) or run in :func:`shared_pool`."""
    if _processes(workers) == 1:
        return function
    return partial(shared_pool(workers).run, function)  # type: ignore[return-value]


def parser(workers: int) -> Parse:
    """:func:`newswatch.pages.parse_page`, in this process (``workers`` 1) or in :func:`shared_pool`."""
    return parse_page if _processes(workers) == 1 else shared_pool(workers)


@atexit.register
def _shutdown_shared() -> None:
    for pool in _shared.values():
        pool.shutdown()
