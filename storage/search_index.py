"""The full-text search index: SQL over the tables of migration 160_search_index.sql.

Words are analysed by the caller (``newswatch.search.index_postings``) exactly as the topic
matcher analyses them, so the index finds every article the matcher could match. Postings are
kept per *segment*:
each call of :func:`index_pending` (once per ingest batch) writes one segment with one row per
distinct word form, and :func:`merge_segments` merges ten segments of one tier into one of the
next, up to :data:`MAX_MERGED_DOCS` articles, so a word costs a few dozen rows to look up
however large the archive grows, and indexing never rewrites more than it merges.

Every function runs inside the caller's transaction; none begins or commits one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import duckdb
import numpy as np

from newswatch.models import (
    AnyPlan,
    IndexInput,
    LangPlan,
    ScaledPlan,
    SearchFilters,
    SearchPlan,
    WordPlan,
)
from storage.bulk import rows_relation

# (first doc number, articles) -> the columns of their postings (form, doc, impact, field) and of
# the word forms they refer to (form, key, word), as numpy arrays.
Postings = Callable[[int, Sequence[IndexInput]], tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]

FANOUT = 10  # segments of one tier merged at once
MAX_MERGED_DOCS = 200_000  # no merge produces a segment of more articles than this
_WATERMARK = "indexed_through"
_DOC_COLUMNS = (
    ("doc", "INTEGER"), ("article_id", "VARCHAR"), ("feed_name", "VARCHAR"), ("language", "VARCHAR"),
    ("seen_at", "TIMESTAMPTZ"),
)


def pending(con: duckdb.DuckDBPyConnection, limit: int) -> list[IndexInput]:
    """Articles extracted (or re-extracted) since the last one indexed, oldest first.

    Second copies (``duplicate_of`` another article) are left out: the original is indexed.
    """
    mark = con.execute("SELECT value FROM search_state WHERE name = ?", [_WATERMARK]).fetchone()
    at, last_id = (datetime.fromisoformat(mark[0].split("|", 1)[0]), mark[0].split("|", 1)[1]) if mark else (
        datetime(1970, 1, 1, tzinfo=UTC), "")
    rows = con.execute(
        """
        SELECT id, title, coalesce(text, summary), feed_name, language,
               coalesce(published_at, discovered_at), extracted_at
        FROM articles
        WHERE status <> 'pending' AND extracted_at IS NOT NULL AND duplicate_of IS NULL
          AND (extracted_at > $1 OR (extracted_at = $1 AND id > $2))
        ORDER BY extracted_at, id LIMIT $3
        """,
        [at, last_id, limit],
    ).fetchall()
    return [IndexInput(*row) for row in rows]


def index_pending(con: duckdb.DuckDBPyConnection, postings_of: Postings, limit: int = 1000) -> int:
    """Index up to ``limit`` pending articles as one new segment; return how many."""
    articles = pending(con, limit)
    if not articles:
        return 0
    first = con.execute("SELECT coalesce(max(last_doc), 0) + 1 FROM search_segments").fetchone()[0]
    segment = con.execute("SELECT coalesce(max(segment), 0) + 1 FROM search_segments").fetchone()[0]
    ids = [a.article_id for a in articles]
    con.execute("UPDATE search_docs SET live = false WHERE live AND article_id IN (SELECT unnest(?::VARCHAR[]))", [ids])
    relation, params = rows_relation(
        _DOC_COLUMNS, [[first + n, a.article_id, a.feed_name, a.language, a.seen_at] for n, a in enumerate(articles)]
    )
    con.execute(f"INSERT INTO search_docs SELECT *, true FROM {relation}", params)
    postings, vocabulary = postings_of(first, articles)
    # registered numpy columns are scanned in place (parameters would be converted value by value)
    con.register("new_postings", postings)
    con.register("new_forms", vocabulary)
    try:
        con.execute(
            """
            INSERT INTO search_postings
            SELECT ?, key, word, list(doc ORDER BY doc), list(impact ORDER BY doc), list(field ORDER BY doc)
            FROM new_postings JOIN new_forms USING (form)
            GROUP BY key, word ORDER BY key, word
            """,
            [segment],
        )
    finally:
        con.unregister("new_postings")
        con.unregister("new_forms")
    con.execute(
        "INSERT INTO search_segments VALUES (?, 0, ?, ?, ?, ?)",
        [segment, first, first + len(articles) - 1, len(articles), datetime.now(UTC)],
    )
    last = articles[-1]
    con.execute(
        "INSERT INTO search_state VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        [_WATERMARK, f"{last.extracted_at.isoformat()}|{last.article_id}"],
    )
    return len(articles)


def mergeable(con: duckdb.DuckDBPyConnection) -> list[int] | None:
    """The oldest :data:`FANOUT` segments of the lowest tier that has that many (None: nothing to merge)."""
    groups = con.execute(
        "SELECT list(segment ORDER BY segment)[1:$1] FROM search_segments"
        " GROUP BY tier HAVING count(*) >= $1 ORDER BY tier",
        [FANOUT],
    ).fetchall()
    for (segments,) in groups:
        size = con.execute(
            "SELECT sum(docs) FROM search_segments WHERE segment IN (SELECT unnest(?::INTEGER[]))", [segments]
        ).fetchone()[0]
        if size <= MAX_MERGED_DOCS:
            return list(segments)
    return None


def merge(con: duckdb.DuckDBPyConnection, segments: Sequence[int]) -> int:
    """Merge ``segments`` (consecutive in doc order) into one of the next tier, dropping dead docs."""
    segments = list(segments)
    tier, first, last = con.execute(
        "SELECT max(tier) + 1, min(first_doc), max(last_doc) FROM search_segments"
        " WHERE segment IN (SELECT unnest(?::INTEGER[]))",
        [segments],
    ).fetchone()
    new = con.execute("SELECT max(segment) + 1 FROM search_segments").fetchone()[0]
    con.execute(
        """
        INSERT INTO search_postings
        SELECT $1, key, word, list(doc ORDER BY doc), list(impact ORDER BY doc), list(field ORDER BY doc)
        FROM (
            SELECT key, word, unnest(docs) AS doc, unnest(impacts) AS impact, unnest(fields) AS field
            FROM search_postings WHERE segment IN (SELECT unnest($2::INTEGER[]))
        ) p
        WHERE doc NOT IN (SELECT doc FROM search_docs WHERE NOT live AND doc BETWEEN $3 AND $4)
        GROUP BY key, word
        ORDER BY key, word
        """,
        [new, segments, first, last],
    )
    con.execute("DELETE FROM search_postings WHERE segment IN (SELECT unnest(?::INTEGER[]))", [segments])
    con.execute("DELETE FROM search_segments WHERE segment IN (SELECT unnest(?::INTEGER[]))", [segments])
    live = con.execute(
        "SELECT count(*) FROM search_docs WHERE live AND doc BETWEEN ? AND ?", [first, last]
    ).fetchone()[0]
    con.execute("INSERT INTO search_segments VALUES (?, ?, ?, ?, ?, ?)", [new, tier, first, last, live, datetime.now(UTC)])
    return new


def stats(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Segments, live docs and posting rows, for benchmarks and operators."""
    segments, docs = con.execute("SELECT count(*), coalesce(sum(docs), 0) FROM search_segments").fetchone()
    rows = con.execute("SELECT count(*) FROM search_postings").fetchone()[0]
    return {"segments": segments, "docs": docs, "posting_rows": rows}


