"""Readers that never wait for the writer: a read-only snapshot published by each ingest.

DuckDB lets one process write a database file, and then no other process may open it, even
to read. So the writer publishes a copy, ``<database>.snapshot.duckdb``, at the end of every
ingest (and every :data:`SNAPSHOT_INTERVAL` seconds during a long one): it checkpoints, copies
the file beside it and renames the copy over the previous snapshot (atomic; readers that have
the old one open keep reading it). Readers (:func:`open_reader`) open the database itself when
no writer holds it, which gives them everything committed, and the snapshot when one does,
which gives them the state at the end of the last ingest (or the last publication in this one).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from filelock import Timeout

from storage.db import Database, StorageError, open_database

SNAPSHOT_INTERVAL = 300.0  # seconds between publications during one long ingest


def snapshot_path(path: Path) -> Path:
    """Where the snapshot of the database at ``path`` is published."""
    return path.with_name(path.name + ".snapshot.duckdb")


def publish(db: Database) -> Path:
    """Checkpoint the writer's database and atomically replace its snapshot with a copy."""
    assert db.path is not None
    target = snapshot_path(db.path)
    partial = target.with_name(target.name + ".partial")
    db.con.execute("CHECKPOINT")  # everything committed is in the file, the WAL is empty
    try:
        shutil.copyfile(db.path, partial)
        os.replace(partial, target)
    except OSError as err:
        partial.unlink(missing_ok=True)
        raise StorageError(f"cannot publish the read-only snapshot {target}: {err.strerror or err}") from err
    return target


class Publisher:
    """Publishes the snapshot at most every ``interval`` seconds (and always when told to)."""

    def __init__(self, db: Database, interval: float = SNAPSHOT_INTERVAL):
        self.db = db
        self.interval = interval
        self.last = time.monotonic()

    def maybe(self) -> bool:
        """Publish if the last publication is older than the interval; True if it did."""
        if time.monotonic() - self.last < self.interval:
            return False
        self.now()
        return True

    def now(self) -> Path:
        """Publish now."""
        path = publish(self.db)
        self.last = time.monotonic()
        return path


@dataclass(frozen=True, slots=True)
class Freshness:
    """What a reader sees: the database itself, or the snapshot published at ``as_of``."""

    snapshot: bool
    as_of: datetime | None = None

    def describe(self) -> str:
        """One line for people: where the data comes from and how old it may be."""
        if not self.snapshot:
            return "live data"
        when = f"{self.as_of:%Y-%m-%d %H:%M UTC}" if self.as_of else "an earlier run"
        return f"an ingest is running: showing the snapshot of {when}"


def is_locked(error: StorageError) -> bool:
    """True when ``error`` says another process holds the database: a writer's lock file, or
    DuckDB's lock on the file itself (a writer's, or a reader's for a moment)."""
    if isinstance(error.__context__, Timeout):
        return True
    cause = error.__cause__
    # in the writer's own process DuckDB refuses a second, read-only open of the file instead
    return isinstance(cause, duckdb.Error) and ("lock" in str(cause).lower() or "different configuration" in str(cause))


@contextmanager
def open_reader(path: Path, create_lock_timeout: float | None = None) -> Iterator[tuple[Database, Freshness]]:
    """Open the database read-only, or its snapshot while a writer holds it.

    With ``create_lock_timeout``, a database that does not exist yet or needs a migration is
    first created or upgraded by a writer (waiting up to that long for another writer).
    """
    if create_lock_timeout is not None and _needs_writer(path):
        with open_database(path, lock_timeout=create_lock_timeout):
            pass
    elif not path.exists() and not snapshot_path(path).exists():
        raise StorageError(f"no database at {path} yet: run `newswatch ingest` (or `run`) first")
    with ExitStack() as stack:
        try:
            db = stack.enter_context(open_database(path, read_only=True))
            freshness = Freshness(False)
        except StorageError as error:
            snapshot = snapshot_path(path)
            if not is_locked(error):
                raise
            if not snapshot.exists():
                raise StorageError(
                    f"{path} is being written by a newswatch run and has no read-only snapshot yet"
                    " (the first ingest publishes one when it ends); try again then"
                ) from error
            db = stack.enter_context(open_database(snapshot, read_only=True))
            freshness = Freshness(True, datetime.fromtimestamp(snapshot.stat().st_mtime, UTC))
        yield db, freshness


def _needs_writer(path: Path) -> bool:
    if not path.exists():
        return True
    try:
        with open_database(path, read_only=True) as db:
            return bool(db.pending_migrations())
    except StorageError as error:
        if is_locked(error):
            return False  # a writer has it open, and migrates it
        raise
