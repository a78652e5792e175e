"""The digest ledger (tables from migration 004_digests.sql) and the matches digests choose from.

A digest's due stories are those matched for its topics that no pending or sent message of that
digest holds yet; a message's stories are written together with the message *before* it is
handed to the transport, and the message is marked sent only once the server accepted it.

Every function takes an open DuckDB connection; those that write run inside the caller's
transaction (``Database`` begins and commits it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb

from newswatch.models import LedgerItem, MatchedArticle, MessageInfo, SendRecord
from storage.matches import matched_articles

_RECORD_COLUMNS = (
    "digest, transport, message_id, subject, recipients, window_start, cutoff, listed, omitted,"
    " id, status, created_at, sent_at, error"
)


def candidate_matches(
    con: duckdb.DuckDBPyConnection, topics: Sequence[str], min_score: float, found_since: datetime
) -> list[MatchedArticle]:
    """Matches for ``topics`` scoring at least ``min_score``, of articles found since then.

    Best first; copies of an already stored page (``duplicate_of``) are left out.
    """
    return matched_articles(
        con,
        """
        WHERE m.topic IN (SELECT unnest($1::VARCHAR[])) AND m.score >= $2 AND a.discovered_at >= $3
          AND a.duplicate_of IS NULL
        ORDER BY m.score DESC, a.discovered_at, a.id
        """,
        [list(topics), min_score, found_since],
    )


def last_cutoff(con: duckdb.DuckDBPyConnection, digest: str) -> datetime | None:
    """When the stories of the digest's latest sent message were selected (None: never sent)."""
    return con.execute(
        "SELECT max(cutoff) FROM digest_sends WHERE digest = ? AND status = 'sent'", [digest]
    ).fetchone()[0]


def handled(con: duckdb.DuckDBPyConnection, digest: str, story_keys: Sequence[str]) -> dict[str, int]:
    """Of these story keys, those in a pending or sent message of the digest: key -> largest size.

    Pass a story's member article ids too: an article sent before it joined a story was
    recorded under its own id.
    """
    return dict(
        con.execute(
            """
            SELECT i.story_key, max(i.story_size) FROM digest_items i
            JOIN digest_sends s ON s.id = i.send_id
            WHERE i.digest = $1 AND s.status IN ('pending', 'sent')
              AND i.story_key IN (SELECT unnest($2::VARCHAR[]))
            GROUP BY i.story_key
            """,
            [digest, list(story_keys)],
        ).fetchall()
    )


def record_attempt(
    con: duckdb.DuckDBPyConnection, info: MessageInfo, message: bytes, items: Sequence[LedgerItem], at: datetime
) -> int:
    """Store a message about to be delivered as pending (created ``at``), with its stories.

    Returns its send id.
    """
    send_id = con.execute(
        """
        INSERT INTO digest_sends (digest, status, transport, message_id, subject, recipients,
            window_start, cutoff, listed, omitted, created_at, message)
        VALUES (?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
        """,
        [info.digest, info.transport, info.message_id, info.subject, list(info.recipients),
         info.window_start, info.cutoff, info.listed, info.omitted, at, message],
    ).fetchone()[0]
    if items:
        con.executemany(
            "INSERT INTO digest_items VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [[info.digest, i.story_key, send_id, i.article_id, i.topic, i.score,
              i.story_size, i.listed] for i in items],
        )
    return send_id


def set_status(con: duckdb.DuckDBPyConnection, send_id: int, status: str, error: str | None, at: datetime) -> None:
    """Set a message's status (pending, sent, failed) and error; ``sent`` also records ``at`` as sent_at."""
    con.execute(
        "UPDATE digest_sends SET status = ?, error = ?,"
        " sent_at = CASE WHEN ? THEN ? ELSE sent_at END WHERE id = ?",
        [status, error, status == "sent", at, send_id],
    )


def unconfirmed(con: duckdb.DuckDBPyConnection, digest: str) -> list[tuple[SendRecord, bytes]]:
    """Pending messages of the digest (oldest first) with their exact bytes."""
    rows = con.execute(
        f"SELECT {_RECORD_COLUMNS}, message FROM digest_sends"
        " WHERE digest = ? AND status = 'pending' ORDER BY id",
        [digest],
    ).fetchall()
    return [(_record(row[:-1]), bytes(row[-1])) for row in rows]


def last_sent(con: duckdb.DuckDBPyConnection, digest: str) -> SendRecord | None:
    """The digest's latest sent message, if any."""
    row = con.execute(
        f"SELECT {_RECORD_COLUMNS} FROM digest_sends WHERE digest = ? AND status = 'sent'"
        " ORDER BY id DESC LIMIT 1",
        [digest],
    ).fetchone()
    return _record(row) if row else None


def history(con: duckdb.DuckDBPyConnection, digest: str | None = None, limit: int = 20) -> list[SendRecord]:
    """The latest messages (of one digest, or all), newest first."""
    rows = con.execute(
        f"SELECT {_RECORD_COLUMNS} FROM digest_sends WHERE $1 IS NULL OR digest = $1"
        " ORDER BY id DESC LIMIT $2",
        [digest, limit],
    ).fetchall()
    return [_record(row) for row in rows]


def _record(row: tuple) -> SendRecord:
    return SendRecord(*row[:4], tuple(row[4]), *row[5:])
