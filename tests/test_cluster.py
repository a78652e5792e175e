"""Story clustering: near-duplicates join, different stories stay apart, state survives restarts."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from cluster_testset import LabelledArticle, load_testset, pair_scores

from newswatch import semantic
from newswatch.cluster import StoryClusterer, shingle_hashes
from newswatch.config import ClusterSettings
from newswatch.anchors import anchors
from newswatch.editions import link_editions
from newswatch.errors import ClusterParamsError
from newswatch.models import ClusterInput, Edition
from newswatch.text import folded_words
from storage.clusters import cluster_summaries, clusters_to_send, mark_sent
from storage.db import Database

ROOT = Path(__file__).resolve().parents[1]


def open_store(path: Path | str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A connection to a migrated newswatch database."""
    db = Database(duckdb.connect(str(path)), None)
    db.con.execute("SET TimeZone = 'UTC'")
    db.migrate()
    return db.con


def assign(
    con: duckdb.DuckDBPyConnection, articles: Sequence[ClusterInput], clusterer: StoryClusterer
) -> dict[str, str]:
    """Cluster one batch in its own transaction, as the pipeline does."""
    with Database(con, None).cluster_tables() as tables:
        return clusterer.assign(tables, articles)


def one_by_one(
    con: duckdb.DuckDBPyConnection, items: Sequence[LabelledArticle], clusterer: StoryClusterer
) -> dict[str, str]:
    assigned: dict[str, str] = {}
    for item in items:
        assigned |= assign(con, [item.article], clusterer)
    return assigned


def story(items: Sequence[LabelledArticle], name: str) -> list[str]:
    return [i.article.id for i in items if i.story == name]


@pytest.fixture(scope="module")
def testset() -> list[LabelledArticle]:
    return load_testset()


@pytest.fixture(scope="module")
def clustered(testset: list[LabelledArticle]) -> dict[str, str]:
    """The test set clustered one article at a time with the default settings."""
    return one_by_one(open_store(), testset, StoryClusterer())


def test_shingle_hashes_are_distinct_word_windows() -> None:
    assert len(shingle_hashes(folded_words("a b c d e a b c"), 3)) == 5  # abc, bcd, cde, dea, eab
    assert len(shingle_hashes(folded_words("short text"), 3)) == 1
    assert len(shingle_hashes([], 3)) == 0
    assert set(shingle_hashes(folded_words("x y z"), 3)) != set(shingle_hashes(folded_words("z y x"), 3))


def test_precision_and_recall_on_testset(
    testset: list[LabelledArticle], clustered: dict[str, str], capsys: pytest.CaptureFixture
) -> None:
    ids = [i.article.id for i in testset]
    scores = pair_scores({i.article.id: i.story for i in testset}, clustered, ids)
    languages = pair_scores({i.article.id: i.event for i in testset}, clustered, ids)
    with capsys.disabled():
        print(
            f"\ncluster test set: {len(ids)} articles, {len(set(clustered.values()))} clusters,"
            f" {len({i.story for i in testset})} stories; pairwise precision"
            f" {scores.precision:.3f}, recall {scores.recall:.3f}"
            f" (tp {scores.true_positives}, fp {scores.false_positives},"
            f" fn {scores.false_negatives}); cross-language copies missed:"
            f" {languages.false_negatives - scores.false_negatives} pairs"
        )
    assert scores.precision >= 0.95
    assert scores.recall >= 0.95


@pytest.mark.parametrize(
    "name",
    [
        "csto-armenia-skips-ministers",  # reworded lead, boilerplate, caption, cut ending
        "peace-treaty-text-agreed",  # five outlets, every kind of edit
        "peacekeepers-withdrawal-complete",  # caption + boilerplate + reworded lead
        "georgia-foreign-agents-fines",  # inserted commentary paragraph
        "ru-odkb-ministers-defense",  # Russian copies
        "prisoners-returned-heavy-edits",  # new headline and lede, a paragraph added, the end cut
        "ru-zangezur-route-heavy-edits",  # the same in Russian
    ],
)
def test_edited_copies_cluster_together(
    testset: list[LabelledArticle], clustered: dict[str, str], name: str
) -> None:
    copies = story(testset, name)
    assert len(copies) >= 3
    assert {clustered[i] for i in copies} == {copies[0]}  # founded by the original


