"""The ``digest`` flow: send one e-mail digest subscription's new stories (exactly once)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from prefect import flow, get_run_logger

from flows import configure_logging, configured
from newswatch.digest import run_digest
from newswatch.mail import transport_for


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
        subscription = config.digest(digest)
        transport = None if dry_run_dir or config.settings.mail is None else transport_for(config.settings.mail)
        result = run_digest(
            config, db, subscription, transport, dry_run_dir=Path(dry_run_dir) if dry_run_dir else None
        )
    get_run_logger().info(
        "digest %s: %s (%d listed, %d omitted) %s", digest, result.status, result.listed, result.omitted,
        result.message_id or "",
    )
    return asdict(result)
