"""Validate the held-out relevance sets (tests/heldout/relevance.yaml, relevance2.yaml, relevance3.yaml).

Each set is checked the same way, with its own id prefix and minimum counts. These checks look at the file's shape only (schema, ids, outlets, topics, counts, dates); they
never look at what any rule or query does with the articles.
"""

import html
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, field_validator

ROOT = Path(__file__).resolve().parent.parent
HELDOUT = ROOT / "tests" / "heldout"

# The fixed outlet list of docs in heldout-formats: slug -> languages its layout renders.
OUTLETS: dict[str, set[str]] = {
    "caucasus-wire": {"en", "ru"},
    "yerevan-daily": {"en", "hy"},
    "baku-herald": {"en", "az"},
    "tbilisi-times": {"en", "ka"},
    "kavkaz-vestnik": {"ru"},
    "moskovsky-obozrevatel": {"ru"},
    "hayastani-lur": {"hy"},
    "azer-xeber": {"az"},
    "sakartvelos-ambebi": {"ka"},
    "regional-business-review": {"en", "ru"},
    "eurasia-analysis": {"en"},
    "anatolia-region": {"en"},
}
# Outlets whose pages carry no publication date of their own.
UNDATED_OUTLETS = {"regional-business-review"}

NEGATIVE_CLASSES = {
    "out-of-scope-mission",
    "acronym-collision",
    "other-sense",
    "historical-mention",
    "acronym-list",
    "other-peace-process",
    "passing-mention",
    "same-region-off-topic",
}
WINDOW_START = datetime(2026, 10, 1, tzinfo=timezone.utc)
WINDOW_END = datetime(2026, 11, 1, tzinfo=timezone.utc)  # exclusive; nothing may be later



@dataclass(frozen=True)
class RelevanceSet:
    """One held-out relevance file and what its authors committed to."""

    file: str
    id_prefix: str
    min_total: int
    min_multi_outlet_stories: int
    min_per_language: int = 25
    min_positives_per_topic: int = 15
    min_per_negative_class: int = 4


SETS = [
    RelevanceSet("relevance.yaml", "ho-r-", min_total=170, min_multi_outlet_stories=20),
    RelevanceSet("relevance2.yaml", "h2-r-", min_total=150, min_multi_outlet_stories=15),
    RelevanceSet("relevance3.yaml", "h3-r-", min_total=150, min_multi_outlet_stories=15),
]


class Item(BaseModel):
    """One entry of a held-out relevance set."""

    model_config = ConfigDict(extra="forbid", strict=False)

    id: str
    lang: Literal["en", "ru", "hy", "az", "ka"]
    outlet: str
    feed_published: datetime | None
    page_published: datetime | None
    title: str
    body: str
    topics: list[str]
    story: str
    class_: str
    note: str

    @field_validator("feed_published", "page_published")
    @classmethod
    def _aware_in_window(cls, value: datetime | None) -> datetime | None:
        if value is not None:
            assert value.tzinfo is not None, "dates need a zone"
            assert WINDOW_START <= value < WINDOW_END, f"{value} outside October 2026"
        return value


def _load(path: Path) -> list[Item]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(raw, list)
    items = []
    for entry in raw:
        entry = dict(entry)
        entry["class_"] = entry.pop("class")
        items.append(Item.model_validate(entry))
    return items


@pytest.fixture(scope="module", params=SETS, ids=lambda s: s.file)
def relevance_set(request) -> RelevanceSet:
    return request.param


@pytest.fixture(scope="module")
def items(relevance_set) -> list[Item]:
    return _load(HELDOUT / relevance_set.file)


def _topic_names() -> set[str]:
    config = yaml.safe_load((ROOT / "sources.yaml").read_text(encoding="utf-8"))
    return {topic["name"] for topic in config["topics"]}


def test_ids_unique_and_well_formed(items, relevance_set):
    ids = [item.id for item in items]
    assert len(ids) == len(set(ids))
    prefix = relevance_set.id_prefix
    assert all(i.startswith(prefix) and i[len(prefix):].isdigit() for i in ids)


