"""Plain data records passed between pipeline steps, storage and rendering.

Error texts in records (and the URL of :class:`FeedHealth`, which is only shown) pass through
:func:`newswatch.redact.redact_text` when the record is made, so no password or token from a
feed URL reaches the database, a log line, a report, a digest or the console.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from newswatch.redact import redact_text


def _redact_fields(record: object, *names: str) -> None:
    """Redact the text fields ``names`` of a frozen record, in ``__post_init__``."""
    for name in names:
        value = getattr(record, name)
        if value:
            object.__setattr__(record, name, redact_text(value))


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
    permanent: bool = False  # a failure that retrying soon cannot fix (unknown host, bad certificate, ...)
    items_dropped: int = 0  # items beyond settings.http.max_items_per_feed, not taken

    def __post_init__(self) -> None:
        _redact_fields(self, "error")

    @property
    def ok(self) -> bool:
        """True when the feed answered usefully (new content or 304)."""
        return self.error is None

    @property
    def transient(self) -> bool:
        """True for failures worth retrying soon: network errors, 408, 429 and 5xx answers.

        Not when the server said when to come back (Retry-After): that time is honoured instead;
        nor for failures that retrying cannot fix (``permanent``: unknown host name, invalid TLS
        certificate, other 4xx answers).
        """
        return (
            not self.ok
            and not self.permanent
            and self.retry_after is None
            and (self.status is None or self.status in (408, 429) or self.status >= 500)
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

    def __post_init__(self) -> None:
        _redact_fields(self, "url", "last_error")


@dataclass(frozen=True, slots=True)
class PendingArticle:
    """An article known from a feed whose page has not been extracted yet."""

    id: str
    url: str
    feed_name: str
    title: str
    summary: str
    language_hint: str | None
    timezone: str | None = None
    """The feed's time zone (``Feed.timezone``) for times its pages state without one."""


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

    def __post_init__(self) -> None:
        _redact_fields(self, "error")


@dataclass(frozen=True, slots=True)
class Snippet:
    """Plain text with highlight spans (character offsets into ``text``)."""

    text: str
    spans: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class TopicMatch:
    """Why an article matched a topic: score, matched terms, snippets, and ``reason``, the same
    in words for the analyst ("'peacekeepers' near 'mandate'; Karabakh mentioned")."""

    topic: str
    score: float
    terms: tuple[str, ...]
    snippets: tuple[Snippet, ...] = ()
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ArticleForMatching:
    """The fields of a stored article that the matcher reads."""

    id: str
    title: str
    text: str
    language: str | None


@dataclass(frozen=True, slots=True)
class MatchedArticle:
    """An article with one of its topic matches, for reports."""

    article_id: str
    topic: str
    score: float
    terms: tuple[str, ...]
    snippets: tuple[Snippet, ...]
    title: str
    url: str
    feed_name: str
    language: str | None
    published_at: datetime | None
    discovered_at: datetime
    status: str
    reason: str = ""  # why it matched, in words (TopicMatch.reason)


# -- story clusters ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClusterInput:
    """The fields of an article that clustering reads."""

    id: str
    title: str
    text: str | None
    source: str
    published_at: datetime | None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class PageLine:
    """One line (paragraph) of a clustered page, for learning each outlet's site chrome."""

    source: str
    line_hash: int
    article_id: str
    seen_at: datetime


@dataclass(frozen=True, slots=True)
class Edition:
    """A story's founder in one language: its cluster, time, title and lede with their anchors
    (:mod:`newswatch.anchors`) and, once compared with another founder, their embedding."""

    cluster_id: str
    language: str
    seen_at: datetime
    anchors: frozenset[str]
    lede: str
    embedding: Sequence[float] | None