@pytest.mark.parametrize(
    "names",
    [
        # Five different CSTO stories of June 10, three sharing a background paragraph.
        ("csto-armenia-skips-ministers", "csto-exercise-kyrgyzstan",
         "csto-secretary-general-visit", "ru-odkb-ministers-defense",
         "ru-odkb-secretary-statement"),
        # Two short peace-process stories ending with the same long background paragraph.
        ("peace-aliyev-osce-chair", "peace-grigoryan-us-envoy", "peace-treaty-text-agreed",
         "peace-border-commissions", "peace-pashinyan-referendum"),
        # A ministry report from a template, the next day and for another district.
        ("mod-report-kalbajar", "mod-report-kalbajar-next-day", "mod-report-nakhchivan"),
        ("border-service-report-june-19", "border-service-report-june-20"),
        # A weekly briefing repeating its frame; two CSTO meetings a week apart.
        ("ru-mfa-briefing-june-18", "ru-mfa-briefing-june-25"),
        ("csto-foreign-ministers-almaty", "csto-defence-ministers-almaty"),
    ],
)
def test_look_alike_stories_stay_apart(
    testset: list[LabelledArticle], clustered: dict[str, str], names: tuple[str, ...]
) -> None:
    clusters = [{clustered[i] for i in story(testset, name)} for name in names]
    assert all(len(c) == 1 for c in clusters)
    assert len(set.union(*clusters)) == len(names)


def test_a_heavily_edited_copy_joins_only_soon_after_its_story(testset: list[LabelledArticle]) -> None:
    """A near miss (under the threshold) joins within ``clusters.near_hours``; a copy as close
    to the story a day later would more likely be a look-alike (the next briefing)."""
    original, edited, *_ = (i.article for i in testset if i.story == "prisoners-returned-heavy-edits")
    con = open_store()
    assign(con, [original], StoryClusterer())
    assert assign(con, [edited], StoryClusterer())[edited.id] == original.id
    late = replace(edited, published_at=original.published_at + timedelta(hours=20))
    assert assign(open_store(), [original, late], StoryClusterer())[late.id] == late.id
    wider = StoryClusterer(ClusterSettings(near_hours=24))
    assert assign(open_store(), [original, late], wider)[late.id] == original.id


def test_one_batch_gives_the_same_clusters(
    testset: list[LabelledArticle], clustered: dict[str, str]
) -> None:
    batch = assign(open_store(), [i.article for i in reversed(testset)], StoryClusterer())
    assert batch == clustered


def test_rerun_is_idempotent(testset: list[LabelledArticle]) -> None:
    con = open_store()
    clusterer = StoryClusterer()
    half = len(testset) // 2
    first = assign(con, [i.article for i in testset[:half]], clusterer)
    count = con.execute("SELECT count(*) FROM cluster_members").fetchone()[0]
    bands = con.execute("SELECT count(*) FROM cluster_bands").fetchone()[0]
    assert assign(con, [i.article for i in testset[:half]], clusterer) == first
    assert con.execute("SELECT count(*) FROM cluster_members").fetchone()[0] == count
    assert con.execute("SELECT count(*) FROM cluster_bands").fetchone()[0] == bands
    everything = assign(con, [i.article for i in testset], clusterer)
    assert {k: everything[k] for k in first} == first
    assert everything == one_by_one(open_store(), testset, StoryClusterer())


def test_new_connection_to_same_file_keeps_clustering(
    tmp_path: Path, testset: list[LabelledArticle], clustered: dict[str, str]
) -> None:
    path = tmp_path / "news.duckdb"
    assigned: dict[str, str] = {}
    for start in range(0, len(testset), 7):
        con = open_store(path)
        assigned |= assign(con, [i.article for i in testset[start : start + 7]], StoryClusterer())
        con.close()
    assert assigned == clustered


_CHILD = """
import sys
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/tests"]
import json
from pathlib import Path
from cluster_testset import load_testset
from newswatch.cluster import StoryClusterer
from storage.db import open_database
items = load_testset()[int(sys.argv[3]):int(sys.argv[4])]
with open_database(Path(sys.argv[2])) as db, db.cluster_tables() as tables:
    print(json.dumps(StoryClusterer().assign(tables, [i.article for i in items])))
"""


