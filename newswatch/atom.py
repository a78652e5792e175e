"""Atom feeds out (RFC 4287): one per topic (its latest stories) and one per digest (the stories
its sent messages held), written as files after each run and available as bytes for a web app.

Ids are ``tag:`` URIs (RFC 4151) under ``settings.feeds_out.tag_authority``: a story's entry id
comes from its story (cluster) id, so it is the same in every feed and every run, and a
reader shows a story once even when more outlets join it (its ``updated`` changes instead).
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from newswatch.alert_config import FeedsOutSettings
from newswatch.alerts import entity_names, why_matched
from newswatch.config import Config, Digest, Topic
from newswatch.models import ClusterSummary, MatchedArticle
from newswatch.render import StoryItem, clusters_by_article, collapse_stories, highlight_text, web_url
from newswatch.text import one_line
from storage.db import Database

ATOM = "http://www.w3.org/2005/Atom"
GENERATOR = "newswatch"
log = logging.getLogger("newswatch.atom")
ET.register_namespace("", ATOM)


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """A story in a feed, and when the feed last saw it change."""

    story: StoryItem
    updated: datetime


def tag_uri(settings: FeedsOutSettings, kind: str, name: str) -> str:
    """``tag:<authority>,<date>:<kind>:<name>`` with ``name`` percent-encoded."""
    return f"tag:{settings.tag_authority}:{kind}:{quote(name, safe='')}"


def file_name(kind: str, name: str) -> str:
    """The file a feed is written to: ``topic-<slug>.xml`` or ``digest-<name>.xml``."""
    slug = re.sub(r"[^\w.-]+", "-", name.casefold(), flags=re.UNICODE).strip("-") or "feed"
    return f"{kind}-{slug}.xml"


def topic_entries(db: Database, topic: str, limit: int) -> list[FeedEntry]:
    """The topic's latest stories (by when found), one entry per story."""
    rows = db.latest_topic_matches(topic, limit * 4)  # several articles can be one story
    cluster_of = _clusters(db, rows)
    latest: dict[str, datetime] = {}
    for row in rows:
        key = StoryItem(row, cluster_of.get(row.article_id)).key
        latest[key] = max(latest.get(key, row.discovered_at), row.discovered_at)
    return [FeedEntry(item, latest[item.key]) for item in collapse_stories(rows, cluster_of)][:limit]


def digest_entries(db: Database, digest: str, limit: int) -> list[FeedEntry]:
    """Stories listed in the digest's sent messages, latest message first."""
    sent = db.digest_sent_items(digest, limit)
    if not sent:
        return []
    rows = db.matches_of(sorted({article_id for article_id, _, _ in sent}))
    by_pair = {(row.article_id, row.topic): row for row in rows}
    cluster_of = _clusters(db, rows)
    return [
        FeedEntry(StoryItem(by_pair[(article_id, topic)], cluster_of.get(article_id)), sent_at)
        for article_id, topic, sent_at in sent
        if (article_id, topic) in by_pair  # a match dropped since (topic changed) leaves the feed
    ]


def build_feed(
    settings: FeedsOutSettings, kind: str, name: str, title: str, subtitle: str,
    entries: Sequence[FeedEntry], at: datetime, names: Mapping[str, str] | None = None,
) -> bytes:
    """An Atom document (UTF-8 bytes) of ``entries``; ``at`` is its ``updated`` when empty;
    ``names`` names the entities stories mention."""
    feed = ET.Element(f"{{{ATOM}}}feed")
    _text(feed, "id", tag_uri(settings, kind, name))
    _text(feed, "title", title)
    if subtitle:
        _text(feed, "subtitle", subtitle)
    _text(feed, "updated", _when(max((entry.updated for entry in entries), default=at)))
    _text(_sub(feed, "author"), "name", GENERATOR)
    _sub(feed, "generator").text = GENERATOR
    if settings.base_url:
        _sub(feed, "link", rel="self", type="application/atom+xml", href=settings.base_url + file_name(kind, name))
    for entry in entries:
        _entry(feed, settings, entry, names)
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"


