"""SQL for the accepted versions of topics (table ``topic_versions``, migration 190).

Every acceptance is a new row; the latest row of a topic is its accepted version. Every
function runs inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from newswatch.models import TopicVersion


def store(con: duckdb.DuckDBPyConnection, versions: Sequence[TopicVersion]) -> None:
    """Record accepted versions (a version accepted again gets a new row: the history stays)."""
    con.executemany(
        "INSERT INTO topic_versions VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [[v.topic, v.fingerprint, v.definition, v.accepted_at, v.how, v.note] for v in versions],
    )


def latest(con: duckdb.DuckDBPyConnection) -> dict[str, TopicVersion]:
    """The last accepted version of each topic."""
    rows = con.execute(
        "SELECT topic, fingerprint, definition, accepted_at, how, note FROM topic_versions"
        " QUALIFY row_number() OVER (PARTITION BY topic ORDER BY accepted_at DESC) = 1"
    ).fetchall()
    return {row[0]: TopicVersion(*row) for row in rows}