def _words(plan: SearchPlan) -> list[WordPlan]:
    """Every word a plan looks up, in order."""
    if isinstance(plan, WordPlan):
        return [plan]
    if isinstance(plan, LangPlan):
        return []
    if isinstance(plan, ScaledPlan):
        return _words(plan.operand)
    if isinstance(plan, AnyPlan):
        return [w for op in plan.operands for w in _words(op)]
    return [w for op in (*plan.required, *plan.excluded) for w in _words(op)]


class _Sql:
    """Common table expressions computing (doc, w) for the parts of a search plan.

    The postings of every word of the plan are read first (``base``: each word by its stem,
    each prefix within the key range of its first letter, so min-max zone maps skip most row
    groups); each part of the plan then works on that small set.
    """

    def __init__(self, plan: SearchPlan) -> None:
        self.ctes: list[str] = []
        self.params: list[object] = []
        self.leaves = {(w.value, w.prefix): n for n, w in enumerate(dict.fromkeys(
            WordPlan(w.value, w.prefix, 0) for w in _words(plan)))}
        parts = []
        for (value, prefix), leaf in self.leaves.items():
            # a stem keeps its word's first letter (stemmers strip endings), so a prefix's rows lie
            # in one key range, which the zone maps of each segment (written in key order) narrow
            where = "key >= ? AND key < ? AND starts_with(word, ?)" if prefix else "key = ?"
            parts.append(f"SELECT {leaf} AS leaf, unnest(docs) AS doc, unnest(impacts) AS impact,"
                         f" unnest(fields) AS field FROM search_postings WHERE {where}")
            self.params.extend([value[0], chr(ord(value[0]) + 1), value] if prefix else [value])
        self.ctes.append(f"base AS MATERIALIZED ({' UNION ALL '.join(parts)})")

    def add(self, sql: str, params: Sequence[object] = ()) -> str:
        name = f"t{len(self.ctes)}"
        self.ctes.append(f"{name} AS ({sql})")
        self.params.extend(params)
        return name

    def plan(self, plan: SearchPlan) -> str:
        """The CTE holding the docs of ``plan`` with their score ``w``."""
        if isinstance(plan, WordPlan):
            leaf = self.leaves[plan.value, plan.prefix]
            return self.add(
                f"SELECT doc, sum(impact) AS w FROM base WHERE leaf = {leaf} AND field & {int(plan.fields)} <> 0"
                " GROUP BY doc"
            )
        if isinstance(plan, LangPlan):
            return self.add("SELECT doc, 0.0 AS w FROM search_docs WHERE language = ?", [plan.code])
        if isinstance(plan, ScaledPlan):
            return self.add(f"SELECT doc, w * {float(plan.factor)} AS w FROM {self.plan(plan.operand)}")
        if isinstance(plan, AnyPlan):
            parts = " UNION ALL ".join(f"SELECT doc, w FROM {self.plan(op)}" for op in plan.operands)
            return self.add(f"SELECT doc, sum(w) AS w FROM ({parts}) GROUP BY doc")
        names = [self.plan(op) for op in plan.required]
        excluded = [self.plan(op) for op in plan.excluded]
        joins = " ".join(f"JOIN {n} USING (doc)" for n in names[1:])
        where = " AND ".join(f"doc NOT IN (SELECT doc FROM {n})" for n in excluded) or "true"
        return self.add(f"SELECT doc, {' + '.join(f'{n}.w' for n in names)} AS w FROM {names[0]} {joins} WHERE {where}")