@dataclass(frozen=True, slots=True)
class MemberRow:
    """One article to store as a cluster member."""

    article_id: str
    cluster_id: str
    source: str
    seen_at: datetime
    text_words: int
    signature: bytes | None
    band_keys: Sequence[int]
    language: str | None = None
    body: str | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A stored member sharing an LSH band with query article number ``query``."""

    query: int
    article_id: str
    cluster_id: str
    signature: bytes
    seen_at: datetime
    language: str | None = None


@dataclass(frozen=True, slots=True)
class ClusterSummary:
    """What a report shows for one story: the lead once, plus who else reported it."""

    cluster_id: str
    lead_article_id: str
    lead_source: str
    lead_title: str | None
    lead_url: str | None
    size: int
    outlets: tuple[str, ...]
    first_seen: datetime
    last_seen: datetime
    members: tuple[str, ...]  # article ids, earliest first
    editions: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (language, its outlets) when known

    def also_reported_by(self, source: str | None = None) -> tuple[str, ...]:
        """Outlets other than ``source`` (default: the lead's outlet)."""
        shown = self.lead_source if source is None else source
        return tuple(outlet for outlet in self.outlets if outlet != shown)


# -- digest ledger -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerItem:
    """A story handled by a digest message (listed, or counted as over ``max_items``)."""

    story_key: str
    article_id: str
    topic: str
    score: float
    story_size: int
    listed: bool


@dataclass(frozen=True, slots=True)
class MessageInfo:
    """What the ledger keeps about a digest message besides its bytes."""

    digest: str
    transport: str
    message_id: str
    subject: str
    recipients: tuple[str, ...]
    window_start: datetime | None
    cutoff: datetime
    listed: int
    omitted: int


@dataclass(frozen=True, slots=True)
class SendRecord(MessageInfo):
    """A stored digest message and its delivery status."""

    id: int
    status: str
    created_at: datetime
    sent_at: datetime | None
    error: str | None


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
    dropped: dict[str, int] = field(default_factory=dict)  # feed -> items beyond max_items_per_feed


# Columns of an export row (``newswatch export``), in file order: one row per (article, topic) match.
EXPORT_COLUMNS = (
    "story_id", "story_size", "topic", "score", "title", "outlet", "url", "language", "published",
    "found", "matched_terms", "also_reported_by", "article_id",
)


@dataclass(frozen=True, slots=True)
class IndexInput:
    """An article to add to the search index, as stored."""

    article_id: str
    title: str
    text: str
    feed_name: str
    language: str | None
    seen_at: datetime  # published_at, else discovered_at
    extracted_at: datetime


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Restrictions on the articles searched."""

    since: datetime | None = None
    until: datetime | None = None
    languages: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    topic: str | None = None


# A search plan: what the index must look up for a query (newswatch.search builds it from the
# parsed query; storage.search_index turns it into SQL). ``fields``: 1 title, 2 body, 3 both.


@dataclass(frozen=True, slots=True)
class WordPlan:
    """Docs containing a word: its stem ``value`` (``prefix``: a folded prefix of the word)."""

    value: str
    prefix: bool
    fields: int


@dataclass(frozen=True, slots=True)
class AllPlan:
    """Docs in every ``required`` plan and in none of the ``excluded`` ones."""

    required: tuple[SearchPlan, ...]
    excluded: tuple[SearchPlan, ...] = ()


@dataclass(frozen=True, slots=True)
class AnyPlan:
    """Docs in any of the plans."""

    operands: tuple[SearchPlan, ...]


@dataclass(frozen=True, slots=True)
class LangPlan:
    """Docs in one language (they add nothing to the score)."""

    code: str


@dataclass(frozen=True, slots=True)
class ScaledPlan:
    """A plan whose score is multiplied by ``factor``."""

    operand: SearchPlan
    factor: float


SearchPlan = WordPlan | AllPlan | AnyPlan | LangPlan | ScaledPlan


@dataclass(frozen=True, slots=True)
class Freshness:
    """What a reader sees: the database itself, or the snapshot published at ``as_of``."""

    snapshot: bool
    as_of: datetime | None = None

    def describe(self) -> str:
        """One line for people: where the data comes from and how old it may be."""
        if not self.snapshot:
            return "live data"
        when = f"{self.as_of:%Y-%m-%d %H:%M UTC}" if self.as_of else "an earlier run"
        return f"an ingest is running: showing the snapshot of {when}"


FEEDBACK_KINDS = ("not_relevant", "missed")


@dataclass(frozen=True, slots=True)
class Feedback:
    """An analyst's verdict: not_relevant (a match that should not be) or missed (an article that should)."""

    kind: str
    topic: str
    article_id: str
    url: str
    note: str = ""
    source: str = "cli"
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class TopicVersion:
    """An accepted version of a topic: what decides its matches (``definition``, JSON), when and
    how it was accepted (first version, no verdict lost, accepted by operator)."""

    topic: str
    fingerprint: str
    definition: str
    accepted_at: datetime
    how: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class TopicVolume:
    """How much a topic matched: in the last day, week and in all, and when it last did."""

    topic: str
    day: int
    week: int
    total: int
    latest: datetime | None


@dataclass(frozen=True, slots=True)
class StoredArticle:
    """An article as stored, with its text and the topics it matched (story page)."""

    article_id: str
    title: str
    url: str
    feed_name: str
    language: str | None
    published_at: datetime | None
    discovered_at: datetime
    status: str
    text: str
    topics: tuple[str, ...]
