"""Export of matches with their stories (tables from migrations 001 and 003), written by DuckDB's COPY."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import duckdb

from newswatch.models import EXPORT_COLUMNS as COLUMNS

COPY_OPTIONS = {"csv": "FORMAT csv, HEADER true", "jsonl": "FORMAT json", "parquet": "FORMAT parquet"}


def copy_matches(
    con: duckdb.DuckDBPyConnection, start: datetime, end: datetime, out: Path, fmt: str, topics: Sequence[str]
) -> int:
    """Write the matches of [start, end) (of ``topics``, or all) to ``out`` in ``fmt`` (a key of
    :data:`COPY_OPTIONS`; CSV gets lists joined with "; "); return the row count. Only a
    temporary table is written to the database."""
    as_text = fmt == "csv"
    lists = ("array_to_string(matched_terms, '; ')", "array_to_string(also_reported_by, '; ')") if as_text else (
        "matched_terms", "also_reported_by")
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE export_rows AS
        WITH rows AS (
            SELECT coalesce(c.cluster_id, a.id) AS story_id, m.topic, m.score, a.title,
                   a.feed_name AS outlet, a.url, a.language, a.published_at AS published,
                   a.discovered_at AS found, m.terms AS matched_terms, a.id AS article_id
            FROM matches m JOIN articles a ON a.id = m.article_id
            LEFT JOIN cluster_members c ON c.article_id = a.id
            WHERE coalesce(a.published_at, a.discovered_at) >= $1
              AND coalesce(a.published_at, a.discovered_at) < $2
              AND a.duplicate_of IS NULL
              AND (len($3::VARCHAR[]) = 0 OR m.topic IN (SELECT unnest($3::VARCHAR[])))
        ), stories AS (
            SELECT cluster_id, count(*) AS size
            FROM cluster_members WHERE cluster_id IN (SELECT story_id FROM rows) GROUP BY cluster_id
        )
        SELECT r.story_id, coalesce(s.size, 1)::INTEGER AS story_size, r.topic, r.score, r.title, r.outlet,
               r.url, r.language, r.published, r.found, r.matched_terms,
               coalesce((SELECT list(DISTINCT o.source ORDER BY o.source) FROM cluster_members o
                         WHERE o.cluster_id = r.story_id AND o.source <> r.outlet), [])::VARCHAR[]
                   AS also_reported_by, r.article_id
        FROM rows r LEFT JOIN stories s ON s.cluster_id = r.story_id
        ORDER BY r.topic, coalesce(r.published, r.found) DESC, r.article_id
        """,
        [start, end, list(topics)],
    )
    columns = ", ".join(COLUMNS[:10]) + f", {lists[0]} AS matched_terms, {lists[1]} AS also_reported_by, article_id"
    target = str(out).replace("'", "''")
    con.execute(f"COPY (SELECT {columns} FROM export_rows) TO '{target}' ({COPY_OPTIONS[fmt]})")
    return con.execute("SELECT count(*) FROM export_rows").fetchone()[0]
