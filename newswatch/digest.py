"""E-mail digests: which stories are due, what the message says, and exactly-once bookkeeping.

A digest lists every story matched for its topics that no earlier message of the digest holds
(the ledger in ``digest_items``), among articles found since its last sent message (less
``lookback_hours``, so articles matched late still count). Nothing depends on publication
dates or on runs being on time: a failed or missed run leaves its stories due for the next.

Order of work in :func:`run_digest`: re-send any message whose delivery is unconfirmed (same
bytes, same Message-ID); select due stories; store the new message as *pending* together with
its stories; hand it to the transport; mark it *sent* only when the server accepted it, *failed*
(stories due again) when it certainly was not delivered, or leave it *pending* when unknown.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol
from urllib.parse import quote
from zoneinfo import ZoneInfo

from newswatch.config import Config, Digest, MailSettings
from newswatch.errors import DeliveryError
from newswatch.mail import (
    Delivery,
    Envelope,
    OutboxTransport,
    Outcome,
    Transport,
    address_of,
    build_message,
    new_message_id,
    transport_for,
)
from newswatch.models import FeedHealth, LedgerItem, MatchedArticle, MessageInfo, SendRecord
from newswatch.render import StoryItem, TopicSection, clusters_by_article, environment, inline_css
from storage.db import Database, now

log = logging.getLogger("newswatch.digest")


class Subscription(Protocol):
    """What :func:`select_stories` needs of a subscription (a :class:`Digest`, or an alert's
    stream on one channel): its ledger name, topics and limits."""

    @property
    def name(self) -> str: ...
    @property
    def topics(self) -> Sequence[str]: ...
    @property
    def min_score(self) -> float: ...
    @property
    def max_items(self) -> int: ...
    @property
    def lookback_hours(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Selection:
    """The stories due in a digest: those listed (best first) and those over ``max_items``."""

    window_start: datetime | None
    cutoff: datetime
    listed: tuple[StoryItem, ...]
    omitted: tuple[StoryItem, ...]

    @property
    def empty(self) -> bool:
        """True when nothing is due."""
        return not self.listed and not self.omitted


@dataclass(frozen=True, slots=True)
class DigestView:
    """Everything the digest templates need."""

    digest: Digest
    selection: Selection
    sections: tuple[TopicSection, ...]
    failing_feeds: tuple[FeedHealth, ...]
    feeds_total: int
    unsubscribe: str
    feedback_url: str = ""  # the analyst workspace: each item links to its story page there

    @property
    def title(self) -> str:
        """The digest's title."""
        return self.digest.display_title

    @property
    def tz(self) -> ZoneInfo:
        """The digest's time zone (dates are shown in it)."""
        return ZoneInfo(self.digest.schedule.timezone)

    @property
    def listed(self) -> int:
        """Stories shown."""
        return len(self.selection.listed)

    @property
    def omitted(self) -> int:
        """Stories due but over ``max_items``."""
        return len(self.selection.omitted)

    @property
    def topic_counts(self) -> list[tuple[str, int]]:
        """(topic, new stories) for every topic with any, in the digest's topic order."""
        counts = Counter(item.article.topic for item in self.selection.listed + self.selection.omitted)
        return [(topic, counts[topic]) for topic in self.digest.topics if counts[topic]]

    @property
    def subject(self) -> str:
        """``<title>: 7 new (peace accord 4, CSTO 3)`` or ``<title>: nothing new``."""
        total = self.listed + self.omitted
        if not total:
            return f"{self.title}: nothing new"
        return f"{self.title}: {total} new ({', '.join(f'{topic} {n}' for topic, n in self.topic_counts)})"

    @property
    def summary(self) -> str:
        """One line for the footer."""
        more = f", {self.omitted} more not shown (limit {self.digest.max_items})" if self.omitted else ""
        return f"{self.listed} stories listed{more} · minimum score {self.digest.min_score:g} · digest {self.digest.name}"


@dataclass(slots=True)
class DigestResult:
    """What a digest run did."""

    digest: str
    status: str  # sent | empty | dry-run
    listed: int = 0
    omitted: int = 0
    subject: str = ""
    message_id: str | None = None
    send_id: int | None = None
    redelivered: list[str] = field(default_factory=list)
    detail: str = ""
    files: list[str] = field(default_factory=list)


