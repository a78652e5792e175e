"""Atom feeds out: written from a real ingest into a real DuckDB file, read back with feedparser
and checked against RFC 4287's required elements."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import feedparser
import pytest
from conftest import Article
from digest_helpers import CSTO_EN, CSTO_HY, PEACE_KA, PEACE_RU, Newsroom, digest_entry, paragraphs

from newswatch.atom import ATOM, atom_for_topic, write_feeds
from newswatch.digest import run_digest
from newswatch.mail import OutboxTransport
from newswatch.publish import digest_and_feeds
from storage.db import now, open_database

A = f"{{{ATOM}}}"


@pytest.fixture
def room(site, tmp_path) -> Newsroom:
    """Feeds in four languages with the multilingual sample articles."""
    return Newsroom.with_samples(site, tmp_path)


def write(config) -> dict[str, bytes]:
    with open_database(config.settings.database) as db:
        paths = write_feeds(config, db, now())
    return {path.name: path.read_bytes() for path in paths}


def check_rfc4287(data: bytes) -> ET.Element:
    """The elements RFC 4287 requires: feed id/title/updated (and an author, here on the feed),
    entry id/title/updated and a link to the story."""
    feed = ET.fromstring(data)
    assert feed.tag == f"{A}feed"
    for tag in ("id", "title", "updated"):
        assert len(feed.findall(f"{A}{tag}")) == 1, tag
    assert feed.find(f"{A}author/{A}name").text
    for entry in feed.findall(f"{A}entry"):
        for tag in ("id", "title", "updated"):
            assert len(entry.findall(f"{A}{tag}")) == 1, tag
        assert entry.find(f"{A}link[@rel='alternate']").get("href").startswith("http")
        assert entry.find(f"{A}author/{A}name").text
    return feed


def test_topic_feeds_read_back_with_feedparser(room):
    config = room.config([digest_entry()])
    room.ingest(config)
    files = write(config)
    assert sorted(files) == ["digest-brief.xml", "topic-csto.xml", "topic-peace-accord.xml",
                             "topic-peacekeeping-mandate.xml"]
    for data in files.values():
        check_rfc4287(data)
    parsed = feedparser.parse(files["topic-csto.xml"])
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10" and parsed.feed.title == "newswatch: CSTO"
    assert parsed.feed.id == "tag:newswatch.invalid,2025:topic:CSTO"
    assert sorted(e.title for e in parsed.entries) == sorted([CSTO_EN.title, CSTO_HY.title])  # Armenian intact
    csto = next(e for e in parsed.entries if e.title == CSTO_EN.title)
    assert csto.link == f"{room.site.url}/news/csto-summit?utm_source=rss"
    assert csto.author == "Daily" and csto.tags[0].term == "CSTO"
    assert csto.id.startswith("tag:newswatch.invalid,2025:story:")
    assert csto.summary.startswith("Why: CSTO: mentions ")
    assert csto.published_parsed and csto.updated_parsed
    assert feedparser.parse(files["topic-peacekeeping-mandate.xml"]).entries == []

    ids = {e.title: e.id for e in parsed.entries}
    later = Article("csto-2", "CSTO drills without Armenia", paragraphs("The CSTO held drills without Armenia."))
    room.publish("en", later)
    room.ingest(config)
    again = feedparser.parse(write(config)["topic-csto.xml"])
    assert not again.bozo and again.entries[0].title == later.title  # newest first
    assert {e.title: e.id for e in again.entries if e.title != later.title} == ids  # stable ids


def test_digest_feed_lists_what_the_digest_sent(room, tmp_path):
    config = room.config([digest_entry()])
    room.ingest(config)
    assert feedparser.parse(write(config)["digest-brief.xml"]).entries == []  # nothing sent yet
    with open_database(config.settings.database) as db:
        run_digest(config, db, config.digest("brief"), OutboxTransport(tmp_path / "outbox"))
    parsed = feedparser.parse(write(config)["digest-brief.xml"])
    assert not parsed.bozo and parsed.feed.title == "Caucasus brief"
    assert sorted(e.title for e in parsed.entries) == sorted(a.title for a in (CSTO_EN, PEACE_RU, CSTO_HY, PEACE_KA))
    topic_ids = {e.id for e in feedparser.parse(write(config)["topic-csto.xml"]).entries}
    assert topic_ids < {e.id for e in parsed.entries}  # one story, one id, in every feed


def test_a_sent_digest_rewrites_its_feed_and_topic_feeds_only_when_missing(room):
    config = room.config([digest_entry()])
    room.ingest(config)
    out = config.settings.feeds_out.dir
    written = write(config)  # as after the ingest
    (out / "topic-csto.xml").unlink()
    kept = out / "topic-peace-accord.xml"
    kept.write_bytes(b"as the last ingest wrote it")  # a topic feed changes only with an ingest
    with open_database(config.settings.database) as db:
        assert digest_and_feeds(config, db, "brief").status == "sent"
    digest = feedparser.parse((out / "digest-brief.xml").read_bytes())
    assert sorted(e.title for e in digest.entries) == sorted(a.title for a in (CSTO_EN, PEACE_RU, CSTO_HY, PEACE_KA))
    assert kept.read_bytes() == b"as the last ingest wrote it"
    again = feedparser.parse((out / "topic-csto.xml").read_bytes())  # written again: it was missing
    assert {e.id for e in again.entries} == {e.id for e in feedparser.parse(written["topic-csto.xml"]).entries}


def test_hostile_text_stays_text_and_feed_for_web_app(room):
    nasty = Article("nasty", "CSTO <script>alert(1)</script> & \x0b\"quotes\"",
                    paragraphs("The CSTO summit opened. <b>bold</b> text & more."))
    room.publish("en", nasty)
    config = room.config([])
    room.ingest(config)
    with open_database(config.settings.database) as db:
        data = atom_for_topic(config, db, config.topics[1], now() + timedelta(hours=1))
    assert isinstance(data, bytes) and data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    check_rfc4287(data)
    parsed = feedparser.parse(data)
    assert not parsed.bozo
    # text stays text: escaped in the XML, the same characters in the reader (no control characters)
    assert 'CSTO <script>alert(1)</script> & "quotes"' in [e.title for e in parsed.entries]
    assert b"<script>" not in data and b"&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in data
