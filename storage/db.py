"""The DuckDB store: the single place that writes, always in transactions, idempotently."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
from filelock import FileLock, Timeout

from newswatch.errors import StorageError
from newswatch.models import (
    ArticleForMatching,
    Feedback,
    Freshness,
    ClusterInput,
    ClusterSummary,
    ExtractedArticle,
    FeedFetch,
    FeedHealth,
    FeedState,
    LedgerItem,
    MatchedArticle,
    MessageInfo,
    PendingArticle,
    SearchFilters,
    SearchPlan,
    SendRecord,
    StoredArticle,
    TopicMatch,
    TopicVersion,
    TopicVolume,
)
from storage import alerts, clusters, digests, exports, feedback, snapshot, topic_versions, workspace
from storage.bulk import rows_relation
from storage.matches import matched_articles, snippets_json
from storage.snapshot import is_locked, snapshot_path

if TYPE_CHECKING:
    from storage.search_index import Postings

_NEW_ARTICLE_COLUMNS = (
    ("id", "VARCHAR"), ("canonical_url", "VARCHAR"), ("url", "VARCHAR"), ("feed_name", "VARCHAR"),
    ("title", "VARCHAR"), ("summary", "VARCHAR"), ("author", "VARCHAR"), ("language_hint", "VARCHAR"),
    ("published_at", "TIMESTAMPTZ"), ("discovered_at", "TIMESTAMPTZ"),
)
_EXTRACTED_COLUMNS = (
    ("id", "VARCHAR"), ("status", "VARCHAR"), ("text", "VARCHAR"), ("title", "VARCHAR"),
    ("author", "VARCHAR"), ("published_at", "TIMESTAMPTZ"), ("language", "VARCHAR"),
    ("error", "VARCHAR"), ("content_hash", "VARCHAR"), ("canonical_url", "VARCHAR"),
)
_MATCH_COLUMNS = (
    ("article_id", "VARCHAR"), ("topic", "VARCHAR"), ("score", "DOUBLE"), ("terms", "VARCHAR[]"),
    ("snippets", "JSON"), ("matched_at", "TIMESTAMPTZ"), ("reason", "VARCHAR"),
)


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration shipped in ``storage/migrations``, in order."""
    found = []
    for entry in resources.files("storage").joinpath("migrations").iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    for (version, first, _), (same, second, _) in zip(found, found[1:], strict=False):
        if version == same:  # a packaging mistake: two changes took one number
            raise StorageError(f"schema migrations {first} and {second} share version {version}")
    return found


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def _not_after(moment: datetime | None, seen: datetime) -> datetime | None:
    """A claimed date, never later than when the item was seen (a feed's clock or typo is no
    reason to show an article in the future)."""
    return min(moment, seen) if moment is not None else None


def _search_index():
    """:mod:`storage.search_index`, imported on first use (it imports numpy)."""
    from storage import search_index

    return search_index


