"""Search the archive with the topic query language (docs/queries.md).

A query is answered in two steps. The index (:mod:`storage.search_index`) turns the parsed
query into SQL over the postings and returns candidate articles ranked by the matcher's own
term scores; then the topic matcher (:class:`newswatch.match.Matcher`) evaluates the query
exactly on the candidates it shows, which also yields the highlighted snippets. For queries
the index answers exactly (words, prefixes, AND / OR / NOT of them, ``title:``, ``lang:``)
the count is exact; for the rest (phrases, NEAR, ATLEAST) the candidates are a superset and
the count is exact when all of them could be checked, else an estimate.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from newswatch.config import TERMS_REF, Entity, Topic
from newswatch.match import Matcher, compile_topics
from newswatch.query import (
    And,
    AtLeast,
    Boost,
    EntityRef,
    Field,
    Lang,
    Near,
    Node,
    Not,
    Or,
    Term,
    entity_refs,
    parse_query,
    parse_term,
)
from newswatch.render import StoryItem, clusters_by_article, collapse_stories
from newswatch.textnorm import analyse
from storage.clusters import cluster_summaries
from storage.db import MatchedArticle

VERIFY_BUDGET = 200  # candidates checked by the matcher at most per search
_CHUNK = 25  # candidates fetched and checked at a time
_TITLE, _BODY = 1, 2  # field bits of search_postings.fields
SEARCH_TOPIC = "search"


class SearchError(ValueError):
    """A query or filter that cannot be searched (the message says why)."""


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Restrictions on the articles searched."""

    since: datetime | None = None
    until: datetime | None = None
    languages: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    topic: str | None = None


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Stories found for a query, best (or newest) first."""

    query: str
    stories: tuple[StoryItem, ...]
    total: int  # matching articles (duplicates and earlier versions excluded)
    exact: bool  # False: ``total`` is estimated from the candidates checked
    candidates: int
    seconds: float
    sort: str = "relevance"
    filters: SearchFilters = field(default_factory=SearchFilters)


@dataclass(slots=True)
class _Sql:
    """Common table expressions that compute (doc, w) for sub-queries."""

    ctes: list[str] = field(default_factory=list)
    params: list[object] = field(default_factory=list)

    def add(self, sql: str, params: Sequence[object] = ()) -> str:
        name = f"t{len(self.ctes)}"
        self.ctes.append(f"{name} AS ({sql})")
        self.params.extend(params)
        return name


@dataclass(frozen=True, slots=True)
class _Rel:
    """A compiled sub-query: the CTE holding its docs and whether they are exactly its matches."""

    name: str
    exact: bool


class _Compiler:
    """Turns a query tree into SQL over the postings (a superset of the matcher's answer)."""

    def __init__(self, entities: Mapping[str, Entity]):
        self.entities = entities
        self.sql = _Sql()

    def word(self, text: str, prefix: bool, fields: int) -> str:
        key, surface = analyse(text)
        condition, value = ("starts_with(word, ?)", surface) if prefix else ("key = ?", key)
        return self.sql.add(
            "SELECT doc, sum(impact) AS w FROM (SELECT unnest(docs) AS doc, unnest(impacts) AS impact,"
            f" unnest(fields) AS field FROM search_postings WHERE {condition}) WHERE field & {fields} <> 0"
            " GROUP BY doc",
            [value],
        )

    def conjunction(self, names: Sequence[str], excluded: Sequence[str] = ()) -> str:
        joins = " ".join(f"JOIN {n} USING (doc)" for n in names[1:])
        total = " + ".join(f"{n}.w" for n in names)
        where = " AND ".join(f"doc NOT IN (SELECT doc FROM {n})" for n in excluded) or "true"
        return self.sql.add(f"SELECT doc, {total} AS w FROM {names[0]} {joins} WHERE {where}")

    def union(self, names: Sequence[str]) -> str:
        parts = " UNION ALL ".join(f"SELECT doc, w FROM {n}" for n in names)
        return self.sql.add(f"SELECT doc, sum(w) AS w FROM ({parts}) GROUP BY doc")

    def compile(self, node: Node, fields: int = _TITLE | _BODY) -> _Rel | None:
        """The candidates of ``node``; None when it does not restrict them (NOT, or an OR with NOT)."""
        if isinstance(node, Term):
            names = [self.word(w.text, w.prefix, fields) for w in node.words]
            return _Rel(names[0], True) if len(names) == 1 else _Rel(self.conjunction(names), False)
        if isinstance(node, EntityRef):
            return self.compile(Or(tuple(parse_term(a) for a in self.entities[node.name].aliases)), fields)
        if isinstance(node, Lang):
            return _Rel(self.sql.add("SELECT doc, 0.0 AS w FROM search_docs WHERE language = ?", [node.code]), True)
        if isinstance(node, Or):
            subs = [self.compile(op, fields) for op in node.operands]
            if any(sub is None for sub in subs):
                return None
            return _Rel(self.union([s.name for s in subs]), all(s.exact for s in subs))
        if isinstance(node, And):
            return self._and(node.operands, fields)
        if isinstance(node, Near):
            sub = self._and((node.left, node.right), fields)
            return sub and _Rel(sub.name, False)
        if isinstance(node, AtLeast):
            sub = self.compile(node.operand, fields)
            return sub and _Rel(sub.name, sub.exact and node.count == 1)
        if isinstance(node, Field):
            return self.compile(node.operand, fields & (_TITLE if node.field == "title" else _BODY))
        if isinstance(node, Boost):
            sub = self.compile(node.operand, fields)
            return sub and _Rel(self.sql.add(f"SELECT doc, w * {float(node.factor)} AS w FROM {sub.name}"), sub.exact)
        return None  # NOT on its own restricts nothing

    def _and(self, operands: Sequence[Node], fields: int) -> _Rel | None:
        required, excluded, exact = [], [], True
        for op in operands:
            if isinstance(op, Not):
                sub = self.compile(op.operand, fields)
                if sub is not None and sub.exact:
                    excluded.append(sub.name)
                else:
                    exact = False
                continue
            sub = self.compile(op, fields)
            if sub is None:
                exact = False
                continue
            required.append(sub.name)
            exact = exact and sub.exact
        if not required:
            return None
        return _Rel(self.conjunction(required, excluded), exact)


def _search_matcher(query: str, node: Node, entities: Mapping[str, Entity]) -> Matcher:
    for ref in entity_refs(node):
        if ref.name == TERMS_REF:
            raise SearchError(f"@{TERMS_REF} means a topic's own terms and has no meaning in a search;"
                              " filter by topic instead")
        if ref.name not in entities:
            known = ", ".join(f"@{e}" for e in sorted(entities)) or "none"
            raise SearchError(f"unknown entity @{ref.name} (defined: {known})")
    return compile_topics([Topic(name=SEARCH_TOPIC, query=query, min_score=0)], entities, semantic=False)


def _filter_sql(filters: SearchFilters) -> tuple[str, list[object]]:
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
    con: duckdb.DuckDBPyConnection, node: Node, entities: Mapping[str, Entity], filters: SearchFilters,
    sort: str, limit: int,
) -> tuple[list[tuple[str, float]], int, bool]:
    """Up to ``limit`` (article id, index score) candidates in display order, their total, and
    whether they are exactly the query's matches."""
    compiler = _Compiler(entities)
    root = compiler.compile(node)
    if root is None:  # parse_query guarantees a term is required
        raise SearchError("the query needs at least one word outside NOT")
    where, params = _filter_sql(filters)
    order = "d.seen_at DESC, h.w DESC" if sort == "newest" else "h.w DESC, d.seen_at DESC"
    rows = con.execute(
        f"""
        WITH {", ".join(compiler.sql.ctes)}
        SELECT d.article_id, h.w, count(*) OVER () AS total
        FROM {root.name} h JOIN search_docs d USING (doc)
        WHERE d.live AND h.w > 0{where}
        ORDER BY {order}, d.doc
        LIMIT ?
        """,
        [*compiler.sql.params, *params, limit],
    ).fetchall()
    return [(r[0], r[1]) for r in rows], (rows[0][2] if rows else 0), root.exact


