"""The full-text search index: SQL over the tables of migrations 160_search_index.sql and
195_search_lookup_prefixes.sql.

Words are analysed by the caller (``newswatch.search.index_postings``) exactly as the topic
matcher analyses them, so the index finds every article the matcher could match. Postings are
kept per *segment*:
each call of :func:`index_pending` (once per ingest batch) writes one segment with one row per
distinct word form, and :func:`merge_segments` merges ten segments of one tier into one of the
next, up to :data:`MAX_MERGED_DOCS` articles, so a word costs one row per segment to look up
however large the archive grows, and indexing never rewrites more than it merges.

A query (:func:`candidates`) costs two statements: one reads the posting lists of its words
from every segment (found by integer comparisons, see :class:`_Postings`), which are then
combined in arrays (AND, OR, NOT, scores); one joins the docs found with ``search_docs`` to
drop dead versions, apply the filters, count and order them.

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
# key_prefix / word_prefix (migration 195): the first 16 bytes of the UTF-8 string as a number
_PREFIX_BYTES = 16
_BOTH_FIELDS = 3  # WordPlan.fields and search_postings.fields: 1 title, 2 body
_PREFIX_SQL = "('0x' || left(hex(encode({0})) || repeat('0', 32), 32))::UHUGEINT"
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
            f"""
            INSERT INTO search_postings
            SELECT ?, key, word, {_PREFIX_SQL.format("key")}, {_PREFIX_SQL.format("word")},
                   list(doc ORDER BY doc), list(impact ORDER BY doc), list(field ORDER BY doc)
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
        SELECT $1, key, word, key_prefix, word_prefix,
               list(doc ORDER BY doc), list(impact ORDER BY doc), list(field ORDER BY doc)
        FROM (
            SELECT key, word, key_prefix, word_prefix, unnest(docs) AS doc, unnest(impacts) AS impact,
                   unnest(fields) AS field
            FROM search_postings WHERE segment IN (SELECT unnest($2::INTEGER[]))
        ) p
        WHERE doc NOT IN (SELECT doc FROM search_docs WHERE NOT live AND doc BETWEEN $3 AND $4)
        GROUP BY key, word, key_prefix, word_prefix
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


# Docs (ascending, distinct) with their scores: what each part of a plan evaluates to.
Hits = tuple[np.ndarray, np.ndarray]


def _by_doc(docs: np.ndarray, scores: np.ndarray) -> Hits:
    """``docs`` made distinct, the scores of each summed."""
    order = np.argsort(docs, kind="stable")
    docs, scores = docs[order], scores[order]
    starts = np.flatnonzero(np.diff(docs, prepend=-1))
    return docs[starts], (np.add.reduceat(scores, starts) if len(starts) else scores[:0])