class Database:
    """An open newswatch DuckDB file.

    Writers take an exclusive lock file beside the database, so a second writer process gets a
    clear message instead of a DuckDB lock error. Use :func:`open_database`.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path | None):
        self.con = con
        self.path = path
        self._published = time.monotonic()  # the readers' snapshot was last published

    # -- schema -------------------------------------------------------------------------

    def migrate(self) -> list[str]:
        """Apply pending migrations, each in its own transaction; return their names."""
        self.con.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name VARCHAR,"
            " applied_at TIMESTAMPTZ)"
        )
        done = {row[0] for row in self.con.execute("SELECT version FROM schema_version").fetchall()}
        unknown = done - {version for version, _, _ in migrations()}
        if unknown:
            raise StorageError(
                f"database {self.path} has schema migrations {sorted(unknown)} that this newswatch"
                " does not know: it was written by a newer version; upgrade newswatch"
            )
        applied = []
        for version, name, sql in migrations():
            if version in done:
                continue
            with self.transaction():
                self.con.execute(sql)
                self.con.execute(
                    "INSERT INTO schema_version VALUES (?, ?, ?)", [version, name, now()]
                )
            applied.append(name)
        return applied

    def pending_migrations(self) -> list[str]:
        """Names of shipped migrations not applied to this database yet."""
        exists = self.con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_version'"
        ).fetchone()[0]
        done = {row[0] for row in self.con.execute("SELECT version FROM schema_version").fetchall()} if exists else set()
        return [name for version, name, _ in migrations() if version not in done]

    def schema_version(self) -> int:
        """The highest applied migration number."""
        return self.con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """BEGIN ... COMMIT, rolled back on any exception."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            with suppress(duckdb.TransactionException):  # already aborted, e.g. by a full disk
                self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    # -- feeds ----------------------------------------------------------------------------

    def feed_states(self) -> dict[str, FeedState]:
        """Stored URL and validators of every known feed, by name."""
        rows = self.con.execute("SELECT name, url, etag, last_modified FROM feeds").fetchall()
        return {row[0]: FeedState(*row) for row in rows}

    def sync_feeds(self, feeds: Iterable[tuple[str, str]]) -> None:
        """Make sure every configured (name, url) has a row; a changed URL resets validators and health."""
        with self.transaction():
            for name, url in feeds:
                self.con.execute(
                    """
                    INSERT INTO feeds (name, url, configured_url) VALUES (?, ?, ?)
                    ON CONFLICT (name) DO UPDATE SET
                        url = CASE WHEN feeds.configured_url = excluded.configured_url
                                   THEN feeds.url ELSE excluded.url END,
                        etag = CASE WHEN feeds.configured_url = excluded.configured_url
                                    THEN feeds.etag ELSE NULL END,
                        last_modified = CASE WHEN feeds.configured_url = excluded.configured_url
                                             THEN feeds.last_modified ELSE NULL END,
                        consecutive_failures = CASE WHEN feeds.configured_url = excluded.configured_url
                                                    THEN feeds.consecutive_failures ELSE 0 END,
                        failing_since = CASE WHEN feeds.configured_url = excluded.configured_url
                                             THEN feeds.failing_since END,
                        retry_after_until = CASE WHEN feeds.configured_url = excluded.configured_url
                                                 THEN feeds.retry_after_until END,
                        configured_url = excluded.configured_url
                    """,
                    [name, url, url],
                )

    def record_feed_fetch(self, result: FeedFetch, language_hint: str | None) -> int:
        """Store a feed's new items and its new state in one transaction; return new items.

        Validators (ETag / Last-Modified) are saved together with the items, so a crash can
        never leave a 304 hiding items that were not stored.
        """
        at = now()
        with self.transaction():
            before = self._count("articles")
            if result.items:
                relation, params = rows_relation(
                    _NEW_ARTICLE_COLUMNS,
                    [
                        [item.id, item.canonical_url, item.url, item.feed_name, item.title,
                         item.summary, item.author, language_hint, _not_after(item.published_at, at), at]
                        for item in result.items
                    ],
                )
                self.con.execute(
                    f"""
                    INSERT INTO articles (id, canonical_url, url, feed_name, title, summary,
                        author, language_hint, published_at, discovered_at, status)
                    SELECT *, 'pending' FROM {relation}
                    ON CONFLICT (id) DO NOTHING
                    """,
                    params,
                )
            new = self._count("articles") - before
            if result.ok:
                self.con.execute(
                    """
                    UPDATE feeds SET
                        url = CASE WHEN ? THEN ? ELSE url END,
                        etag = CASE WHEN ? THEN etag ELSE ? END,
                        last_modified = CASE WHEN ? THEN last_modified ELSE ? END,
                        last_fetch_at = ?, last_success_at = ?, last_status = ?,
                        last_error = NULL, consecutive_failures = 0,
                        items_seen = items_seen + ?
                    WHERE name = ?
                    """,
                    [
                        result.permanent_redirect, result.final_url,
                        result.not_modified, result.etag,
                        result.not_modified, result.last_modified,
                        at, at, result.status, new, result.feed_name,
                    ],
                )
            else:
                self.con.execute(
                    """
                    UPDATE feeds SET last_fetch_at = ?, last_status = ?, last_error = ?,
                        consecutive_failures = consecutive_failures + 1
                    WHERE name = ?
                    """,
                    [at, result.status, result.error, result.feed_name],
                )
            self._record_feed_health(result, at)
        return new

    def _count(self, table: str) -> int:
        return self.con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    # -- extraction -----------------------------------------------------------------------

    def pending_articles(self, max_attempts: int, limit: int | None = None) -> list[PendingArticle]:
        """Articles whose page still has to be fetched: new ones, and failed ones to retry."""
        rows = self.con.execute(
            """
            SELECT id, url, feed_name, title, summary, language_hint FROM articles
            WHERE status = 'pending' OR (status = 'summary_only' AND attempts < ?)
            ORDER BY discovered_at, id
            LIMIT ?
            """,
            [max_attempts, limit if limit is not None else 2**62],
        ).fetchall()
        return [PendingArticle(*row) for row in rows]

    def store_extracted(self, results: Sequence[ExtractedArticle]) -> None:
        """Save extraction results in one transaction; changed text is queued for matching.

        An article whose text (content hash) or canonical URL equals that of another article
        becomes ``duplicate_of`` it: of a stored original, or of an earlier one in this batch.
        """
        if not results:
            return
        relation, params = rows_relation(
            _EXTRACTED_COLUMNS,
            [
                [r.id, r.status, r.text, r.title, r.author, r.published_at, r.language, r.error,
                 r.content_hash, r.canonical_url]
                for r in results
            ],
        )
        with self.transaction():
            self.con.execute(  # to be matched: a text not matched yet (Database.articles_to_match)
                f"""
                INSERT INTO match_queue
                SELECT a.id FROM articles a JOIN {relation} AS r ON a.id = r.id
                WHERE a.text IS DISTINCT FROM r.text OR a.matched_fingerprint IS NULL
                ON CONFLICT DO NOTHING
                """,
                params,
            )
            self.con.execute(
                f"""
                UPDATE articles SET
                    status = r.status, title = coalesce(nullif(r.title, ''), articles.title),
                    author = coalesce(r.author, articles.author),
                    published_at = coalesce(articles.published_at, CASE
                        WHEN r.published_at > articles.discovered_at THEN articles.discovered_at
                        ELSE r.published_at END),
                    language = coalesce(r.language, articles.language_hint),
                    extract_error = r.error, attempts = articles.attempts + 1, extracted_at = ?,
                    content_hash = r.content_hash,
                    canonical_url = coalesce(r.canonical_url, articles.canonical_url),
                    duplicate_of = NULL,
                    matched_fingerprint = CASE WHEN articles.text IS NOT DISTINCT FROM r.text
                                               THEN articles.matched_fingerprint END,
                    text = r.text
                FROM {relation} AS r
                WHERE articles.id = r.id
                """,
                [now(), *params],
            )
            found = _originals(self.con, [r.id for r in results])
            if duplicates := list(found.items()):
                self.con.execute(
                    """
                    UPDATE articles SET duplicate_of = d.original
                    FROM (SELECT unnest($1::VARCHAR[]) AS id, unnest($2::VARCHAR[]) AS original) AS d
                    WHERE articles.id = d.id
                    """,
                    [[article_id for article_id, _ in duplicates], [original for _, original in duplicates]],
                )
            self.con.execute(  # to be clustered: Database.articles_to_cluster
                """
                INSERT INTO cluster_queue SELECT id FROM (SELECT unnest($1::VARCHAR[]) AS id)
                WHERE id NOT IN (SELECT article_id FROM cluster_members WHERE article_id IN (SELECT unnest($1::VARCHAR[])))
                ON CONFLICT DO NOTHING
                """,
                [[r.id for r in results]],
            )

    # -- matching -------------------------------------------------------------------------

    def queue_all_for_matcher(self, fingerprint: str) -> int:
        """When ``fingerprint`` is not the one the archive was matched with (topics edited),
        queue every extracted article for matching, once, and record it; return how many were queued."""
        with self.transaction():
            stored = self.con.execute("SELECT value FROM match_state WHERE name = 'fingerprint'").fetchone()
            if stored is not None and stored[0] == fingerprint:
                return 0
            queued = self.con.execute(
                "INSERT INTO match_queue SELECT id FROM articles WHERE status <> 'pending' ON CONFLICT DO NOTHING"
            ).fetchone()[0]
            self.con.execute(
                "INSERT INTO match_state VALUES ('fingerprint', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                [fingerprint],
            )
        return queued

    def articles_to_match(self, limit: int) -> list[ArticleForMatching]:
        """Up to ``limit`` queued articles (see :meth:`queue_all_for_matcher`), in no particular
        order: each is matched on its own. Only the queue is scanned, the articles are looked up
        by key."""
        ids = [row[0] for row in self.con.execute(
            "SELECT article_id FROM match_queue ORDER BY article_id LIMIT ?", [limit]
        ).fetchall()]
        return self.articles_by_id(ids)

    def store_matches(
        self, fingerprint: str, results: dict[str, list[TopicMatch]]
    ) -> None:
        """Replace the matches of these articles, mark them matched and take them off the match
        queue, in one transaction."""
        if not results:
            return
        at = now()
        ids = list(results)
        with self.transaction():
            self.con.execute("DELETE FROM matches WHERE article_id IN (SELECT unnest(?))", [ids])
            rows = [
                [article_id, m.topic, m.score, list(m.terms), snippets_json(m.snippets), at, m.reason]
                for article_id, found in results.items()
                for m in found
            ]
            if rows:
                relation, params = rows_relation(_MATCH_COLUMNS, rows)
                self.con.execute(f"INSERT INTO matches SELECT * FROM {relation}", params)
            self.con.execute(
                "UPDATE articles SET matched_fingerprint = ? WHERE id IN (SELECT unnest(?))",
                [fingerprint, ids],
            )
            self.con.execute("DELETE FROM match_queue WHERE article_id IN (SELECT unnest(?))", [ids])

    # -- story clusters -------------------------------------------------------------------

    def articles_to_cluster(self, max_attempts: int, limit: int) -> list[ClusterInput]:
        """Queued articles with final text (extracted, or out of fetch attempts), oldest first.

        A second copy of the same page (``duplicate_of`` an article with its canonical URL)
        is left out, and leaves the queue: it is the same article, not another outlet's report.
        Only the queue is scanned, never the archive.
        """
        with self.transaction():
            self.con.execute(  # both sides looked up by key (materialized: not a join over the archive)
                """
                DELETE FROM cluster_queue WHERE article_id IN (
                    WITH queued AS MATERIALIZED (
                        SELECT id, duplicate_of, canonical_url FROM articles
                        WHERE id IN (SELECT article_id FROM cluster_queue)
                    ), originals AS MATERIALIZED (
                        SELECT id, canonical_url FROM articles WHERE id IN (SELECT duplicate_of FROM queued)
                    )
                    SELECT q.id FROM queued q
                    JOIN originals o ON o.id = q.duplicate_of AND o.canonical_url = q.canonical_url)
                """
            )
            # ordered here, not by SQL: DuckDB reads the whole table for an ORDER BY ... LIMIT,
            # and looks the queued articles up by key without one
            ready = sorted(self.con.execute(
                """
                SELECT discovered_at, id FROM articles
                WHERE id IN (SELECT article_id FROM cluster_queue)
                  AND (status = 'extracted' OR (status = 'summary_only' AND attempts >= ?))
                """,
                [max_attempts],
            ).fetchall())[:limit]
            rows = self.con.execute(
                """
                SELECT id, title, coalesce(text, summary), feed_name, coalesce(published_at, discovered_at),
                       language
                FROM articles WHERE id IN (SELECT unnest(?::VARCHAR[]))
                """,
                [[article_id for _, article_id in ready]],
            ).fetchall()
        position = {article_id: n for n, (_, article_id) in enumerate(ready)}
        return [ClusterInput(*row) for row in sorted(rows, key=lambda row: position[row[0]])]

    @contextmanager
    def cluster_tables(self) -> Iterator[clusters.ClusterTables]:
        """The story-cluster tables in one transaction (``newswatch.cluster.ClusterStore``);
        articles that became members leave the cluster queue in it."""
        with self.transaction() as con:
            yield clusters.ClusterTables(con)
            con.execute(
                """
                DELETE FROM cluster_queue WHERE article_id IN (
                    SELECT article_id FROM cluster_members
                    WHERE article_id IN (SELECT article_id FROM cluster_queue))
                """
            )

    def cluster_summaries(self, article_ids: Sequence[str]) -> list[ClusterSummary]:
        """The story clusters of these articles (lead, outlets, size)."""
        return list(clusters.cluster_summaries(self.con, article_ids).values())

    # -- search index (numpy: imported by the commands that index or search) -----------------

    def update_search_index(self, postings: Postings, batch_size: int = 1000) -> int:
        """Index every article extracted since the last call, ``batch_size`` per segment (one
        transaction each; ``postings`` analyses them), then merge segments; return how many."""
        indexed = 0
        while True:
            with self.transaction():
                count = _search_index().index_pending(self.con, postings, batch_size)
            indexed += count
            while segments := _search_index().mergeable(self.con):
                with self.transaction():
                    _search_index().merge(self.con, segments)
            if count < batch_size:
                return indexed

    def search_candidates(
        self, plan: SearchPlan, filters: SearchFilters, newest: bool, limit: int
    ) -> tuple[list[tuple[str, float]], int]:
        """Up to ``limit`` (article id, index score) found by ``plan`` in order, and their total."""
        return _search_index().candidates(self.con, plan, filters, newest, limit)

    def search_articles(self, ids: Sequence[str]) -> dict[str, tuple]:
        """(id, title, text, language, feed, url, published, discovered, status) by id."""
        return _search_index().articles_to_check(self.con, ids)

    def search_index_stats(self) -> dict[str, int]:
        """Segments, live docs and posting rows of the search index."""
        return _search_index().stats(self.con)

    # -- readers' snapshot ------------------------------------------------------------------

    def publish_snapshot(self, min_interval: float = 0.0) -> bool:
        """Publish the readers' snapshot (storage.snapshot), unless the last one from this
        connection is younger than ``min_interval`` seconds; True if published."""
        if self.path is None or time.monotonic() - self._published < min_interval:
            return False
        snapshot.publish(self.con, self.path)
        self._published = time.monotonic()
        return True

    # -- relevance feedback -----------------------------------------------------------------

    def store_feedback(self, items: Sequence[Feedback]) -> None:
        """Insert or update feedback rows (keyed by kind, topic, article) in one transaction."""
        if items:
            with self.transaction():
                feedback.store(self.con, items)

    def feedback(self, topic: str | None = None) -> list[Feedback]:
        """Stored feedback, newest first (of one topic, or all)."""
        return feedback.listing(self.con, topic)

    def articles_by_id(self, ids: Sequence[str]) -> list[ArticleForMatching]:
        """The stored articles with these ids, as the matcher reads them."""
        rows = self.con.execute(
            "SELECT id, title, coalesce(text, summary, ''), language FROM articles WHERE id IN (SELECT unnest(?))",
            [list(ids)],
        ).fetchall()
        return [ArticleForMatching(*row) for row in rows]

    def find_article(self, ref: str, url_id: str | None = None) -> tuple[str, str] | None:
        """(id, URL) of the stored article with id, URL or canonical URL ``ref`` (or id ``url_id``)."""
        return feedback.find_article(self.con, ref, url_id)

    def accept_topic_versions(self, versions: Sequence[TopicVersion]) -> None:
        """Record accepted versions of topics in one transaction."""
        if versions:
            with self.transaction():
                topic_versions.store(self.con, versions)

    def topic_versions(self) -> dict[str, TopicVersion]:
        """The last accepted version of each topic."""
        return topic_versions.latest(self.con)

    # -- workspace pages --------------------------------------------------------------------

    def topic_volumes(self, at: datetime) -> dict[str, TopicVolume]:
        """Matches per topic in the day and week before ``at``, and in all."""
        return workspace.topic_volumes(self.con, at)

    def match_times(self, start: datetime, end: datetime) -> list[tuple[str, datetime]]:
        """(topic, time) of the matches in [start, end), for volume charts."""
        return workspace.match_times(self.con, start, end)

    def topic_matches(self, topic: str, filters: SearchFilters, newest: bool, limit: int) -> list[MatchedArticle]:
        """A topic's matches, filtered (dates, languages, outlets), best or newest first."""
        return workspace.topic_matches(self.con, topic, filters, newest, limit)

    def topic_facets(self, topic: str) -> tuple[list[str], list[str]]:
        """Languages and outlets among a topic's matches."""
        return workspace.facets(self.con, topic)

    def story(self, article_id: str) -> tuple[ClusterSummary | None, list[StoredArticle]]:
        """An article's story cluster and every member with its text, earliest first."""
        return workspace.story(self.con, article_id)

    # -- reading --------------------------------------------------------------------------

    def matches_between(self, start: datetime, end: datetime) -> list[MatchedArticle]:
        """Matches of non-duplicate articles found in [start, end), newest (published) first.

        An article belongs to the window in which newswatch found it, whatever date it claims:
        consecutive windows list every article once, including one dated in the future, one
        without a date and one published long before it was found (as digests do).
        """
        return matched_articles(
            self.con,
            """
            WHERE a.discovered_at >= ? AND a.discovered_at < ?
              AND a.duplicate_of IS NULL
            ORDER BY m.topic, coalesce(a.published_at, a.discovered_at) DESC, a.id
            """,
            [start, end],
        )

    # -- feed health ----------------------------------------------------------------------

    _HEALTH_COLUMNS = (
        "name, url, last_fetch_at, last_success_at, last_status, last_error,"
        " consecutive_failures, failing_since, retry_after_until, items_seen"
    )

    def _record_feed_health(self, result: FeedFetch, at: datetime) -> None:
        """Health bookkeeping of one fetch (inside :meth:`record_feed_fetch`'s transaction)."""
        self.con.execute(
            """
            UPDATE feeds SET
                failing_since = CASE WHEN ? THEN NULL ELSE coalesce(failing_since, ?) END,
                retry_after_until = ?
            WHERE name = ?
            """,
            [result.ok, at, result.retry_after, result.feed_name],
        )

    def feed_health(self) -> dict[str, FeedHealth]:
        """Fetch history of every known feed, by name."""
        rows = self.con.execute(f"SELECT {self._HEALTH_COLUMNS} FROM feeds ORDER BY name").fetchall()
        return {row[0]: FeedHealth(*row) for row in rows}

    def failing_feeds(self) -> list[FeedHealth]:
        """Feeds whose latest fetch failed, by name."""
        rows = self.con.execute(
            f"SELECT {self._HEALTH_COLUMNS} FROM feeds WHERE consecutive_failures > 0 ORDER BY name"
        ).fetchall()
        return [FeedHealth(*row) for row in rows]

    def reset_feed_health(self, name: str) -> bool:
        """Forget a feed's failures and Retry-After so that the next run fetches it; False if unknown."""
        with self.transaction():
            found = self.con.execute(
                """
                UPDATE feeds SET consecutive_failures = 0, failing_since = NULL,
                    retry_after_until = NULL, last_error = NULL
                WHERE name = ? RETURNING name
                """,
                [name],
            ).fetchall()
        return bool(found)

    def counts(self) -> dict[str, int]:
        """Row counts per table, for summaries and tests."""
        return {table: self._count(table) for table in ("feeds", "articles", "matches")}

    # -- digest ledger (storage.digests) --------------------------------------------------

    def digest_candidates(self, topics: Sequence[str], min_score: float, found_since: datetime) -> list[MatchedArticle]:
        """Matches for ``topics`` scoring at least ``min_score``, of articles found since then; best first."""
        return digests.candidate_matches(self.con, topics, min_score, found_since)

    def digest_last_cutoff(self, digest: str) -> datetime | None:
        """When the stories of the digest's latest sent message were selected (None: never sent)."""
        return digests.last_cutoff(self.con, digest)

    def digest_handled(self, digest: str, story_keys: Sequence[str]) -> dict[str, int]:
        """Of these story keys, those in a pending or sent message of the digest: key -> largest size."""
        return digests.handled(self.con, digest, story_keys)

    def record_digest_attempt(self, info: MessageInfo, message: bytes, items: Sequence[LedgerItem]) -> int:
        """Store a message about to be delivered as pending, with its stories; return its send id."""
        with self.transaction() as con:
            return digests.record_attempt(con, info, message, items, now())

    def mark_digest_sent(self, send_id: int, warning: str | None = None) -> None:
        """The transport accepted the message: its stories are now sent."""
        self._set_digest_status(send_id, "sent", warning)

    def mark_digest_failed(self, send_id: int, error: str) -> None:
        """The message was certainly not delivered: its stories are due again."""
        self._set_digest_status(send_id, "failed", error)

    def mark_digest_unconfirmed(self, send_id: int, error: str) -> None:
        """Delivery outcome unknown: stays pending, to be re-sent as is by the next run."""
        self._set_digest_status(send_id, "pending", error)

    def _set_digest_status(self, send_id: int, status: str, error: str | None) -> None:
        with self.transaction() as con:
            digests.set_status(con, send_id, status, error, now())

    def unconfirmed_digests(self, digest: str) -> list[tuple[SendRecord, bytes]]:
        """Pending messages of the digest (oldest first) with their exact bytes."""
        return digests.unconfirmed(self.con, digest)

    def last_digest_sent(self, digest: str) -> SendRecord | None:
        """The digest's latest sent message, if any."""
        return digests.last_sent(self.con, digest)

    def digest_history(self, digest: str | None = None, limit: int = 20) -> list[SendRecord]:
        """The latest digest messages (of one digest, or all), newest first."""
        return digests.history(self.con, digest, limit)


    # -- alerts, spikes, Atom feeds, export (storage.alerts, storage.exports) ---------------

    def watched_since(self) -> datetime | None:
        """When the first article was found (None: none yet)."""
        return alerts.coverage_start(self.con)

    def topic_story_counts(self, topic: str, windows: Sequence[tuple[datetime, datetime]]) -> list[int]:
        """Distinct stories of ``topic`` in each [start, end) window."""
        return alerts.story_counts(self.con, topic, windows)

    def topic_window_matches(self, topic: str, start: datetime, end: datetime) -> list[MatchedArticle]:
        """Matches of ``topic`` with their time in [start, end), best first."""
        return alerts.window_matches(self.con, topic, start, end)

    def last_keyed_message(self, stream: str, key_prefix: str) -> datetime | None:
        """When the latest pending or sent message of ledger stream ``stream`` with an item whose
        key starts with ``key_prefix`` was made."""
        return alerts.last_keyed(self.con, stream, key_prefix)

    def latest_topic_matches(self, topic: str, limit: int) -> list[MatchedArticle]:
        """The topic's most recently found matches."""
        return alerts.latest_matches(self.con, topic, limit)

    def digest_sent_items(self, digest: str, limit: int) -> list[tuple[str, str, datetime]]:
        """(article id, topic, sent at) of stories listed in the digest's sent messages, latest first."""
        return alerts.digest_sent_items(self.con, digest, limit)

    def matches_of(self, article_ids: Sequence[str]) -> list[MatchedArticle]:
        """Every match of these articles."""
        return alerts.matches_of(self.con, article_ids)

    def export_matches(self, start: datetime, end: datetime, out: Path, fmt: str, topics: Sequence[str]) -> int:
        """Write the matches of [start, end) to ``out`` with DuckDB's COPY; return the row count."""
        return exports.copy_matches(self.con, start, end, out, fmt, topics)


