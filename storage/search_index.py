"""The full-text search index: SQL over the tables of migration 160_search_index.sql.

Words are analysed exactly as the topic matcher analyses them (:func:`newswatch.textnorm.tokenize`),
so the index finds every article the matcher could match. Postings are kept per *segment*:
each call of :func:`index_pending` (once per ingest batch) writes one segment with one row per
distinct word form, and :func:`merge_segments` merges ten segments of one tier into one of the
next, up to :data:`MAX_MERGED_DOCS` articles, so a word costs a few dozen rows to look up
however large the archive grows, and indexing never rewrites more than it merges.

Every function runs inside the caller's transaction; none begins or commits one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import numpy as np

from newswatch.match import field_score
from newswatch.textnorm import analyse, words
from storage.bulk import rows_relation

FANOUT = 10  # segments of one tier merged at once
MAX_MERGED_DOCS = 200_000  # no merge produces a segment of more articles than this
_WATERMARK = "indexed_through"
_DOC_COLUMNS = (
    ("doc", "INTEGER"), ("article_id", "VARCHAR"), ("feed_name", "VARCHAR"), ("language", "VARCHAR"),
    ("seen_at", "TIMESTAMPTZ"),
)


@dataclass(frozen=True, slots=True)
class IndexInput:
    """An article to index, as stored."""

    article_id: str
    title: str
    text: str
    feed_name: str
    language: str | None
    seen_at: datetime
    extracted_at: datetime


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


def _postings(first_doc: int, articles: Sequence[IndexInput]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Columns of the (form, doc, impact, field) postings of articles numbered from ``first_doc``,
    and of the forms (form, key, word) they refer to."""
    forms: dict[tuple[str, str], int] = {}
    form_ids: list[int] = []
    docs: list[int] = []
    impacts: list[float] = []
    fields: list[int] = []
    for n, article in enumerate(articles):
        title = Counter(map(analyse, words(article.title or "")))
        body = Counter(map(analyse, words(article.text or "")))
        lengths = (sum(title.values()), sum(body.values()))
        scores: dict[tuple[int, int], float] = {}  # (field, count) -> score, for this article's lengths
        for form in title.keys() | body.keys():
            impact, mask = 0.0, 0
            for field, counts in enumerate((title, body)):
                if count := counts.get(form, 0):
                    if (field, count) not in scores:
                        scores[field, count] = field_score(field, count, lengths[field])
                    impact += scores[field, count]
                    mask |= 1 << field
            form_ids.append(forms.setdefault(form, len(forms)))
            docs.append(first_doc + n)
            impacts.append(impact)
            fields.append(mask)
    postings = {"form": np.array(form_ids, dtype=np.int32), "doc": np.array(docs, dtype=np.int32),
                "impact": np.array(impacts, dtype=np.float32), "field": np.array(fields, dtype=np.uint8)}
    vocabulary = {"form": np.arange(len(forms), dtype=np.int32),
                  "key": np.array([key for key, _ in forms], dtype=object),
                  "word": np.array([word for _, word in forms], dtype=object)}
    return postings, vocabulary


def index_pending(con: duckdb.DuckDBPyConnection, limit: int = 1000) -> int:
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
    postings, vocabulary = _postings(first, articles)
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
