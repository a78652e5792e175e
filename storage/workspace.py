"""Read queries of the analyst's workspace (``newswatch web``): topics, stories, articles."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb

from newswatch.models import (
    ClusterSummary,
    MatchedArticle,
    SearchFilters,
    StoredArticle,
    TopicVolume,
)
from storage.clusters import cluster_summaries
from storage.matches import matched_articles


def topic_volumes(con: duckdb.DuckDBPyConnection, now: datetime) -> dict[str, TopicVolume]:
    """Matches of non-duplicate articles per topic, by age (publication, else discovery time)."""
    rows = con.execute(
        """
        SELECT m.topic,
               count(*) FILTER (WHERE coalesce(a.published_at, a.discovered_at) >= $1 - INTERVAL 1 DAY),
               count(*) FILTER (WHERE coalesce(a.published_at, a.discovered_at) >= $1 - INTERVAL 7 DAY),
               count(*), max(coalesce(a.published_at, a.discovered_at))
        FROM matches m JOIN articles a ON a.id = m.article_id
        WHERE a.duplicate_of IS NULL
        GROUP BY m.topic
        """,
        [now],
    ).fetchall()
    return {row[0]: TopicVolume(*row) for row in rows}


def match_times(con: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> list[tuple[str, datetime]]:
    """(topic, time) of every match of a non-duplicate article in [start, end), for volume charts."""
    return con.execute(
        """
        SELECT m.topic, coalesce(a.published_at, a.discovered_at) AS seen
        FROM matches m JOIN articles a ON a.id = m.article_id
        WHERE a.duplicate_of IS NULL AND seen >= ? AND seen < ?
        """,
        [start, end],
    ).fetchall()


def topic_matches(
    con: duckdb.DuckDBPyConnection, topic: str, filters: SearchFilters, newest: bool, limit: int
) -> list[MatchedArticle]:
    """A topic's matches (non-duplicates), filtered, best or newest first."""
    at = "coalesce(a.published_at, a.discovered_at)"
    order = f"{at} DESC, m.score DESC" if newest else f"m.score DESC, {at} DESC"
    return matched_articles(
        con,
        f"""
        WHERE m.topic = $1 AND a.duplicate_of IS NULL
          AND ($2::TIMESTAMPTZ IS NULL OR {at} >= $2) AND ($3::TIMESTAMPTZ IS NULL OR {at} < $3)
          AND (len($4::VARCHAR[]) = 0 OR a.language IN (SELECT unnest($4::VARCHAR[])))
          AND (len($5::VARCHAR[]) = 0 OR a.feed_name IN (SELECT unnest($5::VARCHAR[])))
        ORDER BY {order}, a.id
        LIMIT $6
        """,
        [topic, filters.since, filters.until, list(filters.languages), list(filters.sources), limit],
    )


def facets(con: duckdb.DuckDBPyConnection, topic: str) -> tuple[list[str], list[str]]:
    """Languages and outlets among a topic's matches, for filter menus."""
    rows = con.execute(
        """
        SELECT list(DISTINCT a.language ORDER BY a.language) FILTER (WHERE a.language IS NOT NULL),
               list(DISTINCT a.feed_name ORDER BY a.feed_name)
        FROM matches m JOIN articles a ON a.id = m.article_id WHERE m.topic = ?
        """,
        [topic],
    ).fetchone()
    return list(rows[0] or []), list(rows[1] or [])


def articles(con: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> list[StoredArticle]:
    """Stored articles with text and matched topics, in the order of ``ids`` (unknown ids left out)."""
    rows = con.execute(
        """
        SELECT a.id, a.title, a.url, a.feed_name, a.language, a.published_at, a.discovered_at, a.status,
               coalesce(a.text, a.summary),
               coalesce((SELECT list(m.topic ORDER BY m.score DESC) FROM matches m WHERE m.article_id = a.id), [])
        FROM articles a
        WHERE a.rowid IN (SELECT rowid FROM articles WHERE id IN (SELECT unnest(?::VARCHAR[])))
        """,
        [list(ids)],
    ).fetchall()
    found = {row[0]: StoredArticle(*row[:9], tuple(row[9])) for row in rows}
    return [found[i] for i in ids if i in found]


def story(con: duckdb.DuckDBPyConnection, article_id: str) -> tuple[ClusterSummary | None, list[StoredArticle]]:
    """The story of an article: its cluster (if clustered) and every member, earliest first."""
    cluster = next(iter(cluster_summaries(con, [article_id]).values()), None)
    ids = list(cluster.members) if cluster else [article_id]
    return cluster, articles(con, ids)