def _entry(feed: ET.Element, settings: FeedsOutSettings, entry: FeedEntry, names: Mapping[str, str] | None) -> None:
    story, article = entry.story, entry.story.article
    node = _sub(feed, "entry")
    _text(node, "id", tag_uri(settings, "story", story.key))
    _text(node, "title", one_line(article.title) or "(no title)")
    _text(node, "updated", _when(entry.updated))
    if article.published_at:
        _text(node, "published", _when(article.published_at))
    _text(_sub(node, "author"), "name", article.feed_name)
    if url := web_url(article.url):
        _sub(node, "link", rel="alternate", type="text/html", href=url)
    _sub(node, "category", term=article.topic)
    lines = [f"Why: {why_matched(story, names)}"]
    if story.also_reported_by:
        lines.append(f"Also reported by: {', '.join(story.also_reported_by)} ({story.size} articles)")
    lines += [f"… {highlight_text(snippet)} …" for snippet in article.snippets]
    _text(node, "summary", "\n".join(lines))


def atom_for_topic(config: Config, db: Database, topic: Topic, at: datetime) -> bytes:
    """The topic's Atom feed."""
    settings = config.settings.feeds_out
    entries = topic_entries(db, topic.name, settings.max_entries)
    return build_feed(settings, "topic", topic.name, f"newswatch: {topic.name}", topic.description, entries, at,
                      entity_names(config))


def atom_for_digest(config: Config, db: Database, digest: Digest, at: datetime) -> bytes:
    """The digest's Atom feed: what its sent messages held."""
    settings = config.settings.feeds_out
    entries = digest_entries(db, digest.name, settings.max_entries)
    subtitle = f"Stories sent in the digest {digest.name} ({', '.join(digest.topics)})"
    return build_feed(settings, "digest", digest.name, digest.display_title, subtitle, entries, at, entity_names(config))


def write_feeds(config: Config, db: Database, at: datetime, out_dir: Path | None = None) -> list[Path]:
    """Write every topic's and digest's feed into ``out_dir`` (default ``settings.feeds_out.dir``);
    each file is replaced atomically. Returns the paths (none when ``feeds_out.enabled`` is false)."""
    if not config.settings.feeds_out.enabled:
        return []
    feeds = [(file_name("topic", t.name), lambda t=t: atom_for_topic(config, db, t, at)) for t in config.topics]
    feeds += [(file_name("digest", d.name), lambda d=d: atom_for_digest(config, db, d, at)) for d in config.digests]
    return _write(feeds, out_dir or config.settings.feeds_out.dir)


def write_digest_feed(config: Config, db: Database, digest: Digest, at: datetime) -> list[Path]:
    """After ``digest`` was sent: write its feed, and the topics' feeds that are not written yet.
    A topic's feed changes only with an ingest (its matches and stories), which writes them all,
    so a digest does not read the archive again for them. Returns the paths written."""
    settings = config.settings.feeds_out
    if not settings.enabled:
        return []
    feeds = [(file_name("digest", digest.name), lambda: atom_for_digest(config, db, digest, at))]
    feeds += [(file_name("topic", t.name), lambda t=t: atom_for_topic(config, db, t, at))
              for t in config.topics if not (settings.dir / file_name("topic", t.name)).exists()]
    return _write(feeds, settings.dir)


def _write(feeds: Sequence[tuple[str, Callable[[], bytes]]], out_dir: Path) -> list[Path]:
    """Each (file name, document) into ``out_dir``, replaced atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, document in feeds:
        path = out_dir / name
        partial = path.with_suffix(".partial")
        partial.write_bytes(document())
        partial.replace(path)
        paths.append(path)
    log.info("feeds out: %d Atom feeds written to %s", len(paths), out_dir)
    return paths


def _clusters(db: Database, rows: Sequence[MatchedArticle]) -> dict[str, ClusterSummary]:
    return clusters_by_article(db.cluster_summaries(sorted({row.article_id for row in rows})))


def _sub(parent: ET.Element, tag: str, **attributes: str) -> ET.Element:
    return ET.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    node = _sub(parent, tag)
    node.text = _xml_safe(text)
    return node


def _when(value: datetime) -> str:
    """RFC 3339 in UTC, e.g. ``2025-05-01T10:00:00Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry (feeds do contain them)."""
    return _XML_INVALID.sub("", text)
