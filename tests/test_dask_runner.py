"""The ingest flow on a local Dask cluster stores exactly what it stores with the default runner."""

from __future__ import annotations

import sys

import duckdb
import pytest
from conftest import Article, sample_articles, write_sources
from werkzeug import Response

from newswatch.config import RunnerSettings

RUSSIAN = Article(
    "odkb-sammit",
    "Саммит ОДКБ в Ереване",
    "Лидеры государств ОДКБ обсудили в Ереване мандат миротворцев и вопросы безопасности "
    "на Южном Кавказе. Армения заявила, что пересматривает своё участие в организации.\n"
    "Эксперты считают, что переговоры о мирном договоре с Азербайджаном продолжатся осенью.",
)


def stored(database) -> tuple[list[tuple], list[tuple]]:
    """Every article (what extraction decided) and every match, in a stable order."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        articles = con.execute(
            "SELECT url, status, title, text, author, language, published_at, canonical_url,"
            " content_hash, extract_error FROM articles ORDER BY url"
        ).fetchall()
        matches = con.execute(
            "SELECT a.url, m.topic, m.score, m.terms FROM matches m JOIN articles a ON a.id = m.article_id"
            " ORDER BY a.url, m.topic"
        ).fetchall()
    finally:
        con.close()
    return articles, matches


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_server")
def test_dask_runner_stores_the_same_as_threads(site, tmp_path):
    from flows.ingest import ingest_flow

    filler = [Article(f"story-{i}", f"CSTO story number {i}", f"The CSTO defence ministers met in Yerevan for the {i}th time.\n" * 6)
              for i in range(6)]
    broken = Article("broken", "Broken page", "Summary of the broken page about the CSTO.")
    site.broken_pages.add(broken.slug)
    site.route("/news/empty", lambda request: Response("<html><body></body></html>", content_type="text/html"))
    empty = Article("empty", "Empty page", "Summary of the page without text.")
    feeds = [
        {"name": "Daily", "url": site.add_feed("/rss.xml", [*sample_articles(), *filler]), "language": "en"},
        {"name": "Russian", "url": site.add_feed("/ru.xml", [RUSSIAN]), "language": "ru"},
        {"name": "Faulty", "url": site.add_feed("/faulty.xml", [broken, empty], kind="atom"), "language": "en"},
    ]
    results = {}
    for kind, runner in [("threads", {}), ("dask", {"kind": "dask", "dask_workers": 2})]:
        run_dir = tmp_path / kind
        run_dir.mkdir()
        sources = write_sources(run_dir, feeds, extract={"batch_size": 3}, runner=runner)
        stats = ingest_flow(sources=str(sources))
        assert (stats["new_articles"], stats["extracted"], stats["summary_only"]) == (12, 10, 2)
        results[kind] = stored(run_dir / "data" / "newswatch.duckdb")

    articles, matches = results["threads"]
    assert results["dask"] == (articles, matches)
    by_slug = {row[0].split("/news/")[1].split("?")[0]: row for row in articles}
    assert by_slug["odkb-sammit"][5] == "ru" and by_slug["story-0"][5] == "en"
    assert by_slug["broken"][1::8] == ("summary_only", "HTTP 500")
    assert by_slug["empty"][1::8] == ("summary_only", "no article text found on the page")
    assert len(matches) >= 10


def test_dask_without_the_extra_is_a_clear_error(monkeypatch):
    from flows.ingest import PrefectStages

    monkeypatch.setitem(sys.modules, "prefect_dask", None)  # what Python does when it is not installed
    with pytest.raises(RuntimeError, match=r"the dask extra is not installed: run `uv sync --extra dask`"):
        PrefectStages(RunnerSettings(kind="dask"))
