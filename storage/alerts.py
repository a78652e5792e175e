"""Queries for alerts: topic volume per time window (spike detection) and past spike alerts.

Alert messages themselves live in the digest ledger (``digest_sends`` / ``digest_items``, see
:mod:`storage.digests`), one ledger stream per alert and channel; a spike is a ledger item
whose story key starts with ``spike:<topic>:``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from storage.db import Database, MatchedArticle, matched_articles

SPIKE_PREFIX = "spike:"


def coverage_start(db: Database) -> datetime | None:
    """When newswatch started watching: the first article found (None: no articles yet)."""
    return db.con.execute("SELECT min(discovered_at) FROM articles").fetchone()[0]


def story_counts(db: Database, topic: str, windows: Sequence[tuple[datetime, datetime]]) -> list[int]:
    """Distinct stories (story clusters; lone articles count alone) matched for ``topic`` with
    their time (published, else found) in each [start, end) window; copies of a page are left out."""
    if not windows:
        return []
    rows = dict(
        db.con.execute(
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


def window_matches(db: Database, topic: str, start: datetime, end: datetime) -> list[MatchedArticle]:
    """Matches of ``topic`` with their time in [start, end), best first (the stories of a spike)."""
    return matched_articles(
        db.con,
        """
        WHERE m.topic = $1 AND a.duplicate_of IS NULL
          AND coalesce(a.published_at, a.discovered_at) >= $2 AND coalesce(a.published_at, a.discovered_at) < $3
        ORDER BY m.score DESC, coalesce(a.published_at, a.discovered_at) DESC, a.id
        """,
        [topic, start, end],
    )


def last_spike_alert(db: Database, stream: str, topic: str) -> datetime | None:
    """When the latest pending or sent spike alert of ``topic`` on ledger stream ``stream`` was made."""
    return db.con.execute(
        """
        SELECT max(s.cutoff) FROM digest_items i JOIN digest_sends s ON s.id = i.send_id
        WHERE i.digest = $1 AND s.status IN ('pending', 'sent') AND starts_with(i.story_key, $2)
        """,
        [stream, f"{SPIKE_PREFIX}{topic}:"],
    ).fetchone()[0]
