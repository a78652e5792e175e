"""SQL for relevance feedback (table ``feedback``, migration 161_feedback.sql).

Rows are keyed by (kind, topic, article): recording the same verdict again updates its note
and time, so a repeated click or a re-sent queue never makes a second row. Every function
runs inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from newswatch.models import Feedback
from storage.bulk import rows_relation

_COLUMNS = (
    ("kind", "VARCHAR"), ("topic", "VARCHAR"), ("article_id", "VARCHAR"), ("url", "VARCHAR"), ("note", "VARCHAR"),
    ("source", "VARCHAR"), ("created_at", "TIMESTAMPTZ"),
)


def store(con: duckdb.DuckDBPyConnection, items: Sequence[Feedback]) -> None:
    """Insert or update feedback rows."""
    relation, params = rows_relation(
        _COLUMNS, [[f.kind, f.topic, f.article_id, f.url, f.note, f.source, f.created_at] for f in items]
    )
    con.execute(
        f"""
        INSERT INTO feedback SELECT * FROM {relation}
        ON CONFLICT (kind, topic, article_id) DO UPDATE SET
            url = excluded.url, note = excluded.note, source = excluded.source, created_at = excluded.created_at
        """,
        params,
    )


def listing(con: duckdb.DuckDBPyConnection, topic: str | None = None) -> list[Feedback]:
    """Stored feedback, newest first (of one topic, or all)."""
    rows = con.execute(
        "SELECT kind, topic, article_id, url, note, source, created_at FROM feedback"
        " WHERE $1::VARCHAR IS NULL OR topic = $1 ORDER BY created_at DESC",
        [topic],
    ).fetchall()
    return [Feedback(*row) for row in rows]


def find_article(con: duckdb.DuckDBPyConnection, ref: str, url_id: str | None = None) -> tuple[str, str] | None:
    """(id, URL) of a stored article given by id, URL or canonical URL (or its id ``url_id``)."""
    row = con.execute(
        "SELECT id, url FROM articles WHERE id = $1 OR url = $1 OR canonical_url = $1 OR id = $2 LIMIT 1",
        [ref, url_id or ref],
    ).fetchone()
    return (row[0], row[1]) if row else None
