"""SQL for topic matches read together with their articles (tables from migration 001_init.sql)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import duckdb

from newswatch.models import MatchedArticle, Snippet


def matched_articles(
    con: duckdb.DuckDBPyConnection, where_order: str, params: Sequence[object]
) -> list[MatchedArticle]:
    """Matches joined with their articles, filtered and ordered by ``where_order`` (SQL)."""
    rows = con.execute(
        """
        SELECT a.id, m.topic, m.score, m.terms, m.snippets, a.title, a.url, a.feed_name,
               a.language, a.published_at, a.discovered_at, a.status, m.reason
        FROM matches m JOIN articles a ON a.id = m.article_id
        """
        + where_order,
        list(params),
    ).fetchall()
    return [
        MatchedArticle(
            article_id=r[0], topic=r[1], score=r[2], terms=tuple(r[3]),
            snippets=snippets_from_json(r[4]), title=r[5], url=r[6], feed_name=r[7],
            language=r[8], published_at=r[9], discovered_at=r[10], status=r[11], reason=r[12],
        )
        for r in rows
    ]


def snippets_json(snippets: Sequence[Snippet]) -> str:
    """Snippets as stored in ``matches.snippets`` (JSON)."""
    return json.dumps(
        [{"text": s.text, "spans": [list(span) for span in s.spans]} for s in snippets],
        ensure_ascii=False,
    )


def snippets_from_json(raw: str) -> tuple[Snippet, ...]:
    """Snippets from their stored JSON."""
    return tuple(
        Snippet(item["text"], tuple(tuple(span) for span in item["spans"]))
        for item in json.loads(raw)
    )
