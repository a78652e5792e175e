"""The ``report`` flow: render the matches of a time window as HTML and text files."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger

from flows import configure_logging
from newswatch.config import load_config
from newswatch.reports import report_recent


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
    built, html_path, text_path = report_recent(config, hours, Path(output_dir) if output_dir else None)
    get_run_logger().info("%d matches -> %s", built.item_count, html_path)
    return {"matches": built.item_count, "html": str(html_path), "text": str(text_path)}
