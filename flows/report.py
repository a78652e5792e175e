"""The ``report`` flow: render the matches of a time window as HTML and text files."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger

from flows import configure_logging
from newswatch.config import load_config
from newswatch.pipeline import report, report_window
from storage.db import open_reader


@flow(name="report")
def report_flow(
    sources: str = "sources.yaml",
    database: str | None = None,
    hours: float | None = None,
    output_dir: str | None = None,
) -> dict:
    """Write the report of the last ``hours`` (default: settings.report.window_hours)."""
    configure_logging()
    config = load_config(Path(sources) if sources else None, Path(database) if database else None)
    start, end = report_window(hours or config.settings.report.window_hours)
    out_dir = Path(output_dir) if output_dir else config.settings.report.output_dir
    # a reader: while an ingest writes the database, the report is made from its snapshot
    with open_reader(config.settings.database, create_lock_timeout=config.settings.lock_timeout) as (db, _):
        built, html_path, text_path = report(config, db, start, end, out_dir)
    get_run_logger().info("%d matches -> %s", built.item_count, html_path)
    return {"matches": built.item_count, "html": str(html_path), "text": str(text_path)}
