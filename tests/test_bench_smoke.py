"""A small run of the ingest benchmark, as the README runs it (results checked, never timed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO


@pytest.mark.slow
def test_ingest_benchmark_small_run(tmp_path, prefect_server):
    from prefect.settings import PREFECT_API_URL

    out = tmp_path / "results.json"
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}  # the session's Prefect server
    result = subprocess.run(
        [sys.executable, "benchmarks/bench_ingest.py", "--feeds", "6", "--articles", "5",
         "--fetch-latency", "0.05", "--repeats", "2", "--json", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ingest benchmark: 6 feeds, 30 pages" in result.stdout
    figures = json.loads(out.read_text())
    assert figures["stored_plain"]["articles"] == figures["stored_plain"]["extracted"] == 30
    assert figures["stored_plain"]["matches"] > 0
    assert figures["same_results"] is True  # every Prefect and plain round stored the same
    assert len(figures["plain_runs_s"]) == len(figures["prefect_runs_s"]) == 2
    assert figures["first_run_downloads"]["feed_bodies"] == 6
    assert figures["first_run_downloads"]["article_pages"] == 30
    assert (figures["rerun_feed_bodies"], figures["rerun_article_pages"]) == (0, 0)
    assert figures["rerun_not_modified"] == 6
    assert figures["fetch_all_ok"] == 6
    for ratio in ("ratio_ingest_to_extract", "ratio_prefect_to_plain", "ratio_rerun_to_first"):
        assert figures[ratio] > 0


@pytest.mark.slow
@pytest.mark.timeout(3900)  # the run's own deadline (3600 s) decides, not the suite's 1800 s hang guard
def test_contenders_benchmark_small_run(tmp_path):
    """bench_contenders.py end to end on a tiny web: every contender stores every page, the
    archive is grown as asked, and each aim is measured."""
    out = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    result = subprocess.run(
        [sys.executable, "benchmarks/bench_contenders.py", "--feeds", "3", "--articles", "4", "--archive", "3000",
         "--small-feeds", "2", "--small-articles", "2", "--parallel", "4", "--json", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=3600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "12 pages (3 feeds x 4)" in result.stdout
    figures = json.loads(out.read_text())
    assert {k: figures["stored"][k] for k in ("cli", "plain", "naive", "trafilatura")} == dict.fromkeys(
        ("cli", "plain", "naive", "trafilatura"), 12)
    assert 0 < figures["stored"]["matched_share"] < 1
    assert figures["archive"]["articles"] >= 3000
    runs = figures["runs"]
    assert all(run["exit_code"] == 0 and run["cpu_s"] > 0 and run["peak_rss_sum_mb"] > 0 for run in runs.values())
    assert runs["cli"]["processes"] > runs["naive"]["processes"]  # the CLI's Prefect API and parsers are counted
    assert len(figures["aims"]) == 15 and all(a["value"] > 0 for a in figures["aims"].values())
