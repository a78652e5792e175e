"""End to end as a user runs it: `newswatch run` in a subprocess against a local news site."""

from __future__ import annotations

import os
import subprocess
import sys

import duckdb
import pytest
from conftest import REPO, UNRELATED, sample_articles, write_sources
from markupsafe import escape
from servers import threaded_server
from smtp_sink import self_signed, server_tls_context
from werkzeug import Response

pytestmark = pytest.mark.slow


def newswatch(*args: str, cwd, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PREFECT_HOME": str(cwd / ".prefect"), **(env_extra or {})}
    env.pop("PREFECT_API_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "newswatch", *args], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=300,
    )


def test_newswatch_run_end_to_end(site, tmp_path):
    articles = sample_articles()
    sources = write_sources(tmp_path, [
        {"name": "Daily", "url": site.add_feed("/rss.xml", articles), "language": "en"},
    ])
    result = newswatch("run", "--sources", str(sources), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ingest: 3 new articles, 3 extracted" in result.stdout
    assert "report: 3 matches" in result.stdout
    assert "Flow run" in result.stderr + result.stdout  # a real Prefect flow run happened

    db = tmp_path / "data" / "newswatch.duckdb"
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == 3
    con.close()
    [html_path] = (tmp_path / "reports").glob("report-*.html")
    html = html_path.read_text(encoding="utf-8")
    assert escape(articles[0].title) in html and escape(articles[1].title) in html
    assert escape(UNRELATED.title) not in html


def test_run_exit_codes_and_one_line_per_failed_feed(site, tmp_path):
    """4 when some feeds failed, 5 when all did; a failure that retrying cannot fix (404, a TLS
    certificate that does not verify) is not retried, a 503 is."""
    busy = site.route("/busy.xml", lambda request: Response("busy", status=503))
    failing = [
        {"name": "Gone", "url": site.url + "/gone.xml", "language": "en"},
        {"name": "Busy", "url": busy, "language": "en"},
    ]
    with threaded_server(lambda request: Response("<rss/>"), server_tls_context(*self_signed(tmp_path))) as tls:
        failing.append({"name": "BadCert", "url": tls + "/rss.xml", "language": "en"})
        some = write_sources(tmp_path, [{"name": "Daily", "url": site.add_feed("/rss.xml", [UNRELATED]),
                                         "language": "en"}, *failing], http={"retries": 2, "retry_delay": 0})
        result = newswatch("--verbose", "run", "--sources", str(some), cwd=tmp_path)
        assert result.returncode == 4, result.stdout + result.stderr[-3000:]
        output = result.stdout + result.stderr
        for name in ("Gone", "Busy", "BadCert"):
            assert len([line for line in output.splitlines() if f"feed {name} failed:" in line]) == 1, output
        assert "Retry 1/2" in output and "fetch Busy" in output  # the 503 was retried (shown with --verbose)
        retried = {line.split("'fetch ")[1].split("'")[0] for line in output.splitlines() if "Retry " in line}
        assert retried == {"Busy"}, output
        assert "Traceback" not in output
        assert "ingest: 1 new articles" in result.stdout

        (tmp_path / "sources.yaml").unlink()
        every = write_sources(tmp_path, failing, http={"retries": 0})
        result = newswatch("--quiet", "ingest", "--sources", str(every), cwd=tmp_path)
    assert result.returncode == 5, result.stdout + result.stderr[-3000:]
    assert "feed BadCert failed: ConnectError" in result.stderr and "CERTIFICATE_VERIFY_FAILED" in result.stderr
    assert "Flow run" not in result.stdout + result.stderr  # --quiet: problems only


def test_shipped_sources_validate_from_the_repo():
    result = subprocess.run(
        [sys.executable, "-m", "newswatch", "sources", "validate"], cwd=REPO,
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0 and "sources.yaml: OK" in result.stdout