def select_stories(db: Database, digest: Subscription, cutoff: datetime, send_updates: bool) -> Selection:
    """The stories due in ``digest`` at ``cutoff``, best first, split at ``max_items``.

    A story already in a pending or sent message of the digest is due again only with
    ``send_updates`` and when more articles have joined it since.
    """
    window_start = db.digest_last_cutoff(digest.name)
    found_since = (window_start or cutoff) - timedelta(hours=digest.lookback_hours)
    rows = db.digest_candidates(digest.topics, digest.min_score, found_since)
    cluster_of = clusters_by_article(db.cluster_summaries(sorted({row.article_id for row in rows})))
    by_story: dict[str, list[MatchedArticle]] = {}
    for row in rows:  # best score first
        by_story.setdefault(StoryItem(row, cluster_of.get(row.article_id)).key, []).append(row)
    aliases = {
        key: {key, *(cluster.members if (cluster := cluster_of.get(story_rows[0].article_id)) else ())}
        for key, story_rows in by_story.items()
    }
    handled = db.digest_handled(digest.name, sorted(set().union(*aliases.values())))
    items = []
    for key, story_rows in by_story.items():
        cluster = cluster_of.get(story_rows[0].article_id)
        sent_size = max((handled[alias] for alias in aliases[key] if alias in handled), default=None)
        if sent_size is not None and not (send_updates and cluster and cluster.size > sent_size):
            continue
        lead_id = cluster.lead_article_id if cluster else key
        if not any(row.article_id == lead_id for row in story_rows):
            lead_id = story_rows[0].article_id
        lead_rows = sorted(
            (row for row in story_rows if row.article_id == lead_id),
            key=lambda row: (-row.score, digest.topics.index(row.topic)),
        )
        others = tuple(row.topic for row in lead_rows[1:])
        items.append(StoryItem(lead_rows[0], cluster, other_topics=others, update=sent_size is not None))
    items.sort(key=lambda item: (-item.article.score, -_moment(item.article).timestamp(), item.key))
    return Selection(window_start, cutoff, tuple(items[: digest.max_items]), tuple(items[digest.max_items :]))


def _moment(article: MatchedArticle) -> datetime:
    return article.published_at or article.discovered_at


def compose(config: Config, db: Database, digest: Digest, selection: Selection) -> DigestView:
    """The digest's content: stories grouped by topic (in the digest's order), feed health."""
    omitted = Counter(item.article.topic for item in selection.omitted)
    descriptions = {topic.name: topic.description for topic in config.topics}
    sections = tuple(
        TopicSection(
            topic,
            descriptions.get(topic, ""),
            tuple(item for item in selection.listed if item.article.topic == topic),
            omitted[topic],
        )
        for topic in digest.topics
    )
    mail = _mail(config)
    return DigestView(
        digest, selection, sections, tuple(db.failing_feeds()), len(config.enabled_feeds),
        unsubscribe_url(mail, digest), config.settings.report.feedback_url or "",
    )


def unsubscribe_url(mail: MailSettings, digest: Digest) -> str:
    """The digest's List-Unsubscribe URL: its own, the global one, or a mailto to the sender."""
    configured = digest.unsubscribe or mail.unsubscribe
    if configured:
        return configured
    return f"mailto:{address_of(mail.sender)}?subject={quote(f'unsubscribe {digest.name}')}"


def render_digest(view: DigestView) -> tuple[str, str]:
    """(plain text, HTML with CSS inlined) of the digest."""
    env = environment()
    text = env.get_template("digest.txt.j2").render(view=view)
    html = inline_css(env.get_template("digest.html.j2").render(view=view))
    return text, html


def build_digest_message(config: Config, view: DigestView, at: datetime) -> tuple[bytes, str, str]:
    """The digest as (message bytes, Message-ID, HTML part)."""
    mail = _mail(config)
    text, html = render_digest(view)
    message_id = new_message_id(mail.sender, f"{view.digest.name}.{at:%Y%m%dT%H%M%S}")
    domain = address_of(mail.sender).rpartition("@")[2]
    message = build_message(
        sender=mail.sender,
        recipients=view.digest.recipients,
        subject=view.subject,
        text=text,
        html=html,
        message_id=message_id,
        date=at,
        list_id=f"{view.title} <{view.digest.name}.digest.{domain}>",
        unsubscribe=view.unsubscribe,
        headers={"X-Newswatch-Digest": view.digest.name},
    )
    return message.as_bytes(), message_id, html


