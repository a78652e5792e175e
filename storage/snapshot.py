"""Readers that never wait for the writer: a read-only snapshot published by each ingest.

DuckDB lets one process write a database file, and then no other process may open it, even
to read. So the writer publishes a copy, ``<database>.snapshot.duckdb``, at the end of every
ingest (and every few minutes during a long one, see ``Database.publish_snapshot``, and as a
writer opens a database that has none yet): it
checkpoints, copies the file beside it and renames the copy over the previous snapshot
(atomic; readers that have the old one open keep reading it). Readers
(``storage.db.open_reader``) open the database itself when no writer holds it, which gives
them everything committed, and the snapshot when one does, which gives them the state at the
last publication.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import duckdb
from filelock import Timeout

from newswatch.errors import StorageError


def snapshot_path(path: Path) -> Path:
    """Where the snapshot of the database at ``path`` is published."""
    return path.with_name(path.name + ".snapshot.duckdb")


def publish(con: duckdb.DuckDBPyConnection, path: Path) -> Path:
    """Checkpoint the writer's database at ``path`` and atomically replace its snapshot with a copy."""
    target = snapshot_path(path)
    partial = target.with_name(target.name + ".partial")
    con.execute("CHECKPOINT")  # everything committed is in the file, the WAL is empty
    # The copy is made by a child process: DuckDB holds the file with a POSIX (fcntl) lock, and
    # closing any descriptor of the file in this process would release it, letting other
    # processes open the database while it is being written.
    # --reflink=auto: on a copy-on-write filesystem (Btrfs, XFS with reflink) the copy shares the file's
    # blocks and costs next to nothing; elsewhere it is a full copy.
    copied = subprocess.run(["cp", "--reflink=auto", "--", str(path), str(partial)],
                            capture_output=True, text=True, check=False)
    try:
        if copied.returncode:
            raise OSError(copied.stderr.strip() or f"cp exited with {copied.returncode}")
        os.replace(partial, target)
    except OSError as err:
        partial.unlink(missing_ok=True)
        raise StorageError(f"cannot publish the read-only snapshot {target}: {err.strerror or err}") from err
    return target


def is_locked(error: StorageError) -> bool:
    """True when ``error`` says another process holds the database: a writer's lock file, or
    DuckDB's lock on the file itself (a writer's, or a reader's for a moment)."""
    if isinstance(error.__context__, Timeout):
        return True
    cause = error.__cause__
    # in the writer's own process DuckDB refuses a second, read-only open of the file instead
    return isinstance(cause, duckdb.Error) and ("lock" in str(cause).lower() or "different configuration" in str(cause))
