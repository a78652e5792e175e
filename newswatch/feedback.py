"""Relevance feedback: recorded in the database, never lost while a run writes it.

Feedback is given while ingests run, and then nobody else may write the database. So
:func:`record` stores it directly when the database is free, and otherwise appends it to a
queue file beside the database (``<database>.feedback-queue.jsonl``, flushed to disk before
it returns). The next writer that opens the database (the next ingest, or the next feedback)
moves the queue into the table first (:func:`drain_queue`); rows are keyed by (kind, topic,
article), so moving an entry twice (after a crash) still stores it once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from filelock import FileLock

from newswatch.errors import FeedbackError, StorageError
from newswatch.models import FEEDBACK_KINDS, Feedback
from newswatch.urls import article_id as url_article_id
from storage.db import Database, is_locked, open_database, open_reader

WRITE_WAIT = 2.0  # seconds feedback waits for the database before it is queued


def queue_path(database: Path) -> Path:
    """The queue file of feedback given while the database was being written."""
    return database.with_name(database.name + ".feedback-queue.jsonl")


def _queue_lock(database: Path) -> FileLock:
    return FileLock(f"{queue_path(database)}.lock")


def _read(path: Path) -> list[Feedback]:
    items = []
    for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
        if line.strip():
            data = json.loads(line)
            items.append(Feedback(**{**data, "created_at": datetime.fromisoformat(data["created_at"])}))
    return items


def queued(database: Path) -> list[Feedback]:
    """Feedback waiting in the queue file, oldest first."""
    with _queue_lock(database):
        return _read(queue_path(database))


def enqueue(database: Path, item: Feedback) -> None:
    """Append ``item`` to the queue file and flush it to disk."""
    line = json.dumps({**asdict(item), "created_at": item.created_at.isoformat()}, ensure_ascii=False)
    with _queue_lock(database), open(queue_path(database), "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def drain_queue(db: Database) -> int:
    """Move queued feedback into the table (``db`` is the writer); return how many entries."""
    if db.path is None:
        return 0
    path = queue_path(db.path)
    with _queue_lock(db.path):
        items = _read(path)
        db.store_feedback(items)  # committed before the queue goes: a crash in between stores them again, once
        path.unlink(missing_ok=True)
    return len(items)


def _article(db: Database, ref: str) -> tuple[str, str] | None:
    return db.find_article(ref, url_article_id(ref) if "://" in ref else None)


def _unstored(ref: str) -> tuple[str, str]:
    if "://" not in ref:
        raise FeedbackError(f"{ref!r} is not a stored article: give its URL (http://...)")
    return url_article_id(ref), ref  # keyed by its canonical URL, as ingest would key it


def record(database: Path, kind: str, topic: str, ref: str, note: str = "", source: str = "cli",
           wait: float = WRITE_WAIT) -> tuple[Feedback, bool]:
    """Record feedback on the article ``ref`` (stored id, or URL); return it and whether it is
    stored (False: queued, because a run is writing the database)."""
    if kind not in FEEDBACK_KINDS:
        raise FeedbackError(f"unknown feedback kind {kind!r}: use {' or '.join(FEEDBACK_KINDS)}")
    try:
        with open_database(database, lock_timeout=wait) as db:
            drain_queue(db)
            item = Feedback(kind, topic, *(_article(db, ref) or _unstored(ref)), note=note, source=source)
            db.store_feedback([item])
            return item, True
    except StorageError as error:
        if not is_locked(error):
            raise
    try:  # the id and URL from the readers' snapshot, so that the queued entry is complete
        with open_reader(database) as (db, _):
            found = _article(db, ref)
    except StorageError:
        found = None
    item = Feedback(kind, topic, *(found or (_unstored(ref) if "://" in ref else (ref, ""))), note=note, source=source)
    enqueue(database, item)
    return item, False


def verdicts(items: Iterable[Feedback]) -> dict[tuple[str, str], str]:
    """(topic, article id) -> kind, for marking items on pages."""
    return {(f.topic, f.article_id): f.kind for f in items}
