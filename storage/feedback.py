"""Relevance feedback: stored in DuckDB (table ``feedback``), never lost while a run writes.

Feedback is given while ingests run, and then nobody else may write the database. So
:func:`record` stores it directly when the database is free, and otherwise appends it to a
queue file beside the database (``<database>.feedback-queue.jsonl``, flushed to disk before it
returns). Every writer that opens the database afterwards (the next ingest, or the next
feedback) moves the queue into the table first (:func:`drain_queue`); rows are keyed by (kind,
topic, article), so moving the same entry twice (after a crash) stores it once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock

from newswatch.dedupe import article_id as url_article_id
from storage.bulk import rows_relation
from storage.db import Database, StorageError, open_database
from storage.snapshot import is_locked, open_reader

KINDS = ("not_relevant", "missed")
_COLUMNS = (
    ("kind", "VARCHAR"), ("topic", "VARCHAR"), ("article_id", "VARCHAR"), ("url", "VARCHAR"), ("note", "VARCHAR"),
    ("source", "VARCHAR"), ("created_at", "TIMESTAMPTZ"),
)
_WRITE_WAIT = 2.0  # seconds feedback waits for the database before it is queued


@dataclass(frozen=True, slots=True)
class Feedback:
    """One verdict: ``kind`` is not_relevant (a match that should not be) or missed (an article that should)."""

    kind: str
    topic: str
    article_id: str
    url: str
    note: str = ""
    source: str = "cli"
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown feedback kind {self.kind!r}: use {' or '.join(KINDS)}")


def queue_path(database: Path) -> Path:
    """The queue file of feedback given while the database was being written."""
    return database.with_name(database.name + ".feedback-queue.jsonl")


def _queue_lock(database: Path) -> FileLock:
    return FileLock(f"{queue_path(database)}.lock")


def resolve_article(db: Database, ref: str) -> tuple[str, str] | None:
    """(article id, URL) of a stored article given by id, URL or canonical URL; None if not stored."""
    row = db.con.execute(
        "SELECT id, url FROM articles WHERE id = ? OR url = ? OR canonical_url = ? OR id = ? LIMIT 1",
        [ref, ref, ref, url_article_id(ref) if "://" in ref else ref],
    ).fetchone()
    return (row[0], row[1]) if row else None


def for_url(ref: str) -> tuple[str, str]:
    """(article id, URL) for an article not stored: keyed by its canonical URL, as ingest keys it."""
    if "://" not in ref:
        raise ValueError(f"{ref!r} is not a stored article: give its URL (http://...)")
    return url_article_id(ref), ref


def store(db: Database, items: Sequence[Feedback]) -> None:
    """Insert or update feedback rows in one transaction."""
    if not items:
        return
    relation, params = rows_relation(
        _COLUMNS, [[f.kind, f.topic, f.article_id, f.url, f.note, f.source, f.created_at] for f in items]
    )
    with db.transaction():
        db.con.execute(
            f"""
            INSERT INTO feedback SELECT * FROM {relation}
            ON CONFLICT (kind, topic, article_id) DO UPDATE SET
                url = excluded.url, note = excluded.note, source = excluded.source, created_at = excluded.created_at
            """,
            params,
        )


def queued(database: Path) -> list[Feedback]:
    """Feedback waiting in the queue file, oldest first."""
    path = queue_path(database)
    with _queue_lock(database):
        if not path.exists():
            return []
        lines = path.read_text(encoding="utf-8").splitlines()
    return [_from_json(line) for line in lines if line.strip()]


def _from_json(line: str) -> Feedback:
    data = json.loads(line)
    return Feedback(**{**data, "created_at": datetime.fromisoformat(data["created_at"])})


def enqueue(database: Path, item: Feedback) -> None:
    """Append ``item`` to the queue file and flush it to disk."""
    line = json.dumps({**asdict(item), "created_at": item.created_at.isoformat()}, ensure_ascii=False)
    with _queue_lock(database), open(queue_path(database), "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def drain_queue(db: Database) -> int:
    """Move queued feedback into the table (the writer ``db`` holds the database); return how many."""
    assert db.path is not None
    path = queue_path(db.path)
    with _queue_lock(db.path):
        if not path.exists():
            return 0
        items = [_from_json(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        store(db, items)  # committed before the queue is removed: a crash in between stores them again, once
        path.unlink()
    return len(items)


def record(database: Path, kind: str, topic: str, ref: str, note: str = "", source: str = "cli",
           wait: float = _WRITE_WAIT) -> tuple[Feedback, bool]:
    """Record feedback on the article ``ref`` (id or URL); return it and whether it is stored (False:
    queued because a run is writing the database). Raises ValueError for an unknown article id."""
    try:
        with open_database(database, lock_timeout=wait) as db:
            drain_queue(db)
            found = resolve_article(db, ref)
            item = Feedback(kind, topic, *(found or for_url(ref)), note=note, source=source)
            store(db, [item])
            return item, True
    except StorageError as error:
        if not is_locked(error):
            raise
    item = Feedback(kind, topic, *_offline_article(database, ref), note=note, source=source)
    enqueue(database, item)
    return item, False


def _offline_article(database: Path, ref: str) -> tuple[str, str]:
    """(id, URL) of ``ref`` while the database is being written: looked up in the readers' snapshot."""
    try:
        with open_reader(database) as (db, _):
            found = resolve_article(db, ref)
    except StorageError:
        found = None
    if found:
        return found
    if "://" in ref:
        return for_url(ref)
    return ref, ""  # an id from a page the analyst was reading: kept as given


def listing(db: Database, topic: str | None = None) -> list[Feedback]:
    """Stored feedback, newest first (of one topic, or all)."""
    rows = db.con.execute(
        "SELECT kind, topic, article_id, url, note, source, created_at FROM feedback"
        " WHERE ? IS NULL OR topic = ? ORDER BY created_at DESC",
        [topic, topic],
    ).fetchall()
    return [Feedback(*row) for row in rows]


def verdicts(items: Iterable[Feedback]) -> dict[tuple[str, str], str]:
    """(topic, article id) -> kind, for marking items on pages."""
    return {(f.topic, f.article_id): f.kind for f in items}
