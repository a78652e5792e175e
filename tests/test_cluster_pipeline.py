"""Story clusters in the pipeline: syndicated copies from several feeds are reported once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cluster_testset import load_testset
from conftest import Article, write_sources

from newswatch.config import load_config
from newswatch.pipeline import ingest
from newswatch.reports import report, report_window
from storage.db import open_database


def syndicated(story: str, hours_ago: float) -> list[tuple[str, Article]]:
    """(outlet, page) for every copy of a test-set story, published ``hours_ago`` and later."""
    copies = [i.article for i in load_testset() if i.story == story]
    start = datetime.now(UTC) - timedelta(hours=hours_ago)
    return [
        (
            copy.source,
            Article(
                f"{story}-{copy.source.lower().replace('.', '-')}",
                copy.title,
                copy.text,
                published=start + (copy.published_at - copies[0].published_at),
            ),
        )
        for copy in copies
    ]


def test_copies_from_several_feeds_are_one_story_in_the_report(site, tmp_path):
    treaty = syndicated("peace-treaty-text-agreed", hours_ago=12)[:3]  # APA, Armenpress, Report.az
    other = syndicated("peace-pashinyan-referendum", hours_ago=6)[:1]  # same topic, other story
    feeds = {}
    for outlet, page in treaty + other:
        feeds.setdefault(outlet, []).append(page)
    sources = write_sources(tmp_path, [
        {"name": outlet, "url": site.add_feed(f"/{n}.xml", pages), "language": "en"}
        for n, (outlet, pages) in enumerate(feeds.items())
    ])
    config = load_config(sources)
    with open_database(config.settings.database) as db:
        stats = ingest(config, db)
        assert (stats.extracted, stats.clustered) == (4, 4)
        built, html_path, text_path = report(
            config, db, *report_window(24), tmp_path / "reports"
        )
        assert ingest(config, db).clustered == 0

    section = next(s for s in built.sections if s.name == "peace accord")
    assert [item.article.title for item in section.items] == [other[0][1].title, treaty[0][1].title]
    lead = section.items[1]
    assert lead.article.feed_name == "APA"
    assert (lead.size, lead.also_reported_by) == (3, ("Armenpress", "Report.az"))
    assert section.items[0].size == 1  # a story of its own
    line = "also reported by Armenpress, Report.az · 3 articles in this story"
    assert line in html_path.read_text(encoding="utf-8")
    assert line in text_path.read_text(encoding="utf-8")
    assert html_path.read_text(encoding="utf-8").count(treaty[0][1].title) == 1


def test_summary_only_article_is_clustered_once_its_retries_are_over(site, tmp_path):
    (_, original), (_, copy) = syndicated("peacekeepers-withdrawal-complete", hours_ago=5)[:2]
    site.broken_pages.add(copy.slug)
    copy.summary = original.body.split("\n\n")[0]
    sources = write_sources(
        tmp_path,
        [
            {"name": "TASS", "url": site.add_feed("/tass.xml", [original]), "language": "en"},
            {"name": "Trend", "url": site.add_feed("/trend.xml", [copy]), "language": "en"},
        ],
        extract={"max_attempts": 2},
    )
    config = load_config(sources)
    with open_database(config.settings.database) as db:
        first = ingest(config, db)
        assert (first.extracted, first.summary_only, first.clustered) == (1, 1, 1)
        second = ingest(config, db)
        assert (second.summary_only, second.clustered) == (1, 1)
        members = db.con.execute(
            "SELECT source, text_words FROM cluster_members ORDER BY source"
        ).fetchall()
    assert [source for source, _ in members] == ["TASS", "Trend"]
    assert members[1][1] < members[0][1]  # only the feed summary was available


def test_editions_in_other_languages_are_one_story_in_the_report(site, tmp_path):
    english = syndicated("peace-treaty-text-agreed", hours_ago=12)[:1]  # APA
    russian = syndicated("ru-peace-treaty-text-agreed", hours_ago=11.5)[:1]  # ТАСС
    sources = write_sources(tmp_path, [
        {"name": "APA", "url": site.add_feed("/apa.xml", [english[0][1]]), "language": "en"},
        {"name": "ТАСС", "url": site.add_feed("/tass.xml", [russian[0][1]]), "language": "ru"},
    ], clusters={"editions": True})
    config = load_config(sources)
    with open_database(config.settings.database) as db:
        assert ingest(config, db).clustered == 2
        built, html_path, text_path = report(config, db, *report_window(24), tmp_path / "reports")

    section = next(s for s in built.sections if s.name == "peace accord")
    assert [item.article.feed_name for item in section.items] == ["APA"]
    line = "also in Russian: ТАСС · 2 articles in this story"
    assert line in text_path.read_text(encoding="utf-8")
    assert line in html_path.read_text(encoding="utf-8")
