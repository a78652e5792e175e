"""Render the HTML e-mail digest and the HTML report in headless Chromium once; screenshots go to
``artifacts/`` in the repository root (git-ignored) for a human to look at."""

from __future__ import annotations

import shutil
import struct
import subprocess

import pytest
from conftest import REPO, Article
from digest_helpers import CSTO_EN, CSTO_HY, PEACE_KA, PEACE_RU, WINE, Newsroom, digest_entry, paragraphs

from newswatch.digest import run_digest
from newswatch.reports import report, report_window
from storage.db import open_database

pytestmark = pytest.mark.slow
ARTIFACTS = REPO / "artifacts"


def chromium() -> str:
    """The Chromium binary (the test is skipped when there is none)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    pytest.skip("no chromium binary (apt-get install -y chromium)")


def screenshot(html_path, png_path, tmp_path) -> tuple[int, int]:
    """Screenshot ``html_path`` at 900x1400; return the PNG's (width, height)."""
    png_path.unlink(missing_ok=True)
    subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         f"--user-data-dir={tmp_path / 'chromium-profile'}", f"--screenshot={png_path}",
         "--window-size=900,1400", html_path.as_uri()],
        check=True, capture_output=True, timeout=300,
    )
    data = png_path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    # a blank page compresses to a few kB; text, highlights and the chart take far more
    assert len(data) > 50_000
    return struct.unpack(">II", data[16:24])


@pytest.fixture
def room(site, tmp_path) -> Newsroom:
    newsroom = Newsroom(site, tmp_path)
    twin = Article("csto-copy", CSTO_EN.title, CSTO_EN.body)
    newsroom.publish("en", CSTO_EN, WINE, Article("peacekeepers", "Russian peacekeeping contingent leaves Karabakh",
                                                  paragraphs("The Russian peacekeeping contingent left Karabakh before its mandate expired.")))
    newsroom.publish("ru", PEACE_RU, twin)
    newsroom.publish("hy", CSTO_HY)
    newsroom.publish("ka", PEACE_KA)
    return newsroom


def test_html_digest_renders_in_chromium(room, tmp_path):
    config = room.config([digest_entry()])
    room.ingest(config)
    with open_database(config.settings.database) as db:
        result = run_digest(config, db, config.digest("brief"), None, dry_run_dir=tmp_path / "dry-run")
    html_path = tmp_path / "dry-run" / result.files[1]
    assert "also reported by" in html_path.read_text(encoding="utf-8")
    ARTIFACTS.mkdir(exist_ok=True)
    assert screenshot(html_path, ARTIFACTS / "digest.png", tmp_path) == (900, 1400)


def test_html_report_with_volume_chart_renders_in_chromium(room, tmp_path):
    config = room.config([digest_entry()])
    room.ingest(config)
    with open_database(config.settings.database) as db:
        start, end = report_window(24)
        built, html_path, _ = report(config, db, start, end, tmp_path / "reports")
    html = html_path.read_text(encoding="utf-8")
    totals = {row.name: row.total for row in built.chart.rows}
    assert totals == {"peace accord": 2, "CSTO": 2, "peacekeeping mandate": 1}  # the copy counts once
    assert html.count("<rect") == sum(len(row.bars) for row in built.chart.rows) > 0
    assert "also reported by" in html
    ARTIFACTS.mkdir(exist_ok=True)
    assert screenshot(html_path, ARTIFACTS / "report.png", tmp_path) == (900, 1400)