class _Postings:
    """The postings of every word of a plan, read from all segments in one statement, and the plan
    evaluated on them as arrays (no SQL per part of the plan).

    Each word is read by the number made of the first bytes of its stem, each prefix by the range
    of numbers of the word forms it starts (:func:`prefix_range`), so the min-max zone maps of
    each segment (written in key order) skip most row groups and the rest compare integers, not
    compressed strings (four times cheaper); only rows of longer strings compare the strings.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, plan: SearchPlan) -> None:
        self.con = con
        words = _words(plan)
        self.leaves = {word: n for n, word in enumerate(dict.fromkeys((w.value, w.prefix) for w in words))}
        # each column read costs a pass over the row groups scanned: read fields and strings only if needed
        by_field = {self.leaves[w.value, w.prefix] for w in words if w.fields != _BOTH_FIELDS}
        parts, params = [], []
        for (value, prefix), leaf in self.leaves.items():
            low, high = prefix_range(value, prefix)
            # strings longer than the prefix columns share them with others: those rows are compared
            longer = len(value.encode()) > _PREFIX_BYTES - (0 if prefix else 1)
            same = ("starts_with(word, ?)" if prefix else "key = ?") if longer else "true"
            fields = "fields" if leaf in by_field else "[]::UTINYINT[]"
            parts.append(
                f"SELECT {leaf} AS leaf, {same} AS same, docs, impacts, {fields} AS fields FROM search_postings"
                f" WHERE {'word' if prefix else 'key'}_prefix BETWEEN ?::UHUGEINT AND ?::UHUGEINT"
            )
            params.extend([value, low, high] if longer else [low, high])
        columns = con.execute(
            "SELECT leaf, same, unnest(docs) AS doc, unnest(impacts) AS impact, unnest(fields) AS field"
            f" FROM ({' UNION ALL '.join(parts)})",
            params,
        ).fetchnumpy()  # ``same`` is filtered here: in SQL it would be pushed into the scan of every row
        same = np.asarray(columns["same"], dtype=bool)
        self.leaf, self.doc = np.asarray(columns["leaf"])[same], np.asarray(columns["doc"], dtype=np.int64)[same]
        self.impact = np.asarray(columns["impact"], dtype=np.float64)[same]
        self.field = np.ma.filled(columns["field"], _BOTH_FIELDS)[same]  # not read: in both, as far as it matters

    def hits(self, plan: SearchPlan) -> Hits:
        """The docs of ``plan`` and their score."""
        if isinstance(plan, WordPlan):
            rows = (self.leaf == self.leaves[plan.value, plan.prefix]) & ((self.field & plan.fields) != 0)
            return _by_doc(self.doc[rows], self.impact[rows])
        if isinstance(plan, LangPlan):
            docs = self.con.execute("SELECT doc FROM search_docs WHERE language = ? ORDER BY doc",
                                    [plan.code]).fetchnumpy()["doc"]
            return np.asarray(docs, dtype=np.int64), np.zeros(len(docs))
        if isinstance(plan, ScaledPlan):
            docs, scores = self.hits(plan.operand)
            return docs, scores * float(plan.factor)
        if isinstance(plan, AnyPlan):
            parts = [self.hits(op) for op in plan.operands]
            return _by_doc(np.concatenate([d for d, _ in parts]), np.concatenate([s for _, s in parts]))
        docs, scores = self.hits(plan.required[0])
        for op in plan.required[1:]:
            other, other_scores = self.hits(op)
            docs, mine, theirs = np.intersect1d(docs, other, assume_unique=True, return_indices=True)
            scores = scores[mine] + other_scores[theirs]
        for op in plan.excluded:
            keep = ~np.isin(docs, self.hits(op)[0], assume_unique=True)
            docs, scores = docs[keep], scores[keep]
        return docs, scores


def prefix_range(value: str, prefix: bool) -> tuple[int, int]:
    """The ``key_prefix`` (or, for a ``prefix`` of words, ``word_prefix``) values that ``value`` can
    have: the first 16 bytes as a number, zero-padded; a prefix shorter than that spans every
    continuation (padded with 0xff)."""
    head = value.encode()[:_PREFIX_BYTES]
    low = int.from_bytes(head.ljust(_PREFIX_BYTES, b"\0"))
    return low, int.from_bytes(head.ljust(_PREFIX_BYTES, b"\xff")) if prefix else low


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
    docs, scores = _Postings(con, plan).hits(plan)
    found = scores > 0
    if not found.any():
        return [], 0
    hits = {"doc": docs[found].astype(np.int32), "w": scores[found]}
    where, params = _filters(filters)
    order = "d.seen_at DESC, h.w DESC" if newest else "h.w DESC, d.seen_at DESC"
    name = f"search_hits_{id(hits)}"
    con.register(name, hits)
    try:
        rows = con.execute(
            f"""
            SELECT d.article_id, h.w, count(*) OVER () AS total
            FROM {name} h JOIN search_docs d USING (doc)
            WHERE d.live{where}
            ORDER BY {order}, d.doc
            LIMIT ?
            """,
            [*params, limit],
        ).fetchall()
    finally:
        con.unregister(name)
    return [(r[0], r[1]) for r in rows], (rows[0][2] if rows else 0)


def articles_to_check(con: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> dict[str, tuple]:
    """(id, title, text, language, feed, url, published, discovered, status) of stored articles.

    ``id = ANY(list)`` reads the texts of the rows found only; a ``rowid`` semi-join reads far more
    of the compressed text column (measured on 100k articles with hashed ids: 11 ms of CPU against
    170 ms for 20 articles not read before, 4 ms against 7 ms when they were).
    """
    rows = con.execute(
        """
        SELECT id, title, coalesce(text, summary), language, feed_name, url, published_at, discovered_at, status
        FROM articles WHERE id = ANY(?::VARCHAR[])
        """,
        [list(ids)],
    ).fetchall()
    return {row[0]: row for row in rows}
