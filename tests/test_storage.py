"""The store (storage/): set-based writes, duplicates within and across batches, reruns."""

from __future__ import annotations

from newswatch.models import ExtractedArticle, FeedFetch, FeedItem
from newswatch.text import content_hash
from newswatch.urls import article_id
from storage.db import open_database


def _item(n: int) -> FeedItem:
    url = f"https://wire.example/news/{n}"
    return FeedItem(article_id(url), "Wire", url, url, f"Story {n}", f"summary {n}", None)


def _extracted(item: FeedItem, text: str) -> ExtractedArticle:
    return ExtractedArticle(item.id, "extracted", text, title=item.title, language="en",
                            content_hash=content_hash(text))


def test_duplicates_point_to_the_earliest_original_within_and_across_batches(tmp_path):
    items = [_item(n) for n in range(5)]
    same, other = "CSTO leaders met in Minsk.", "A different story."
    with open_database(tmp_path / "db.duckdb") as db:
        db.sync_feeds([("Wire", "https://wire.example/rss")])
        db.record_feed_fetch(FeedFetch("Wire", "https://wire.example/rss", 200, items=tuple(items)), "en")
        order = [row[0] for row in db.con.execute("SELECT id FROM articles ORDER BY discovered_at, id").fetchall()]
        by_id = {item.id: item for item in items}
        first, second, third, fourth, fifth = (by_id[i] for i in order)

        db.store_extracted([_extracted(third, same), _extracted(first, same), _extracted(second, other)])
        db.store_extracted([_extracted(fourth, same), _extracted(fifth, other)])
        db.store_extracted([_extracted(first, same)])  # extracted again: still the original

        duplicate_of = dict(db.con.execute("SELECT id, duplicate_of FROM articles").fetchall())
        texts = dict(db.con.execute("SELECT id, text FROM articles").fetchall())
    assert duplicate_of == {first.id: None, second.id: None, third.id: first.id,
                            fourth.id: first.id, fifth.id: second.id}
    assert texts[third.id] == same and texts[fifth.id] == other


def test_feed_items_repeated_in_one_fetch_are_stored_once(tmp_path):
    item = _item(1)
    with open_database(tmp_path / "db.duckdb") as db:
        db.sync_feeds([("Wire", "https://wire.example/rss")])
        fetch = FeedFetch("Wire", "https://wire.example/rss", 200, items=(item, item, _item(2)))
        assert db.record_feed_fetch(fetch, "en") == 2
        assert db.record_feed_fetch(fetch, "en") == 0
        assert db.con.execute("SELECT count(*) FROM articles").fetchone()[0] == 2


def test_every_shipped_migration_has_its_own_version():
    from storage.db import migrations

    versions = [version for version, _, _ in migrations()]
    assert versions and len(versions) == len(set(versions)), versions
