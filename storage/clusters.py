"""SQL for story clusters (tables from migration 003_clusters.sql).

Every function takes an open DuckDB connection and runs inside the caller's transaction;
none of them begins or commits one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import duckdb

from newswatch.models import Candidate, ClusterSummary, Edition, MemberRow, PageLine
from storage.bulk import rows_relation

_MEMBER_COLUMNS = (
    ("article_id", "VARCHAR"), ("cluster_id", "VARCHAR"), ("source", "VARCHAR"), ("seen_at", "TIMESTAMPTZ"),
    ("text_words", "INTEGER"), ("signature", "BLOB"), ("clustered_at", "TIMESTAMPTZ"), ("language", "VARCHAR"),
    ("body", "VARCHAR"),
)
_EDITION_COLUMNS = (
    ("cluster_id", "VARCHAR"), ("language", "VARCHAR"), ("seen_at", "TIMESTAMPTZ"), ("embedding", "FLOAT[]"),
    ("anchors", "VARCHAR[]"), ("lede", "VARCHAR"),
)
_LINE_COLUMNS = (("source", "VARCHAR"), ("line_hash", "BIGINT"), ("article_id", "VARCHAR"), ("seen_at", "TIMESTAMPTZ"))
_BAND_COLUMNS = (("article_id", "VARCHAR"), ("seen_at", "TIMESTAMPTZ"), ("keys", "BIGINT[]"))

# DuckDB 2.0 answers ``article_id IN (<list>)`` from the primary-key index for lists of up
# to 50 values (longer ones become a table scan that grows with the archive), so id lookups
# go in chunks of this size.
_INDEX_LOOKUP_CHUNK = 50


def stored_params(con: duckdb.DuckDBPyConnection, params: dict[str, str]) -> dict[str, str]:
    """Record ``params`` where none are stored yet; return the stored parameters."""
    stored = dict(con.execute("SELECT name, value FROM cluster_params").fetchall())
    missing = {name: value for name, value in params.items() if name not in stored}
    if missing:
        con.executemany("INSERT INTO cluster_params VALUES (?, ?)", list(missing.items()))
    return stored | missing


def _by_article(con: duckdb.DuckDBPyConnection, column: str, article_ids: Sequence[str]) -> dict[str, str]:
    """``column`` of the members among ``article_ids`` (primary-key lookups)."""
    found: dict[str, str] = {}
    for start in range(0, len(article_ids), _INDEX_LOOKUP_CHUNK):
        chunk = list(article_ids[start : start + _INDEX_LOOKUP_CHUNK])
        found.update(
            con.execute(
                f"SELECT article_id, {column} FROM cluster_members"
                " WHERE article_id IN (SELECT unnest($1::VARCHAR[]))",
                [chunk],
            ).fetchall()
        )
    return found


def memberships(con: duckdb.DuckDBPyConnection, article_ids: Sequence[str]) -> dict[str, str]:
    """Cluster id of each of ``article_ids`` that is already a member."""
    return _by_article(con, "cluster_id", article_ids)


def member_bodies(con: duckdb.DuckDBPyConnection, article_ids: Sequence[str]) -> dict[str, str]:
    """The compared text of each of ``article_ids`` ('' for members stored without it)."""
    return {article_id: body or "" for article_id, body in _by_article(con, "body", article_ids).items()}


def band_candidates(
    con: duckdb.DuckDBPyConnection,
    queries: Sequence[int],
    band_keys: Sequence[Sequence[int]],
    seen_at: Sequence[datetime],
    window: timedelta,
) -> list[Candidate]:
    """Stored members sharing a band key with a query, seen within ``window`` of it.

    Query ``queries[i]`` has LSH band keys ``band_keys[i]`` and time ``seen_at[i]``. One
    statement for the whole batch; its constant lower bound on ``seen_at`` lets DuckDB skip
    row groups older than the window, so the cost does not grow with the archive.
    """
    if not queries:
        return []
    rows = con.execute(
        """
        WITH q AS (
            SELECT query, unnest(keys) AS band_key, seen_at FROM (
                SELECT unnest($1::INTEGER[]) AS query, unnest($2::BIGINT[][]) AS keys,
                       unnest($3::TIMESTAMPTZ[]) AS seen_at)
        ), hits AS (
            SELECT DISTINCT q.query, b.article_id
            FROM q JOIN cluster_bands b ON b.band_key = q.band_key
            WHERE b.seen_at >= $4 AND b.seen_at BETWEEN q.seen_at - $5 AND q.seen_at + $5
        )
        SELECT hits.query, m.article_id, m.cluster_id, m.signature, m.seen_at, m.language
        FROM hits JOIN cluster_members m ON m.article_id = hits.article_id
        WHERE m.seen_at >= $4
        """,
        [list(queries), [list(k) for k in band_keys], list(seen_at), min(seen_at) - window, window],
    ).fetchall()
    return [Candidate(*row) for row in rows]


def add_members(
    con: duckdb.DuckDBPyConnection, members: Sequence[MemberRow], clustered_at: datetime
) -> None:
    """Append new members and the LSH band rows of their signatures."""
    if not members:
        return
    members_relation, params = rows_relation(
        _MEMBER_COLUMNS,
        [[m.article_id, m.cluster_id, m.source, m.seen_at, m.text_words, m.signature, clustered_at, m.language, m.body]
         for m in members],
    )
    con.execute(
        f"INSERT INTO cluster_members BY NAME SELECT * FROM {members_relation}", params
    )
    bands_relation, params = rows_relation(
        _BAND_COLUMNS, [[m.article_id, m.seen_at, list(m.band_keys)] for m in members]
    )
    con.execute(f"INSERT INTO cluster_bands SELECT unnest(keys), article_id, seen_at FROM {bands_relation}", params)


def recurring_lines(
    con: duckdb.DuckDBPyConnection, lines: Sequence[PageLine], since: datetime, min_pages: int
) -> set[tuple[str, int]]:
    """Record ``lines``; return those of their (source, line hash) found on ``min_pages`` pages.

    Only pages seen from ``since`` on count (the constant bound skips older row groups).
    """
    if not lines:
        return set()
    relation, params = rows_relation(
        _LINE_COLUMNS, [[line.source, line.line_hash, line.article_id, line.seen_at] for line in lines]
    )
    con.execute(f"INSERT INTO page_lines SELECT * FROM {relation}", params)
    rows = con.execute(
        """
        WITH q AS (
            SELECT DISTINCT * FROM (SELECT unnest($1::VARCHAR[]) AS source, unnest($2::BIGINT[]) AS line_hash)
        )
        SELECT l.source, l.line_hash
        FROM page_lines l JOIN q ON l.source = q.source AND l.line_hash = q.line_hash
        WHERE l.seen_at >= $3
        GROUP BY l.source, l.line_hash
        HAVING count(DISTINCT l.article_id) >= $4
        """,
        [[line.source for line in lines], [line.line_hash for line in lines], since, min_pages],
    ).fetchall()
    return set(rows)


def editions_between(con: duckdb.DuckDBPyConnection, since: datetime, until: datetime) -> list[Edition]:
    """Founders' editions seen between ``since`` and ``until``."""
    rows = con.execute(
        "SELECT cluster_id, language, seen_at, coalesce(anchors, []), coalesce(lede, ''), embedding"
        " FROM cluster_editions WHERE seen_at BETWEEN $1 AND $2",
        [since, until],
    ).fetchall()
    return [Edition(cluster, language, seen, frozenset(keys), lede, vector) for cluster, language, seen, keys, lede, vector in rows]