def _articles(con: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> dict[str, tuple]:
    """Stored articles by id. Long texts are ZSTD-compressed: a lookup through the primary key
    decompresses a block per row, a ``rowid`` semi-join each block once (several times faster)."""
    rows = con.execute(
        """
        SELECT id, title, coalesce(text, summary), language, feed_name, url, published_at, discovered_at, status
        FROM articles
        WHERE rowid IN (SELECT rowid FROM articles WHERE id IN (SELECT unnest(?::VARCHAR[])))
        """,
        [list(ids)],
    ).fetchall()
    return {row[0]: row for row in rows}


def search(
    con: duckdb.DuckDBPyConnection,
    query: str,
    entities: Mapping[str, Entity] | None = None,
    filters: SearchFilters | None = None,
    sort: str = "relevance",
    limit: int = 20,
) -> SearchResult:
    """The best (``sort="newest"``: the latest) ``limit`` stories matching ``query``."""
    started = time.perf_counter()
    entities = entities or {}
    filters = filters or SearchFilters()
    if sort not in ("relevance", "newest"):
        raise SearchError(f"unknown sort {sort!r}: use relevance or newest")
    try:
        node = parse_query(query)
    except ValueError as err:
        raise SearchError(f"query {err}") from None
    matcher = _search_matcher(query, node, entities)
    ranked, total, exact = candidates(con, node, entities, filters, sort, VERIFY_BUDGET)
    candidate_total = total
    rows: list[MatchedArticle] = []
    checked = 0
    for start in range(0, len(ranked), _CHUNK):
        chunk = [article_id for article_id, _ in ranked[start : start + _CHUNK]]
        stored = _articles(con, chunk)
        for article_id in chunk:
            checked += 1
            a = stored.get(article_id)
            found = matcher.match(a[1], a[2], a[3]) if a else []
            if found:
                m = found[0]
                rows.append(MatchedArticle(a[0], SEARCH_TOPIC, m.score, m.terms, m.snippets, a[1], a[5], a[4],
                                           a[3], a[6], a[7], a[8]))
        if len(rows) >= limit + limit // 2:  # enough for ``limit`` stories after collapsing clusters
            break
    if not exact:
        if checked == total:
            total, exact = len(rows), True
        elif checked:
            total = round(total * len(rows) / checked)
    if sort == "relevance":
        rows.sort(key=lambda r: (-r.score, -(r.published_at or r.discovered_at).timestamp()))
    cluster_of = clusters_by_article(cluster_summaries(con, [r.article_id for r in rows]))
    stories = collapse_stories(rows, cluster_of)[:limit]
    return SearchResult(query, stories, total, exact, candidate_total, time.perf_counter() - started, sort, filters)