@pytest.mark.slow
def test_restart_in_new_processes_keeps_clustering(
    tmp_path: Path, testset: list[LabelledArticle], clustered: dict[str, str]
) -> None:
    path = tmp_path / "news.duckdb"
    open_store(path).close()
    assigned: dict[str, str] = {}
    half = len(testset) // 2
    for start, end in ((0, half), (half, len(testset))):
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(ROOT), str(path), str(start), str(end)],
            check=True, capture_output=True, text=True,
        )
        assigned |= json.loads(out.stdout)
    assert assigned == clustered


def _article(id: str, text: str, source: str, at: datetime, title: str = "t") -> ClusterInput:
    return ClusterInput(id=id, title=title, text=text, source=source, published_at=at)


def test_matches_only_within_the_time_window(testset: list[LabelledArticle]) -> None:
    original = testset[0].article
    at = original.published_at
    con = open_store()
    clusterer = StoryClusterer(ClusterSettings(window_days=14))
    result = assign(
        con,
        [
            original,
            replace(original, id="same-week", source="X", published_at=at + timedelta(days=6)),
            replace(original, id="next-month", source="Y", published_at=at + timedelta(days=30)),
        ],
        clusterer,
    )
    assert result["same-week"] == original.id
    assert result["next-month"] == "next-month"
    late = replace(original, id="late", source="Z", published_at=at + timedelta(days=31))
    assert assign(con, [late], clusterer)["late"] == "next-month"


def test_articles_without_words_stay_alone() -> None:
    con = open_store()
    at = datetime(2025, 6, 1, tzinfo=UTC)
    result = assign(
        con,
        [_article("e1", "", "A", at, title=""), _article("e2", " — ", "B", at, title="")],
        StoryClusterer(),
    )
    assert result == {"e1": "e1", "e2": "e2"}
    assert con.execute("SELECT count(*) FROM cluster_bands").fetchone()[0] == 0


def test_summary_names_lead_and_other_outlets(testset: list[LabelledArticle]) -> None:
    con = open_store()
    items = [i.article for i in testset if i.story == "peace-treaty-text-agreed"]
    lead = items[0]
    con.execute(
        "INSERT INTO articles (id, canonical_url, url, feed_name, title, summary, discovered_at,"
        " status) VALUES (?, ?, ?, 'APA', ?, '', ?, 'extracted')",
        [lead.id, "https://apa.az/peace", "https://apa.az/peace", lead.title, lead.published_at],
    )
    clusterer = StoryClusterer()
    assign(con, items, clusterer)
    summaries = cluster_summaries(con, [items[-1].id])
    assert list(summaries) == [lead.id]
    summary = summaries[lead.id]
    assert (summary.lead_article_id, summary.lead_source) == (lead.id, "APA")
    assert (summary.lead_title, summary.lead_url) == (lead.title, "https://apa.az/peace")
    assert summary.size == 5
    assert summary.also_reported_by() == ("Armenpress", "Civil.ge", "JAMnews", "Report.az")
    assert summary.also_reported_by("Civil.ge") == ("APA", "Armenpress", "JAMnews", "Report.az")
    assert summary.members == tuple(a.id for a in items)
    assert summary.first_seen == lead.published_at
    assert summary.last_seen == items[-1].published_at


def test_lead_is_earliest_complete_text(testset: list[LabelledArticle]) -> None:
    full = next(i.article for i in testset if i.story == "eu-mission-mandate-extended")
    paragraphs = full.text.split("\n\n")
    early_stub = replace(
        full, id="stub", source="Flash", text="\n\n".join(paragraphs[:2]),
        published_at=full.published_at - timedelta(hours=1),
    )
    con = open_store()
    assign(con, [early_stub, full], StoryClusterer(ClusterSettings(threshold=0.3)))
    summary = cluster_summaries(con, ["stub"])["stub"]
    assert summary.size == 2
    assert summary.lead_article_id == full.id  # the stub has under half the words
    assert summary.first_seen == early_stub.published_at