def add_editions(con: duckdb.DuckDBPyConnection, editions: Sequence[Edition]) -> None:
    """Record the editions of new founders."""
    if editions:
        relation, params = rows_relation(
            _EDITION_COLUMNS,
            [[e.cluster_id, e.language, e.seen_at, e.embedding and list(e.embedding), sorted(e.anchors), e.lede]
             for e in editions],
        )
        con.execute(
            f"INSERT INTO cluster_editions BY NAME SELECT * FROM {relation}", params
        )


def set_edition_embeddings(con: duckdb.DuckDBPyConnection, editions: Sequence[Edition]) -> None:
    """Store the embeddings of stored founders (by cluster and language)."""
    if editions:
        relation, params = rows_relation(
            _EDITION_COLUMNS[:2] + _EDITION_COLUMNS[3:4],
            [[e.cluster_id, e.language, list(e.embedding)] for e in editions],
        )
        con.execute(
            f"UPDATE cluster_editions SET embedding = v.embedding FROM {relation} AS v"
            " WHERE cluster_editions.cluster_id = v.cluster_id AND cluster_editions.language = v.language",
            params,
        )


def cluster_summaries(
    con: duckdb.DuckDBPyConnection, article_ids: Sequence[str]
) -> dict[str, ClusterSummary]:
    """Summaries of the clusters the given articles belong to, by cluster id.

    Lead title and URL come from the ``articles`` table (None if the lead is not there).
    """
    rows = con.execute(
        """
        SELECT c.cluster_id, c.lead_article_id, c.lead_source, a.title, a.url, c.size,
               c.outlets, c.first_seen, c.last_seen, c.members
        FROM story_clusters((
            SELECT list(DISTINCT cluster_id) FROM cluster_members
            WHERE article_id IN (SELECT unnest($1::VARCHAR[]))
        )) c
        LEFT JOIN articles a ON a.id = c.lead_article_id
        """,
        [list(article_ids)],
    ).fetchall()
    editions: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for cluster_id, language, outlets in con.execute(
        "SELECT cluster_id, language, list(DISTINCT source ORDER BY source) FROM cluster_members"
        " WHERE cluster_id IN (SELECT unnest($1::VARCHAR[])) AND language IS NOT NULL"
        " GROUP BY cluster_id, language ORDER BY cluster_id, min(seen_at), language",
        [[row[0] for row in rows]],
    ).fetchall():
        editions.setdefault(cluster_id, []).append((language, tuple(outlets)))
    return {
        row[0]: ClusterSummary(
            *row[:6], tuple(row[6]), row[7], row[8], tuple(row[9]), tuple(editions.get(row[0], ()))
        )
        for row in rows
    }


