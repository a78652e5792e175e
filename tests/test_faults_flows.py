"""Retry-After and Prefect's retries agree: a feed that said when to come back is not retried."""

from __future__ import annotations

import pytest
from conftest import Article, rss, write_sources
from werkzeug import Request, Response

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]

GOOD = Article("good-news", "CSTO summit in Yerevan", "The CSTO met in Yerevan.\n" * 10)


def test_retry_after_is_honoured_instead_of_prefect_retries(site, tmp_path):
    from flows.ingest import ingest_flow

    calls: dict[str, int] = {"/later.xml": 0, "/flaky.xml": 0}

    def later(request: Request) -> Response:
        calls[request.path] += 1
        return Response("busy", status=429, headers={"Retry-After": "3600"})

    def flaky(request: Request) -> Response:  # no Retry-After: Prefect retries with backoff
        calls[request.path] += 1
        if calls[request.path] == 1:
            return Response("busy", status=503)
        return Response(rss(site.url, [GOOD]), content_type="application/rss+xml")

    sources = write_sources(tmp_path, [
        {"name": "Later", "url": site.route("/later.xml", later), "language": "en"},
        {"name": "Flaky", "url": site.route("/flaky.xml", flaky), "language": "en"},
    ], http={"retries": 2, "retry_delay": 0.1})
    first = ingest_flow(sources=str(sources))
    assert calls == {"/later.xml": 1, "/flaky.xml": 2}
    assert first["feeds_ok"] == 1 and first["failures"]["Later"].startswith("HTTP 429, asked to retry after")

    second = ingest_flow(sources=str(sources))
    assert calls["/later.xml"] == 1 and second["feeds_skipped"] == 1
    assert "(Retry-After)" in second["skipped"]["Later"]
