"""Shared set-up for alert tests: sources with channels and alerts, running alerts."""

from __future__ import annotations

from digest_helpers import Newsroom, digest_sources, mail_settings

from newswatch.alerts import AlertsRun, run_alerts
from newswatch.config import Config, load_config
from storage.db import open_database

TOPICS = ["peace accord", "CSTO", "peacekeeping mandate"]


def alert_entry(**overrides) -> dict:
    """One immediate alert for all three topics on channel ``hook``."""
    return {"name": "now", "topics": TOPICS, "channels": ["hook"], **overrides}


def alert_config(room: Newsroom, channels: list[dict], alerts: list[dict], mail: dict | None = None, **settings) -> Config:
    """sources.yaml with the room's feeds, ``channels`` and ``alerts``, loaded."""
    for language in room.LANGUAGES:
        room.site.add_feed(f"/{language}.xml", room.articles[language])
    path = digest_sources(room.tmp_path, room.feeds(), [], mail or mail_settings(), **settings)
    text = path.read_text(encoding="utf-8").replace("digests: []\n", "")
    import yaml

    data = yaml.safe_load(text)
    data["channels"], data["alerts"] = channels, alerts
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_config(path)


def alert(config: Config) -> AlertsRun:
    """Run the alerts once."""
    with open_database(config.settings.database) as db:
        return run_alerts(config, db)


def statuses(config: Config, stream: str) -> list[tuple[str, int, int]]:
    """(status, listed, omitted) of every message of a ledger stream, oldest first."""
    with open_database(config.settings.database) as db:
        return [(r.status, r.listed, r.omitted) for r in reversed(db.digest_history(stream, 100))]