def run_digest(
    config: Config,
    db: Database,
    digest: Digest,
    transport: Transport | None,
    at: datetime | None = None,
    dry_run_dir: Path | None = None,
) -> DigestResult:
    """Send the digest's due stories once (see the module docstring for the order of work).

    With ``dry_run_dir`` nothing is sent or recorded: the message is written there as ``.eml``
    (and its HTML part as ``.html``). Raises :class:`DeliveryError` when delivery failed.
    """
    at = at or now()
    mail = _mail(config)
    result = DigestResult(digest.name, "empty")
    if dry_run_dir is None:
        if transport is None:
            raise ValueError("a transport is needed unless dry-running")
        result.redelivered = redeliver_unconfirmed(db, digest, transport, mail.sender)
    send_updates = config.settings.clusters.send_updates if digest.send_updates is None else digest.send_updates
    selection = select_stories(db, digest, at, send_updates)
    if selection.empty and not digest.send_empty:
        log.info("digest %s: nothing new since %s", digest.name, selection.window_start)
        return result
    view = compose(config, db, digest, selection)
    raw, message_id, html = build_digest_message(config, view, at)
    result.subject, result.message_id = view.subject, message_id
    result.listed, result.omitted = view.listed, view.omitted
    envelope = Envelope(mail.sender, digest.recipients, message_id)
    if dry_run_dir is not None:
        outbox = OutboxTransport(dry_run_dir)
        delivery = outbox.deliver(raw, envelope)
        if delivery.outcome is not Outcome.SENT:
            raise DeliveryError(delivery.detail)
        html_path = outbox.path_for(message_id).with_suffix(".html")
        html_path.write_text(html, encoding="utf-8")
        result.status, result.files = "dry-run", [delivery.detail, str(html_path)]
        return result
    info = MessageInfo(
        digest.name, transport.name, message_id, view.subject, digest.recipients,
        selection.window_start, at, view.listed, view.omitted,
    )
    result.send_id = db.record_digest_attempt(info, raw, _ledger_items(selection))
    settle(db, result.send_id, transport.deliver(raw, envelope), f"digest {digest.name}")
    result.status, result.detail = "sent", f"{transport.name}: {message_id}"
    log.info("digest %s: sent %s (%d listed, %d omitted)", digest.name, message_id, view.listed, view.omitted)
    return result


def send_digest(config: Config, db: Database, name: str, dry_run_dir: Path | None = None) -> DigestResult:
    """Send the digest subscription called ``name`` now with the configured transport (or, with
    ``dry_run_dir``, only write it there): :func:`run_digest`."""
    transport = None if dry_run_dir or config.settings.mail is None else transport_for(config.settings.mail)
    return run_digest(config, db, config.digest(name), transport, dry_run_dir=dry_run_dir)


def redeliver_unconfirmed(db: Database, digest: Digest, transport: Transport, sender: str) -> list[str]:
    """Re-send, byte for byte, every message of the digest whose delivery is unconfirmed.

    Receivers that already got it see the same Message-ID again. Returns the Message-IDs sent.
    """
    return redeliver(
        db, digest.name, f"digest {digest.name}",
        lambda record, raw: transport.deliver(raw, Envelope(sender, record.recipients, record.message_id)),
    )


def redeliver(
    db: Database, name: str, label: str, deliver: Callable[[SendRecord, bytes], Delivery]
) -> list[str]:
    """Re-send every pending message of ledger ``name`` with ``deliver``, oldest first.

    Stops with :class:`DeliveryError` (``label`` names the subscription) at the first one that
    is still not delivered. Returns the Message-IDs sent.
    """
    done = []
    for record, raw in db.unconfirmed_digests(name):
        log.warning("%s: re-sending unconfirmed message %s", label, record.message_id)
        delivery = deliver(record, raw)
        if delivery.outcome is not Outcome.SENT:
            db.mark_digest_unconfirmed(record.id, delivery.detail)
            raise DeliveryError(
                f"{label}: earlier message {record.message_id} is still unconfirmed"
                f" ({delivery.detail}); it will be re-sent by the next run"
            )
        db.mark_digest_sent(record.id, delivery.detail or None)
        done.append(record.message_id)
    return done


def settle(db: Database, send_id: int, delivery: Delivery, label: str) -> None:
    """Record a delivery's outcome; raise :class:`DeliveryError` (``label`` names the
    subscription) unless it was sent."""
    if delivery.outcome is Outcome.SENT:
        db.mark_digest_sent(send_id, delivery.detail or None)
        return
    if delivery.outcome is Outcome.FAILED:
        db.mark_digest_failed(send_id, delivery.detail)
        raise DeliveryError(
            f"{label} not delivered: {delivery.detail}. Nothing was marked sent; the next"
            " run sends these stories."
        )
    db.mark_digest_unconfirmed(send_id, delivery.detail)
    raise DeliveryError(
        f"{label}: delivery unconfirmed ({delivery.detail}). The next run re-sends the same"
        " message with the same Message-ID."
    )


def _ledger_items(selection: Selection) -> list[LedgerItem]:
    return [
        LedgerItem(item.key, item.article.article_id, item.article.topic, item.article.score, item.size, listed)
        for items, listed in ((selection.listed, True), (selection.omitted, False))
        for item in items
    ]


def _mail(config: Config) -> MailSettings:
    if config.settings.mail is None:
        raise ValueError("settings.mail is not configured")
    return config.settings.mail

