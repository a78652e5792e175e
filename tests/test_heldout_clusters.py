"""The held-out cluster set (tests/heldout/clusters.json) is complete, consistent with the outlet
layouts, and described by its README."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime

import pytest
from markupsafe import escape
from cluster_testset import load_testset
from heldout.cluster_stats import CLUSTERS, LANGS, summary
from heldout.layouts import OUTLETS, render_page

STORIES = json.loads(CLUSTERS.read_text(encoding="utf-8"))["stories"]


def test_loads_with_the_cluster_testset_loader_and_meets_the_minimums():
    articles = load_testset(CLUSTERS)
    assert len(articles) == sum(len(story["copies"]) for story in STORIES) >= 250
    assert len(STORIES) >= 45
    assert len({story["id"] for story in STORIES}) == len(STORIES)
    assert {story["lang"] for story in STORIES} == set(LANGS)
    langs_per_event = defaultdict(set)
    for story in STORIES:
        langs_per_event[story["event"]].add(story["lang"])
    assert sum(len(langs) > 1 for langs in langs_per_event.values()) >= 15
    for item in articles:
        assert datetime(2026, 10, 1, tzinfo=UTC) <= item.article.published_at
        assert item.article.published_at < datetime(2026, 11, 1, tzinfo=UTC)
        assert item.article.text and item.article.title


@pytest.mark.parametrize("story", STORIES, ids=[story["id"] for story in STORIES])
def test_every_copy_is_on_an_outlet_layout_in_the_story_language(story):
    assert 2 <= len(story["copies"]) <= 7
    assert len(story["paragraphs"]) >= 3
    for copy in story["copies"]:
        assert story["lang"] in OUTLETS[copy["source"]].langs, copy["source"]
        assert copy.get("drop_last", 0) <= len(story["paragraphs"]) - 2


def test_lookalike_groups_join_different_events():
    groups = defaultdict(set)
    for story in STORIES:
        for group in story.get("lookalike", []):
            groups[group].add(story["event"])
    assert len(groups) >= 5
    assert all(len(events) >= 2 for events in groups.values()), groups


def test_every_copy_renders_on_its_outlet_page():
    by_id = {story["id"]: story for story in STORIES}
    for item in load_testset(CLUSTERS):
        article = item.article
        page = render_page(
            article.source,
            title=article.title,
            paragraphs=article.text.split("\n\n"),
            lang=by_id[item.story]["lang"],
            published=article.published_at,
            url=f"https://{article.source}.example/{article.id}",
        )
        assert all(escape(part) in page for part in article.text.split("\n\n"))


def test_readme_states_the_generated_counts():
    readme = (CLUSTERS.parent / "README.md").read_text(encoding="utf-8")
    assert summary() in readme