def test_outlets_and_languages(items):
    for item in items:
        assert item.outlet in OUTLETS, item.id
        assert item.lang in OUTLETS[item.outlet], f"{item.id}: {item.outlet} has no {item.lang}"
    layouts = HELDOUT / "layouts"
    if layouts.is_dir():
        for slug in {item.outlet for item in items}:
            assert (layouts / f"{slug}.html.j2").is_file(), f"no layout for {slug}"


def test_items_render_on_their_outlets_layouts(items):
    """Every item renders on its outlet's page with all its paragraphs (when layouts exist)."""
    layouts = pytest.importorskip("heldout.layouts")
    assert {slug: set(o.langs) for slug, o in layouts.OUTLETS.items()} == OUTLETS
    for item in items:
        page = layouts.render_page(
            item.outlet,
            title=item.title,
            paragraphs=[p.strip() for p in item.body.split("\n\n") if p.strip()],
            lang=item.lang,
            published=item.page_published,
            url=f"https://{item.outlet}.example/{item.id}",
        )
        assert item.body.split("\n\n")[-1].strip()[:40] in html.unescape(page), item.id


def test_topics_and_classes(items):
    names = _topic_names()
    for item in items:
        assert set(item.topics) <= names, item.id
        assert len(item.topics) == len(set(item.topics)), item.id
        if item.topics:
            assert item.class_ == "positive", item.id
        else:
            assert item.class_ in NEGATIVE_CLASSES, f"{item.id}: {item.class_}"
        assert item.note.strip(), item.id


def test_bodies(items):
    for item in items:
        assert item.title.strip(), item.id
        paragraphs = [p for p in item.body.split("\n\n") if p.strip()]
        assert len(paragraphs) >= 2, item.id
        words = len(item.body.split())
        assert 120 <= words <= 450, f"{item.id}: {words} words"
    titles = Counter((item.lang, item.title) for item in items)
    assert max(titles.values()) == 1


def test_counts(items, relevance_set):
    assert len(items) >= relevance_set.min_total
    per_lang = Counter(item.lang for item in items)
    assert min(per_lang[lang] for lang in ("en", "ru", "hy", "az", "ka")) >= relevance_set.min_per_language
    per_topic = Counter(topic for item in items for topic in item.topics)
    assert set(per_topic) == _topic_names()
    assert min(per_topic.values()) >= relevance_set.min_positives_per_topic
    positives = sum(1 for item in items if item.topics)
    assert 0.33 <= positives / len(items) <= 0.47
    per_class = Counter(item.class_ for item in items)
    for name in NEGATIVE_CLASSES:
        assert per_class[name] >= relevance_set.min_per_negative_class, name
    for lang in ("en", "ru", "hy", "az", "ka"):
        assert any(i.topics for i in items if i.lang == lang), lang
        assert any(not i.topics for i in items if i.lang == lang), lang


def test_stories(items, relevance_set):
    by_story: dict[str, list[Item]] = {}
    for item in items:
        by_story.setdefault(item.story, []).append(item)
    multi = [group for group in by_story.values() if len(group) >= 2]
    assert len(multi) >= relevance_set.min_multi_outlet_stories
    for group in by_story.values():
        assert len({frozenset(item.topics) for item in group}) == 1, group[0].story
        assert len(group) <= 4, group[0].story
    for group in multi:
        assert len({item.outlet for item in group}) + len({item.lang for item in group}) > 2, (
            group[0].story
        )


def test_dates(items):
    no_feed = [item for item in items if item.feed_published is None]
    assert 0.12 <= len(no_feed) / len(items) <= 0.28
    no_date = [item for item in no_feed if item.page_published is None]
    assert 0.3 <= len(no_date) / len(no_feed) <= 0.7
    for item in items:
        if item.outlet in UNDATED_OUTLETS:
            assert item.page_published is None, item.id
    offsets = {
        item.page_published.utcoffset() for item in items if item.page_published is not None
    } | {item.feed_published.utcoffset() for item in items if item.feed_published is not None}
    assert len(offsets) >= 3


def test_sets_share_no_article():
    """Each set is new writing: no title or body is repeated from another set."""
    seen: dict[str, str] = {}
    for relevance_set in SETS:
        for item in _load(HELDOUT / relevance_set.file):
            for text in (item.title, item.body):
                assert seen.setdefault(text, relevance_set.file) == relevance_set.file, item.id
