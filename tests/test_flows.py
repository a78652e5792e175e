"""Real Prefect flow runs (local ephemeral API) over a real local news site."""

from __future__ import annotations

import duckdb
import pytest
from conftest import UNRELATED, rss, sample_articles, write_sources
from markupsafe import escape
from waiting import wait_for
from werkzeug import Response

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]


def test_ingest_and_report_flows(site, tmp_path):
    from flows.ingest import ingest_flow
    from flows.report import report_flow

    articles = sample_articles()
    sources = write_sources(tmp_path, [
        {"name": "Daily", "url": site.add_feed("/rss.xml", articles[:2]), "language": "en"},
        {"name": "Wire", "url": site.add_feed("/atom.xml", articles[2:], kind="atom"), "language": "en"},
        {"name": "Dead", "url": site.url + "/gone.xml", "language": "en"},
    ])
    first = ingest_flow(sources=str(sources))
    assert (first["new_articles"], first["extracted"], first["feeds_failed"]) == (3, 3, 1)
    second = ingest_flow(sources=str(sources))
    assert second["new_articles"] == 0 and second["feeds_not_modified"] == 2
    assert site.statuses("/rss.xml") == [200, 304] and site.bodies_served("/rss.xml")[1] == 0

    result = report_flow(sources=str(sources), hours=24)
    html = open(result["html"], encoding="utf-8").read()
    assert result["matches"] == 3  # sample 1: peace accord + CSTO; sample 2: peacekeeping mandate
    assert escape(articles[0].title) in html and escape(articles[1].title) in html
    assert escape(UNRELATED.title) not in html
    assert "Dead: HTTP 404" in html

    con = duckdb.connect(str(tmp_path / "data" / "newswatch.duckdb"), read_only=True)
    assert con.execute("SELECT count(*), count(DISTINCT canonical_url) FROM articles").fetchone() == (3, 3)
    con.close()


def test_transient_feed_failure_is_retried_by_prefect(site, tmp_path):
    from flows.ingest import ingest_flow

    calls = []
    feed = rss(site.url, sample_articles()[:1])

    def flaky(request):
        calls.append(request.path)
        if len(calls) == 1:
            return Response("busy", status=503)
        return Response(feed, content_type="application/rss+xml")

    site.server.clear_handler_errors()
    site.server.handlers.clear()
    site.server.expect_request("/flaky.xml").respond_with_handler(flaky)
    sources = write_sources(tmp_path, [{"name": "Flaky", "url": site.url + "/flaky.xml", "language": "en"}],
                            http={"retries": 2, "retry_delay": 0.1})
    stats = ingest_flow(sources=str(sources))
    assert calls == ["/flaky.xml", "/flaky.xml"]
    assert stats["feeds_ok"] == 1 and stats["feeds_failed"] == 0 and stats["new_articles"] == 1


def test_newswatch_info_lines_reach_the_flow_run_logs(site, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogWorker

    from flows.ingest import ingest_flow

    sources = write_sources(tmp_path, [
        {"name": "Daily", "url": site.add_feed("/rss.xml", sample_articles()[:1]), "language": "en"},
    ])
    state = ingest_flow(sources=str(sources), return_state=True)
    run = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[state.state_details.flow_run_id]))

    def summaries() -> list[str]:  # log records reach the API in batches, later on a busy machine
        APILogWorker.drain_all(timeout=10)
        with get_client(sync_client=True) as client:
            logs = client.read_logs(run)
        return [log.message for log in logs if log.name == "newswatch.pipeline"
                and log.message.startswith("ingest: 1 feeds ok") and "1 new articles" in log.message]

    wait_for(summaries, "the ingest's summary line in the flow run's logs")
