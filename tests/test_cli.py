"""End to end as a user runs it: `newswatch run` in a subprocess against a local news site."""

from __future__ import annotations

import os
import subprocess
import sys

import duckdb
import pytest
from conftest import REPO, UNRELATED, sample_articles, write_sources
from markupsafe import escape

pytestmark = pytest.mark.slow


def newswatch(*args: str, cwd, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PREFECT_HOME": str(cwd / ".prefect"), **(env_extra or {})}
    env.pop("PREFECT_API_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "newswatch", *args], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=900,
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


def test_shipped_sources_validate_from_the_repo():
    result = subprocess.run(
        [sys.executable, "-m", "newswatch", "sources", "validate"], cwd=REPO,
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0 and "sources.yaml: OK" in result.stdout