def _filters(filters: SearchFilters) -> tuple[str, list[object]]:
    clauses, params = [], []
    if filters.since:
        clauses.append("d.seen_at >= ?")
        params.append(filters.since)
    if filters.until:
        clauses.append("d.seen_at < ?")
        params.append(filters.until)
    if filters.languages:
        clauses.append("d.language IN (SELECT unnest(?::VARCHAR[]))")
        params.append(list(filters.languages))
    if filters.sources:
        clauses.append("d.feed_name IN (SELECT unnest(?::VARCHAR[]))")
        params.append(list(filters.sources))
    if filters.topic:
        clauses.append("d.article_id IN (SELECT article_id FROM matches WHERE topic = ?)")
        params.append(filters.topic)
    return "".join(f" AND {c}" for c in clauses), params


def candidates(
    con: duckdb.DuckDBPyConnection, plan: SearchPlan, filters: SearchFilters, newest: bool, limit: int
) -> tuple[list[tuple[str, float]], int]:
    """Up to ``limit`` (article id, index score) of the live docs of ``plan`` that pass ``filters``,
    best (or newest) first, and how many there are in all."""
    sql = _Sql(plan)
    root = sql.plan(plan)
    where, params = _filters(filters)
    order = "d.seen_at DESC, h.w DESC" if newest else "h.w DESC, d.seen_at DESC"
    rows = con.execute(
        f"""
        WITH {", ".join(sql.ctes)}
        SELECT d.article_id, h.w, count(*) OVER () AS total
        FROM {root} h JOIN search_docs d USING (doc)
        WHERE d.live AND h.w > 0{where}
        ORDER BY {order}, d.doc
        LIMIT ?
        """,
        [*sql.params, *params, limit],
    ).fetchall()
    return [(r[0], r[1]) for r in rows], (rows[0][2] if rows else 0)


def articles_to_check(con: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> dict[str, tuple]:
    """(id, title, text, language, feed, url, published, discovered, status) of stored articles.

    Long texts are ZSTD-compressed: a lookup through the primary key decompresses a block per
    row, a ``rowid`` semi-join each block once (several times faster).
    """
    rows = con.execute(
        """
        SELECT id, title, coalesce(text, summary), language, feed_name, url, published_at, discovered_at, status
        FROM articles
        WHERE rowid IN (SELECT rowid FROM articles WHERE id IN (SELECT unnest(?::VARCHAR[])))
        """,
        [list(ids)],
    ).fetchall()
    return {row[0]: row for row in rows}