def test_sent_cluster_is_not_sent_again_when_an_outlet_joins(
    testset: list[LabelledArticle],
) -> None:
    items = [i.article for i in testset if i.story == "csto-armenia-skips-ministers"]
    con = open_store()
    clusterer = StoryClusterer()
    assign(con, items[:2], clusterer)
    first = cluster_summaries(con, [items[0].id])
    assert clusters_to_send(con, "digest", first.values()) == list(first.values())
    mark_sent(con, "digest", first.values(), datetime(2025, 6, 10, 12, tzinfo=UTC))
    assign(con, items[2:], clusterer)
    grown = cluster_summaries(con, [items[-1].id])
    assert grown[items[0].id].size == 4
    assert clusters_to_send(con, "digest", grown.values()) == []
    assert clusters_to_send(con, "report", grown.values()) == list(grown.values())
    assert clusters_to_send(con, "digest", grown.values(), send_updates=True) == list(
        grown.values()
    )


def test_changed_signature_settings_are_refused_but_threshold_may_change(
    testset: list[LabelledArticle],
) -> None:
    con = open_store()
    assign(con, [testset[0].article], StoryClusterer())
    with pytest.raises(ClusterParamsError, match="shingle_words=3"):
        assign(con, [testset[1].article], StoryClusterer(ClusterSettings(shingle_words=5)))
    copy = next(i.article for i in testset[1:] if i.story == testset[0].story)
    stricter = StoryClusterer(ClusterSettings(threshold=0.45))
    assert assign(con, [copy], stricter)[copy.id] == testset[0].article.id


def test_benchmark_smoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = ROOT / "benchmarks" / "bench_cluster.py"
    spec = importlib.util.spec_from_file_location("bench_cluster", path)
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_cluster", bench)
    spec.loader.exec_module(bench)
    result = bench.main(["--n", "2000", "--out", str(tmp_path)])
    written = json.loads((tmp_path / "bench_cluster_n2000.json").read_text())
    assert written["n"] == result["n"] == 2000
    assert written["articles_per_second"] > 0
    assert result["clusters"] < 2000  # copies were clustered
    assert result["pair_precision"] >= 0.95
    assert result["pair_recall"] >= 0.9


def test_lines_an_outlet_repeats_on_its_pages_are_left_out(testset: list[LabelledArticle]) -> None:
    """A copy buried in its outlet's chrome joins its story once the chrome has been seen on
    other pages of that outlet; the stored text keeps the chrome (only clustering leaves it out)."""
    original, *_ = (i.article for i in testset if i.story == "peace-treaty-text-agreed")
    words = ("subscribe follow newsletter comment policy terms privacy cookies weather sport culture"
             " tourism markets archive contacts advertising editors partners video photo podcast").split()
    chrome = "\n".join(" ".join(f"{words[(n + k) % len(words)]}{n}" for k in range(30)) for n in range(40))
    copy = replace(original, id="heavy-copy", source="Portal", text=f"{original.text}\n{chrome}",
                   published_at=original.published_at + timedelta(hours=2))
    others = [
        _article(f"portal-{n}", f"{item.article.text}\n{chrome}", "Portal", original.published_at - timedelta(days=1))
        for n, item in enumerate(i for i in testset if i.story == "georgia-quake-racha")
    ]
    unlearned = assign(open_store(), [original, copy], StoryClusterer())
    assert unlearned["heavy-copy"] == "heavy-copy"  # the chrome outweighs the story

    con = open_store()
    assign(con, others, StoryClusterer())
    assert assign(con, [original, copy], StoryClusterer())["heavy-copy"] == original.id
    chrome_elsewhere = replace(copy, id="elsewhere", source="Other outlet")
    assert assign(con, [chrome_elsewhere], StoryClusterer())["elsewhere"] == "elsewhere"
    assert con.execute("SELECT count(DISTINCT article_id) FROM page_lines").fetchone()[0] == len(others) + 3


