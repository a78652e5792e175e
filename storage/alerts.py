"""Queries for alerts: topic volume per time window (spike detection) and past spike alerts.

Alert messages themselves live in the digest ledger (``digest_sends`` / ``digest_items``, see
:mod:`storage.digests`), one ledger stream per alert and channel; a spike is a ledger item
whose story key names the spike (see :mod:`newswatch.spikes`). Also the reads of the Atom feeds out. Every
function takes an open DuckDB connection and only reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb

from newswatch.models import MatchedArticle
from storage.matches import matched_articles


def coverage_start(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """When newswatch started watching: the first article found (None: no articles yet)."""
    return con.execute("SELECT min(discovered_at) FROM articles").fetchone()[0]


def story_counts(con: duckdb.DuckDBPyConnection, topic: str, windows: Sequence[tuple[datetime, datetime]]) -> list[int]:
    """Distinct stories (story clusters; lone articles count alone) matched for ``topic`` with
    their time (published, else found) in each [start, end) window; copies of a page are left out."""
    if not windows:
        return []
    rows = dict(
        con.execute(
            """
            WITH w AS (
                SELECT unnest(range(len($2::TIMESTAMPTZ[]))) AS i, unnest($2::TIMESTAMPTZ[]) AS start,
                       unnest($3::TIMESTAMPTZ[]) AS stop
            ), s AS (
                SELECT coalesce(c.cluster_id, a.id) AS story, coalesce(a.published_at, a.discovered_at) AS t
                FROM matches m JOIN articles a ON a.id = m.article_id
                LEFT JOIN cluster_members c ON c.article_id = a.id
                WHERE m.topic = $1 AND a.duplicate_of IS NULL
                  AND coalesce(a.published_at, a.discovered_at) >= $4
                  AND coalesce(a.published_at, a.discovered_at) < $5
            )
            SELECT w.i, count(DISTINCT s.story) FROM w JOIN s ON s.t >= w.start AND s.t < w.stop GROUP BY w.i
            """,
            [topic, [start for start, _ in windows], [stop for _, stop in windows],
             min(start for start, _ in windows), max(stop for _, stop in windows)],
        ).fetchall()
    )
    return [rows.get(i, 0) for i in range(len(windows))]


def window_matches(con: duckdb.DuckDBPyConnection, topic: str, start: datetime, end: datetime) -> list[MatchedArticle]:
    """Matches of ``topic`` with their time in [start, end), best first (the stories of a spike)."""
    return matched_articles(
        con,
        """
        WHERE m.topic = $1 AND a.duplicate_of IS NULL
          AND coalesce(a.published_at, a.discovered_at) >= $2 AND coalesce(a.published_at, a.discovered_at) < $3
        ORDER BY m.score DESC, coalesce(a.published_at, a.discovered_at) DESC, a.id
        """,
        [topic, start, end],
    )


def last_keyed(con: duckdb.DuckDBPyConnection, stream: str, key_prefix: str) -> datetime | None:
    """When the latest pending or sent message of ledger stream ``stream`` holding an item whose
    key starts with ``key_prefix`` was made (None: never)."""
    return con.execute(
        """
        SELECT max(s.cutoff) FROM digest_items i JOIN digest_sends s ON s.id = i.send_id
        WHERE i.digest = $1 AND s.status IN ('pending', 'sent') AND starts_with(i.story_key, $2)
        """,
        [stream, key_prefix],
    ).fetchone()[0]


def latest_matches(con: duckdb.DuckDBPyConnection, topic: str, limit: int) -> list[MatchedArticle]:
    """The topic's ``limit`` most recently found matches (copies of a page left out)."""
    return matched_articles(
        con,
        """
        WHERE m.topic = $1 AND a.duplicate_of IS NULL
        ORDER BY a.discovered_at DESC, m.score DESC, a.id LIMIT $2
        """,
        [topic, limit],
    )


def digest_sent_items(con: duckdb.DuckDBPyConnection, digest: str, limit: int) -> list[tuple[str, str, datetime]]:
    """(article id, topic, sent at) of the stories listed in the digest's sent messages, latest first."""
    return con.execute(
        """
        SELECT i.article_id, i.topic, max(s.sent_at) AS sent_at FROM digest_items i
        JOIN digest_sends s ON s.id = i.send_id
        WHERE i.digest = $1 AND s.status = 'sent' AND i.listed
        GROUP BY i.article_id, i.topic ORDER BY sent_at DESC, i.article_id LIMIT $2
        """,
        [digest, limit],
    ).fetchall()


def matches_of(con: duckdb.DuckDBPyConnection, article_ids: Sequence[str]) -> list[MatchedArticle]:
    """Every match of these articles (looked up by the matches' key, then the articles' by theirs)."""
    return matched_articles(con, "WHERE m.article_id IN (SELECT unnest($1::VARCHAR[]))", [list(article_ids)])
