"""The ``digest`` flow: send one e-mail digest subscription's new stories (exactly once)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from prefect import flow, get_run_logger

from flows import configure_logging, configured
from newswatch.atom import write_feeds
from newswatch.digest import send_digest
from storage.db import now


@flow(name="digest", flow_run_name="digest-{digest}")
def digest_flow(
    digest: str,
    sources: str = "sources.yaml",
    database: str | None = None,
    dry_run_dir: str | None = None,
) -> dict:
    """Send the digest called ``digest``; with ``dry_run_dir``, only write it there as .eml/.html.

    Fails (and records nothing as sent) when the mail server is unreachable or refuses; the
    next run then sends the same stories.
    """
    configure_logging()
    with configured(sources, database) as (config, db):
        result = send_digest(config, db, digest, Path(dry_run_dir) if dry_run_dir else None)
        if result.status == "sent":
            try:
                write_feeds(config, db, now())  # the digest's Atom feed lists what it sent
            except OSError as err:
                get_run_logger().warning("Atom feeds not written: %s", err)
    get_run_logger().info(
        "digest %s: %s (%d listed, %d omitted) %s", digest, result.status, result.listed, result.omitted,
        result.message_id or "",
    )
    return asdict(result)
