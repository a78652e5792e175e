"""What follows an ingest (immediate alerts to their channels, then the Atom feeds out), and a
digest sent with the Atom feeds that list it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from newswatch.alerts import run_alerts
from newswatch.atom import write_digest_feed, write_feeds
from newswatch.config import Config
from newswatch.digest import DigestResult, send_digest
from storage.db import Database, now

log = logging.getLogger("newswatch.publish")


@dataclass(slots=True)
class Published:
    """What :func:`after_ingest` did: alerts (summary line, failures) and feed files."""

    alerts: str = ""
    alerts_failed: list[str] = field(default_factory=list)
    feeds: list[str] = field(default_factory=list)
    feeds_error: str | None = None


def after_ingest(config: Config, db: Database, at: datetime | None = None) -> Published:
    """Send due alerts and write the Atom feeds. Delivery problems and an unwritable feeds
    folder are reported in the result and logged, not raised: the ingest's work is stored."""
    at = at or now()
    result = Published()
    run = run_alerts(config, db, at)
    result.alerts = run.summary() if config.alerts else "no alerts configured"
    result.alerts_failed = [f"{o.alert} on {o.channel}: {o.error}" for o in run.failed]
    try:
        result.feeds = [str(path) for path in write_feeds(config, db, at)]
    except OSError as err:
        result.feeds_error = f"cannot write Atom feeds to {config.settings.feeds_out.dir}: {err.strerror or err}"
        log.error("%s", result.feeds_error)
    return result


def digest_and_feeds(config: Config, db: Database, name: str, dry_run_dir: Path | None = None) -> DigestResult:
    """Send the digest called ``name`` now (with ``dry_run_dir``, only write it there:
    :func:`~newswatch.digest.send_digest`); once it is sent, rewrite its Atom feed, which lists
    what it sent (:func:`~newswatch.atom.write_digest_feed`; a feeds folder that cannot be written
    is logged: the digest stays sent). Raises DeliveryError, and records nothing as sent, when
    the mail server refuses."""
    result = send_digest(config, db, name, dry_run_dir)
    if result.status == "sent":
        try:
            write_digest_feed(config, db, config.digest(name), now())
        except OSError as err:
            log.warning("Atom feeds not written: %s", err)
    log.info("digest %s: %s (%d listed, %d omitted) %s", name, result.status, result.listed, result.omitted,
             result.message_id or "")
    return result
