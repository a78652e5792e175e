"""Test data for the matcher: the labelled articles and the shipped topics and entities."""

from __future__ import annotations

from pathlib import Path

import yaml
from conftest import REPO

from newswatch.config import Entity, Topic, load_config

HERE = Path(__file__).resolve().parent


def load_articles() -> list[dict]:
    """The labelled set: id, lang, title, body, topics (and a note for hard negatives)."""
    return yaml.safe_load((HERE / "articles.yaml").read_text(encoding="utf-8"))


def load_watchlist() -> tuple[list[Topic], dict[str, Entity]]:
    """The topics and entities shipped in sources.yaml."""
    config = load_config(REPO / "sources.yaml")
    return list(config.topics), dict(config.entities)
