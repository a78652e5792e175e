"""Export the matches of a time window, one row per (article, topic), for spreadsheets and pandas.

Files are written by DuckDB's ``COPY``: CSV (lists joined with "; "), JSON Lines and Parquet
(lists as lists). A match is in the window when its article's time (published, else found) is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Literal

from newswatch.models import EXPORT_COLUMNS as COLUMNS
from storage.db import Database

__all__ = ["COLUMNS", "FORMATS", "export_matches", "format_for"]

Format = Literal["csv", "jsonl", "parquet"]
FORMATS: tuple[Format, ...] = ("csv", "jsonl", "parquet")


def format_for(path: Path, given: str | None = None) -> Format:
    """``given``, or the format named by the file's extension (.csv, .jsonl/.ndjson/.json, .parquet)."""
    name = given or {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
                     ".parquet": "parquet", ".pq": "parquet"}.get(path.suffix.lower(), "")
    if name not in FORMATS:
        raise ValueError(f"unknown export format {name or path.suffix!r}: use one of {', '.join(FORMATS)}")
    return name  # type: ignore[return-value]


def export_matches(
    db: Database, start: datetime, end: datetime, out: Path, fmt: Format, topics: Sequence[str] = ()
) -> int:
    """Write the matches of [start, end) (of ``topics``, or all) to ``out``; return the row count.

    Rows are ordered by topic, then newest first. The file is written whole, then renamed.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    count = db.export_matches(start, end, partial, fmt, topics)
    partial.replace(out)
    return count
