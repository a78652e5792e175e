"""Plain data records passed between pipeline steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One entry of a feed, before its page is fetched."""

    id: str
    feed_name: str
    url: str
    canonical_url: str
    title: str
    summary: str
    published_at: datetime | None
    author: str | None = None


@dataclass(frozen=True, slots=True)
class FeedState:
    """What the store remembers of a feed between runs."""

    name: str
    url: str
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True, slots=True)
class FeedFetch:
    """Outcome of fetching one feed (successful, unchanged or failed)."""

    feed_name: str
    url: str
    status: int | None
    items: tuple[FeedItem, ...] = ()
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    error: str | None = None
    bytes_downloaded: int = 0
    final_url: str | None = None
    permanent_redirect: bool = False
    retry_after: datetime | None = None  # the server asked us not to come back before this

    @property
    def ok(self) -> bool:
        """True when the feed answered usefully (new content or 304)."""
        return self.error is None

    @property
    def transient(self) -> bool:
        """True for failures worth retrying soon: network errors, 429 and 5xx answers.

        Not when the server said when to come back (Retry-After): that time is honoured instead.
        """
        return (
            not self.ok
            and self.retry_after is None
            and (self.status is None or self.status == 429 or self.status >= 500)
        )


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """A feed's fetch history, as stored: shown by ``sources status`` and report footers."""

    name: str
    url: str
    last_fetch_at: datetime | None = None
    last_success_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    failing_since: datetime | None = None
    retry_after_until: datetime | None = None
    items_seen: int = 0


@dataclass(frozen=True, slots=True)
class PendingArticle:
    """An article known from a feed whose page has not been extracted yet."""

    id: str
    url: str
    feed_name: str
    title: str
    summary: str
    language_hint: str | None


@dataclass(frozen=True, slots=True)
class ExtractedArticle:
    """Result of fetching and extracting one article page."""

    id: str
    status: str  # "extracted" or "summary_only"
    text: str
    title: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    language: str | None = None
    final_url: str | None = None
    canonical_url: str | None = None
    content_hash: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Snippet:
    """Plain text with highlight spans (character offsets into ``text``)."""

    text: str
    spans: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class TopicMatch:
    """Why an article matched a topic: score, matched terms and snippets."""

    topic: str
    score: float
    terms: tuple[str, ...]
    snippets: tuple[Snippet, ...] = ()


@dataclass(frozen=True, slots=True)
class ArticleForMatching:
    """The fields of a stored article that the matcher reads."""

    id: str
    title: str
    text: str
    language: str | None


@dataclass(slots=True)
class IngestStats:
    """Counters for one ingest run."""

    feeds_ok: int = 0
    feeds_not_modified: int = 0
    feeds_failed: int = 0
    feeds_skipped: int = 0
    new_articles: int = 0
    extracted: int = 0
    summary_only: int = 0
    clustered: int = 0
    matched_articles: int = 0
    matches: int = 0
    indexed: int = 0  # articles added to the search index
    failures: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
