"""Editions of one story in other languages: the same event reported in Russian and Armenian.

Opt-in (``clusters.editions``), with the ``semantic`` extra installed.

Word shingles do not cross languages; meaning does. An article that founds a story in its
language is embedded (title and lede, the multilingual model of :mod:`newswatch.semantic`)
and joins the story of the most similar article in another language seen within
``clusters.edition_hours`` of it, if their cosine similarity reaches
``clusters.edition_similarity``. Only founders are embedded (a copy that joins a story of its
language needs nothing more), and only founders of the time window are compared, so the cost
per article does not grow with the archive.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np

from newswatch import semantic
from newswatch.config import ClusterSettings
from newswatch.models import Edition

LEDE_WORDS = 60  # title and about the first two sentences: what every edition keeps


class EditionStore(Protocol):
    """The stored founders' embeddings (part of ``newswatch.cluster.ClusterStore``)."""

    def editions_between(self, since: datetime, until: datetime) -> list[Edition]:
        """Founders' editions seen between ``since`` and ``until``."""
        ...

    def add_editions(self, editions: Sequence[Edition]) -> None:
        """Record the editions of new founders."""
        ...


def lede(title: str | None, text: str) -> str:
    """The title and the first words of the text: what is embedded."""
    return f"{title or ''}\n{' '.join(text.split()[:LEDE_WORDS])}".strip()


def link_editions(
    store: EditionStore,
    clusters: Sequence[str],
    founders: Sequence[tuple[int, str, datetime, str]],
    settings: ClusterSettings,
) -> list[str]:
    """``clusters`` with each founder's group moved to its best edition in another language.

    ``founders`` are (group number, language, seen at, lede) of the groups that founded a
    cluster in their language. Each joins the cluster of the most similar founder in another
    language (stored, or earlier in this batch) seen within ``settings.edition_hours``, if the
    similarity reaches ``settings.edition_similarity`` and that story has no founder in its
    language yet (two stories of one language are never joined through a third language);
    every founder is then stored.
    """
    out = list(clusters)
    if not founders:
        return out
    hours = timedelta(hours=settings.edition_hours)
    founders = sorted(founders, key=lambda f: f[2])
    vectors = semantic.embed([f[3] for f in founders])
    earlier = store.editions_between(founders[0][2] - hours, founders[-1][2] + hours)
    added: list[Edition] = []
    for (group, language, seen, _), vector in zip(founders, vectors, strict=True):
        present = {e.cluster_id for e in earlier if e.language == language}
        others = [e for e in earlier if e.cluster_id not in present and abs(e.seen_at - seen) <= hours]
        if others:
            similarity = np.asarray([e.embedding for e in others], dtype=np.float32) @ vector
            best = int(np.argmax(similarity))
            if similarity[best] >= settings.edition_similarity:
                out[group] = others[best].cluster_id
        edition = Edition(out[group], language, seen, vector.tolist())
        earlier.append(edition)
        added.append(edition)
    store.add_editions(added)
    return out