def test_editions_in_other_languages_join_the_story(testset: list[LabelledArticle]) -> None:
    """With ``clusters.editions``, the Russian and Azerbaijani editions of a story join the English
    one; an Azerbaijani story of the same day about something else stays apart."""
    lang = {"peace-treaty-text-agreed": "en", "ru-peace-treaty-text-agreed": "ru",
            "az-peace-treaty-text-agreed": "az", "az-aliyev-receives-eu-envoy": "az"}
    items = [replace(i.article, language=lang[i.story]) for i in testset if i.story in lang]
    con = open_store()
    clusterer = StoryClusterer(ClusterSettings(editions=True))
    assigned: dict[str, str] = {}
    for article in items:
        assigned |= assign(con, [article], clusterer)
    story_of = {i.article.id: i.story for i in testset}
    english = "peace-treaty-text-agreed#0"
    for article_id, cluster in assigned.items():
        expected = "az-aliyev-receives-eu-envoy#0" if story_of[article_id] == "az-aliyev-receives-eu-envoy" else english
        assert cluster == expected, article_id
    summary = cluster_summaries(con, [english])[english]
    assert [language for language, _ in summary.editions] == ["en", "az", "ru"]  # by first seen
    assert dict(summary.editions)["ru"] == ("Вестник Кавказа", "ТАСС")


def test_an_edition_never_joins_a_story_that_has_its_language() -> None:
    """A founder joins a story of another language, close in time, that has no edition in its
    own language: two stories of one language are never joined through another language."""
    lede = "Armenia and Azerbaijan agree on the text of a peace treaty\nAll 17 articles were agreed in Abu Dhabi."
    at = datetime(2025, 6, 11, 10, tzinfo=UTC)
    vector = semantic.embed([lede])[0].tolist()
    settings = ClusterSettings(editions=True)

    def founder_joins(stored: list[tuple[str, str]], language: str, seen: datetime = at) -> str:
        with Database(open_store(), None).cluster_tables() as tables:
            tables.add_editions([Edition(cluster, code, at, anchors(lede), lede, vector) for cluster, code in stored])
            return link_editions(tables, ["new"], [(0, language, seen, lede)], settings)[0]

    assert founder_joins([("story", "ru")], "hy") == "story"
    assert founder_joins([("story", "en")], "en") == "new"
    assert founder_joins([("story", "ru"), ("story", "hy")], "hy") == "new"
    assert founder_joins([("story", "ru")], "hy", at + timedelta(hours=settings.edition_hours + 1)) == "new"


def test_founders_are_embedded_only_when_they_share_rare_anchors_and_figures_agree() -> None:
    """A founder is compared (and it and the stored founder embedded, once) only with founders of
    other languages that share rare names or figures with it, and never with one whose figures
    differ (another day's report); the others are stored with their anchors, not embedded."""
    at = datetime(2025, 6, 19, 7, tzinfo=UTC)
    english = "Border guards prevented 3 attempts to smuggle drugs from Iran\nOn June 18, border guards of Azerbaijan prevented 3 attempts in the Jabrayil and Fuzuli districts."
    same = "Пограничники предотвратили 3 попытки контрабанды наркотиков из Ирана\n18 июня пограничники Азербайджана предотвратили 3 попытки в Джебраильском и Физулинском районах."
    next_day = same.replace("18 июня", "19 июня").replace("3 попытки", "2 попытки")
    unrelated = "Парламент Грузии утвердил изменения бюджета\nДепутаты проголосовали в первом чтении."
    settings = ClusterSettings(editions=True)
    con = open_store()

    def link(cluster: str, language: str, lede: str, hours: float) -> str:
        with Database(con, None).cluster_tables() as tables:
            return link_editions(tables, [cluster], [(0, language, at + timedelta(hours=hours), lede)], settings)[0]

    def embedded() -> dict[str, bool]:
        return dict(con.execute("SELECT cluster_id || '/' || language, embedding IS NOT NULL FROM cluster_editions").fetchall())

    assert link("en-story", "en", english, 0) == "en-story"
    assert embedded() == {"en-story/en": False}  # nothing to compare with yet
    assert link("unrelated", "ru", unrelated, 1) == "unrelated"
    assert embedded() == {"en-story/en": False, "unrelated/ru": False}
    assert link("next-day", "ru", next_day, 2) == "next-day"  # names agree, figures do not
    assert not any(embedded().values())
    assert link("same", "ru", same, 3) == "en-story"
    assert embedded() == {"en-story/en": True, "unrelated/ru": False, "next-day/ru": False, "en-story/ru": True}