def clusters_to_send(
    con: duckdb.DuckDBPyConnection,
    channel: str,
    summaries: Iterable[ClusterSummary],
    send_updates: bool = False,
) -> list[ClusterSummary]:
    """The summaries not yet sent on ``channel`` (with ``send_updates``: also those grown since)."""
    pending = list(summaries)
    sent = dict(
        con.execute(
            "SELECT cluster_id, size_at_send FROM cluster_deliveries"
            " WHERE channel = $1 AND cluster_id IN (SELECT unnest($2::VARCHAR[]))",
            [channel, [s.cluster_id for s in pending]],
        ).fetchall()
    )
    return [
        s
        for s in pending
        if s.cluster_id not in sent or (send_updates and s.size > sent[s.cluster_id])
    ]


def mark_sent(
    con: duckdb.DuckDBPyConnection,
    channel: str,
    summaries: Iterable[ClusterSummary],
    sent_at: datetime,
) -> None:
    """Record that these clusters were sent on ``channel`` at their current size."""
    con.executemany(
        """
        INSERT INTO cluster_deliveries VALUES (?, ?, ?, ?)
        ON CONFLICT (cluster_id, channel) DO UPDATE SET
            sent_at = excluded.sent_at, size_at_send = excluded.size_at_send
        """,
        [[s.cluster_id, channel, sent_at, s.size] for s in summaries],
    )


class ClusterTables:
    """The cluster tables within one transaction: the ``ClusterStore`` that clustering works on."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self._con = con

    def stored_params(self, params: dict[str, str]) -> dict[str, str]:
        """See :func:`stored_params`."""
        return stored_params(self._con, params)

    def memberships(self, article_ids: Sequence[str]) -> dict[str, str]:
        """See :func:`memberships`."""
        return memberships(self._con, article_ids)

    def member_bodies(self, article_ids: Sequence[str]) -> dict[str, str]:
        """See :func:`member_bodies`."""
        return member_bodies(self._con, article_ids)

    def band_candidates(
        self, queries: Sequence[int], band_keys: Sequence[Sequence[int]], seen_at: Sequence[datetime], window: timedelta
    ) -> list[Candidate]:
        """See :func:`band_candidates`."""
        return band_candidates(self._con, queries, band_keys, seen_at, window)

    def add_members(self, members: Sequence[MemberRow], clustered_at: datetime) -> None:
        """See :func:`add_members`."""
        add_members(self._con, members, clustered_at)

    def recurring_lines(self, lines: Sequence[PageLine], since: datetime, min_pages: int) -> set[tuple[str, int]]:
        """See :func:`recurring_lines`."""
        return recurring_lines(self._con, lines, since, min_pages)

    def editions_between(self, since: datetime, until: datetime) -> list[Edition]:
        """See :func:`editions_between`."""
        return editions_between(self._con, since, until)

    def add_editions(self, editions: Sequence[Edition]) -> None:
        """See :func:`add_editions`."""
        add_editions(self._con, editions)

    def set_edition_embeddings(self, editions: Sequence[Edition]) -> None:
        """See :func:`set_edition_embeddings`."""
        set_edition_embeddings(self._con, editions)
