"""The clustering evaluation (benchmarks/eval_clusters.py) on the tuning set: pages rendered on
outlet layouts, extracted and clustered by the production code."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def eval_clusters():
    """The evaluation script as a module."""
    spec = importlib.util.spec_from_file_location("eval_clusters", ROOT / "benchmarks" / "eval_clusters.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("eval_clusters", module)
    spec.loader.exec_module(module)
    return module


def test_tuning_set_scores_on_rendered_pages(eval_clusters, capsys: pytest.CaptureFixture) -> None:
    results = eval_clusters.main(["--sets", "tuning"])  # the held-out set is run by hand, once
    printed = capsys.readouterr().out
    whole = next(scores for name, scores in results.items() if name.startswith("tuning") and not name.endswith("=10"))
    assert "tuning batch=10 within-language" in printed
    assert whole.within.precision >= 0.98
    assert whole.within.recall >= 0.95  # heavily edited copies too (near misses checked paragraph by paragraph)
    assert whole.across.precision >= 0.95
    assert whole.across.recall >= 0.7
    assert whole.extraction_recall >= 0.99  # nothing of the article is lost