def _originals(con: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> dict[str, str]:
    """Of the articles ``ids`` (just stored, ``duplicate_of`` cleared), those that duplicate
    another article -> the earliest (discovered_at, id) original with the same content hash or
    canonical URL: a stored one, or one of ``ids`` found before it. The articles sharing a key
    are looked up through the indexes on content_hash and canonical_url, never scanned for."""
    columns = "id, content_hash, canonical_url, discovered_at, duplicate_of"
    batch = con.execute(f"SELECT {columns} FROM articles WHERE id IN (SELECT unnest(?::VARCHAR[]))", [list(ids)]).fetchall()
    hashes = [row[1] for row in batch if row[1] is not None]
    urls = [row[2] for row in batch]
    same_key = {row[0]: row for row in con.execute(
        f"""
        SELECT {columns} FROM articles WHERE content_hash IN (SELECT unnest($1::VARCHAR[]))
        UNION ALL
        SELECT {columns} FROM articles WHERE canonical_url IN (SELECT unnest($2::VARCHAR[]))
        """,
        [hashes, urls],
    ).fetchall()}
    in_batch = set(ids)
    originals = {}
    for article_id, content_hash, canonical_url, found_at, _ in batch:
        candidates = [
            (other_found_at, other_id)
            for other_id, other_hash, other_url, other_found_at, other_duplicate_of in same_key.values()
            if (other_hash is not None and other_hash == content_hash or other_url == canonical_url)
            and other_id != article_id and other_duplicate_of is None
            and (other_id not in in_batch or (other_found_at, other_id) < (found_at, article_id))
        ]
        if candidates:
            originals[article_id] = min(candidates)[1]
    return originals


# DuckDB errors caused by the machine (full disk, file size limit, read-only file system),
# not by newswatch: reported to the operator as StorageError.
_ENVIRONMENT_ERRORS = (
    duckdb.IOException, duckdb.FatalException, duckdb.TransactionException, duckdb.PermissionException,
)


KEY_LOOKUP_LIMIT = 2048  # keys looked up through an index rather than by a scan (DuckDB's index_scan_max_count)
READER_GRACE = 10.0  # seconds a writer waits at least for readers that have the file open


def _connect(path: Path, read_only: bool, lock_timeout: float) -> duckdb.DuckDBPyConnection:
    """Connect to ``path``. Readers (storage.snapshot.open_reader) hold the file open for a
    moment at a time, which locks writers out: a writer retries for ``lock_timeout`` seconds,
    and at least :data:`READER_GRACE`."""
    deadline = time.monotonic() + max(lock_timeout, READER_GRACE)
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as err:
            if read_only or "lock" not in str(err).lower() or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


@contextmanager
def open_database(
    path: Path, read_only: bool = False, lock_timeout: float = 0
) -> Iterator[Database]:
    """Open (creating and migrating when needed) the database at ``path``.

    A writer holds ``<path>.lock`` for as long as it is open; a second writer waits up to
    ``lock_timeout`` seconds and then fails with :class:`StorageError`.
    """
    lock = None
    if not read_only:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StorageError(f"cannot create data directory {path.parent}: {err.strerror}") from err
        lock = FileLock(f"{path}.lock")
        try:
            lock.acquire(timeout=lock_timeout)
        except Timeout:
            raise StorageError(
                f"another newswatch process is writing {path} (lock file {path}.lock);"
                " wait for it to finish or stop it"
            ) from None
        except OSError as err:
            raise StorageError(
                f"cannot create lock file {path}.lock: {err.strerror or err} (the data directory must be writable)"
            ) from err
    try:
        try:
            con = _connect(path, read_only, lock_timeout)
        except duckdb.Error as err:
            busy = " (a newswatch run is writing it; try again when it finishes)" if "lock" in str(err).lower() else ""
            raise StorageError(f"cannot open database {path}{busy}: {err}") from err
        try:
            con.execute("SET TimeZone = 'UTC'")
            # A join with up to this many keys on one side (a batch of articles, a page of
            # matches) filters the other side by those keys, through its index when it has one
            # (DuckDB's default, 50, reads whole columns of the archive for larger batches).
            con.execute(f"SET dynamic_or_filter_threshold = {KEY_LOOKUP_LIMIT}")
            db = Database(con, path)
            if not read_only:
                db.migrate()
                if not snapshot_path(path).exists():
                    db.publish_snapshot()  # readers have something to open while this writer holds the file
            elif pending := db.pending_migrations():
                raise StorageError(
                    f"database {path} uses an older schema (missing {', '.join(pending)});"
                    " run `newswatch ingest` once to upgrade it"
                )
            yield db
        except _ENVIRONMENT_ERRORS as err:
            raise StorageError(
                f"cannot write database {path}: {err}. Check free disk space and the permissions"
                f" of {path.parent}, then rerun: committed work is kept, the rest is redone"
            ) from err
        finally:
            con.close()
    finally:
        if lock is not None:
            lock.release()


@contextmanager
def open_reader(path: Path, create_lock_timeout: float | None = None) -> Iterator[tuple[Database, Freshness]]:
    """Open the database read-only, or its snapshot while a writer holds it (storage.snapshot).

    With ``create_lock_timeout``, a database that does not exist yet or needs a migration is
    first created or upgraded by a writer (waiting up to that long for another writer).
    """
    if create_lock_timeout is not None and _needs_writer(path):
        with open_database(path, lock_timeout=create_lock_timeout):
            pass
    elif not path.exists() and not snapshot_path(path).exists():
        raise StorageError(f"no database at {path} yet: run `newswatch ingest` (or `run`) first")
    with ExitStack() as stack:
        try:
            db = stack.enter_context(open_database(path, read_only=True))
            freshness = Freshness(False)
        except StorageError as error:
            if not is_locked(error):
                raise
            copy = _await_snapshot(path, error)
            db = stack.enter_context(open_database(copy, read_only=True))
            freshness = Freshness(True, datetime.fromtimestamp(copy.stat().st_mtime, UTC))
        yield db, freshness


def _await_snapshot(path: Path, error: StorageError) -> Path:
    """The snapshot of ``path``, which a writer holds: every writer publishes one as it opens
    the file, so wait up to :data:`READER_GRACE` seconds for one that is just starting."""
    copy = snapshot_path(path)
    deadline = time.monotonic() + READER_GRACE
    while not copy.exists():
        if time.monotonic() >= deadline:
            raise StorageError(
                f"{path} is being written by a newswatch run and has no read-only snapshot"
                f" ({copy} is missing); try again when the run ends"
            ) from error
        time.sleep(0.1)
    return copy


def _needs_writer(path: Path) -> bool:
    if not path.exists():
        return True
    try:
        with open_database(path, read_only=True) as db:
            return bool(db.pending_migrations())
    except StorageError as error:
        if is_locked(error):
            return False  # a writer has it open, and migrates it
        raise
