"""Processes that parse fetched pages and feeds, so that parsing uses every CPU core.

Fetching stays in threads (it waits on the network); parsing holds the GIL, so it is sent to
worker processes. A pool is created on first use and shared by every batch and thread of the
process (:func:`shared_pool`); it is shut down at interpreter exit. Workers are started by a
forkserver that has already imported the parsers (:mod:`newswatch.page_parse`, :mod:`newswatch.feed_parse`; never
forked from the threaded caller), so they start warm, and import nothing else
(:mod:`newswatch.parser_process`).

A worker that dies (a page that crashes the parser, the OOM killer) breaks the whole pool: it
is replaced, and every page that was in flight is parsed again in a process of its own, so
only a page that kills that process too is lost (FetchError: the article keeps its summary).
Every call is bounded in time and memory (:class:`ParseLimits`): a page that takes longer
than ``settings.extract.parse_timeout`` has its worker killed and costs only itself.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import resource
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from newswatch.errors import FetchError
from newswatch.lifeline import exit_with
from newswatch.page_parse import Parse, ParsedPage, parse_page

if TYPE_CHECKING:  # workers import this module (their initializer): not the configuration's validation
    from newswatch.config import ExtractSettings

F = TypeVar("F", bound=Callable)
PARSER_PROCESS = "newswatch.parser_process"  # what the forkserver imports (never this process)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """What one parse may cost in a worker process: wall-clock ``seconds`` and ``memory_mb`` of
    address space beyond what the worker holds when it starts (``settings.extract``)."""

    seconds: float = 30.0
    memory_mb: int = 2048

    @classmethod
    def of(cls, settings: ExtractSettings) -> ParseLimits:
        """The limits configured in ``settings.extract``."""
        return cls(settings.parse_timeout, settings.parse_memory_mb)


def _limit_memory(memory_mb: int) -> None:
    """Worker initializer: cap the process's address space at its current size + ``memory_mb``,
    so that a page needing more gets a MemoryError (or the worker dies) instead of the machine
    swapping or the OOM killer choosing a victim."""
    with open("/proc/self/status", encoding="ascii") as status:
        size_kb = next((int(line.split()[1]) for line in status if line.startswith("VmSize:")), 0)
    limit = (size_kb * 1024) + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))


def _executor(workers: int, limits: ParseLimits) -> ProcessPoolExecutor:
    context = multiprocessing.get_context("forkserver")
    # imported by the forkserver when it starts: the parsers, so that every worker starts warm,
    # and workers that do not import this process's main module (Prefect, the CLI)
    context.set_forkserver_preload([PARSER_PROCESS])
    executor = ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(os.getpid(), limits.memory_mb)
    )
    executor.submit(int).result()  # the forkserver and a worker are up before any call is timed
    return executor


def _start_worker(parent: int, memory_mb: int) -> None:
    """Worker initializer: a worker never outlives this process, even when it is killed with
    kill -9, and never takes more than ``memory_mb`` beyond its size at start."""
    exit_with(parent)
    _limit_memory(memory_mb)


def _kill(executor: ProcessPoolExecutor) -> None:
    """Stop an executor whose worker overran its time limit: its processes are killed (the
    others' calls then see BrokenProcessPool and are run again alone)."""
    for process in list((executor._processes or {}).values()):  # no public way to reach them
        process.kill()
    executor.shutdown(wait=False, cancel_futures=True)


class ParsePool:
    """``workers`` processes running ``parse``; callable like it, from any number of threads.

    Each call is bounded by ``limits``: one that runs longer than ``limits.seconds`` has its
    worker killed (the pool is replaced) and raises FetchError; a worker's address space is
    capped at ``limits.memory_mb`` beyond its size at start. At most ``workers`` calls are in
    the executor at a time, so that the time limit counts parsing, not waiting.
    """

    def __init__(self, workers: int, parse: Parse = parse_page, limits: ParseLimits = ParseLimits()):
        self.workers = workers
        self.limits = limits
        self._parse = parse
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._slots = threading.BoundedSemaphore(workers)  # calls in the executor at a time
        self._alone = threading.BoundedSemaphore(workers)  # pages retried alone at a time

    def __call__(
        self, content: bytes, url: str, title: str, language_hint: str | None, timezone_name: str | None = None
    ) -> ParsedPage:
        """Parse one page in a worker process; FetchError as ``parse`` raises it, or if it kills two."""
        return self.run(self._parse, content, url, title, language_hint, timezone_name,
                        crashed="extraction failed: the page crashed the parser process")

    def run(self, function: Callable[..., T], *args, crashed: str = "parsing failed: the input crashed the parser process") -> T:
        """``function(*args)`` (a module-level function) in a worker process; its exceptions are
        raised here, FetchError(``crashed``) if the call kills a worker twice, and FetchError if
        it takes longer than ``limits.seconds``."""
        with self._slots:
            executor = self._running()
            try:
                return self._bounded(executor, function, args)
            except BrokenProcessPool:
                self._discard(executor)
        with self._alone:
            alone = _executor(1, self.limits)
            try:
                return self._bounded(alone, function, args)
            except BrokenProcessPool as err:
                raise FetchError(crashed) from err
            finally:
                alone.shutdown(wait=False)

    def _bounded(self, executor: ProcessPoolExecutor, function: Callable[..., T], args: tuple) -> T:
        try:
            future = executor.submit(function, *args)
        except (RuntimeError, OSError) as err:
            # another thread's call broke the executor, and it is being shut down: submit refuses
            # (RuntimeError) or fails to start a worker on its closed queues (OSError)
            raise BrokenProcessPool(f"the parser pool was stopped: {err}") from err
        try:
            return future.result(timeout=self.limits.seconds)
        except MemoryError:
            raise FetchError(
                f"parsing needed more than {self.limits.memory_mb} MB (settings.extract.parse_memory_mb)"
            ) from None
        except TimeoutError:
            with self._lock:
                if self._executor is executor:
                    self._executor = None
            _kill(executor)
            raise FetchError(
                f"parsing took longer than {self.limits.seconds:g}s (settings.extract.parse_timeout):"
                " the parser process was stopped"
            ) from None

    def _running(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = _executor(self.workers, self.limits)
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


_shared: dict[tuple[int, ParseLimits], ParsePool] = {}
_shared_lock = threading.Lock()


def _processes(workers: int) -> int:
    return workers or os.cpu_count() or 1


def shared_pool(workers: int, limits: ParseLimits = ParseLimits()) -> ParsePool:
    """The process-wide pool of ``workers`` processes (0: one per CPU core) with ``limits``."""
    key = (_processes(workers), limits)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = ParsePool(key[0], limits=limits)
        return _shared[key]


def in_pool(workers: int, function: F, limits: ParseLimits = ParseLimits()) -> F:
    """``function`` (module-level) as is (``workers`` 1) or run in :func:`shared_pool` (``workers``
    0 always is, even on one core, so that its limits apply)."""
    if workers == 1:
        return function
    return partial(shared_pool(workers, limits).run, function)  # type: ignore[return-value]


def parser(workers: int, limits: ParseLimits = ParseLimits()) -> Parse:
    """:func:`newswatch.page_parse.parse_page`, in this process (``workers`` 1: no time or memory
    limit) or in :func:`shared_pool` (``workers`` 0: one process per core)."""
    return parse_page if workers == 1 else shared_pool(workers, limits)


@atexit.register
def _shutdown_shared() -> None:
    for pool in _shared.values():
        pool.shutdown()
