"""Where benchmarks keep their figures: one JSON file per run under benchmarks/results/."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console

RESULTS = Path(__file__).resolve().parent / "results"


def save(results: Any, kind: str, console: Console, path: Path | None = None) -> Path:
    """Write ``results`` to ``path`` (default ``results/<kind>-<time>.json``) and say where."""
    path = path or RESULTS / f"{kind}-{datetime.now():%Y%m%dT%H%M%S}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    console.print(f"results written to {path}")
    return path
