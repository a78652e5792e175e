"""The ``digest`` flow: send one e-mail digest subscription's new stories (exactly once)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from prefect import flow

from flows import configure_logging, configured
from newswatch.publish import digest_and_feeds


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
        result = digest_and_feeds(config, db, digest, Path(dry_run_dir) if dry_run_dir else None)
    return asdict(result)
