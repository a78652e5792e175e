"""The relevance evaluation on the tuning part, as the README runs it (figures held, not timed)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import REPO

MIN_PRECISION = MIN_RECALL = 0.93


@pytest.mark.slow
def test_tuning_part_through_ingest_report_and_digest(tmp_path):
    out = tmp_path / "figures.json"
    result = subprocess.run([sys.executable, "benchmarks/eval_relevance.py", "--part", "tuning", "--json", str(out)],
                            cwd=REPO, capture_output=True, text=True, timeout=3000)
    assert result.returncode == 0, result.stderr[-3000:]
    tuning = json.loads(out.read_text())["tuning"]
    assert tuning["stored"] == tuning["items"] >= 100
    for topic, views in tuning["topics"].items():
        assert set(views) == {"articles", "report", "digest"}, topic
        for view, figures in views.items():
            assert figures["precision"] >= MIN_PRECISION, (topic, view, figures)
            assert figures["recall"] >= MIN_RECALL, (topic, view, figures)
    dates = tuning["dates"]
    assert dates["stated"] > 0 and dates["unstated"] > 0
    assert dates["stated_right"] == dates["stated"] and dates["unstated_right"] == dates["unstated"], dates
    assert "dates right to the hour" in result.stdout
