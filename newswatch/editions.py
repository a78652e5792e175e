"""Editions of one story in other languages: the same event reported in Russian and Armenian.

Opt-in (``clusters.editions``), with the ``semantic`` extra installed.

Word shingles do not cross languages; meaning does, and so do figures and names
(:mod:`newswatch.anchors`). An article that founds a story in its language is recorded with
the anchors of its title and lede. It is compared with the founders in other languages seen
within ``clusters.edition_hours`` that share enough rare anchors with it
(``clusters.edition_evidence``) and whose figures do not contradict its own; only then are both
embedded (title and lede, the multilingual model of :mod:`newswatch.semantic`; a stored
founder's embedding is kept once computed), and it joins the story of the most similar one
if their cosine similarity reaches ``clusters.edition_similarity``. Embedding costs 0.1-0.3
s of CPU, a thousand times the rest of clustering an article, so founders that share nothing
rare with another language are never embedded. Only founders of the time window are read,
so the cost per article does not grow with the archive.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np

from newswatch import semantic
from newswatch.anchors import anchors, evidence, key_weights, numbers_conflict
from newswatch.config import ClusterSettings
from newswatch.models import Edition

LEDE_WORDS = 60  # title and about the first two sentences: what every edition keeps


class EditionStore(Protocol):
    """The stored founders' anchors and embeddings (part of ``newswatch.cluster.ClusterStore``)."""

    def editions_between(self, since: datetime, until: datetime) -> list[Edition]:
        """Founders' editions seen between ``since`` and ``until``."""
        ...

    def add_editions(self, editions: Sequence[Edition]) -> None:
        """Record the editions of new founders."""
        ...

    def set_edition_embeddings(self, editions: Sequence[Edition]) -> None:
        """Store the embeddings of stored founders (by cluster and language)."""
        ...


def lede(title: str | None, text: str) -> str:
    """The title and the first words of the text: what is compared."""
    return f"{title or ''}\n{' '.join(text.split()[:LEDE_WORDS])}".strip()


class _Founders:
    """The founders of the time window with an index of their anchors; embeddings on demand."""

    def __init__(self, stored: list[Edition], new: Sequence[frozenset[str]]):
        self.all = list(stored)
        self.weights = key_weights([*(e.anchors for e in stored), *new])
        self.index: dict[str, list[int]] = defaultdict(list)
        for position, edition in enumerate(stored):
            self.add_to_index(position, edition)

    def add_to_index(self, position: int, edition: Edition) -> None:
        for key in edition.anchors:
            self.index[key].append(position)

    def append(self, edition: Edition) -> None:
        self.add_to_index(len(self.all), edition)
        self.all.append(edition)

    def sharing(self, keys: frozenset[str]) -> set[int]:
        """Positions of the founders sharing any of ``keys``."""
        return {position for key in keys for position in self.index.get(key, ())}

    def embedding(self, position: int) -> np.ndarray:
        """The embedding of a founder, computed the first time it is needed."""
        edition = self.all[position]
        if edition.embedding is None:
            edition = self.all[position] = replace(edition, embedding=semantic.embed([edition.lede])[0].tolist())
        return np.asarray(edition.embedding, dtype=np.float32)


def link_editions(
    store: EditionStore,
    clusters: Sequence[str],
    founders: Sequence[tuple[int, str, datetime, str]],
    settings: ClusterSettings,
) -> list[str]:
    """``clusters`` with each founder's group moved to its best edition in another language.

    ``founders`` are (group number, language, seen at, lede) of the groups that founded a
    cluster in their language. Each joins the cluster of the most similar founder in another
    language (stored, or earlier in this batch) seen within ``settings.edition_hours`` that
    shares ``settings.edition_evidence`` of anchors with it and no contradicting figures, if the
    similarity of their embeddings reaches ``settings.edition_similarity`` and that story has
    no founder in its language yet (two stories of one language are never joined through a
    third language); every founder is then stored, embedded only if it was compared.
    """
    out = list(clusters)
    if not founders:
        return out
    hours = timedelta(hours=settings.edition_hours)
    founders = sorted(founders, key=lambda f: f[2])
    keys = [anchors(f[3]) for f in founders]
    stored = store.editions_between(founders[0][2] - hours, founders[-1][2] + hours)
    window = _Founders(stored, keys)
    had_embedding = [e.embedding is not None for e in stored]
    for (group, language, seen, text), own in zip(founders, keys, strict=True):
        present = {e.cluster_id for e in window.all if e.language == language}
        candidates = [
            position for position in sorted(window.sharing(own))
            if evidence(own, window.all[position].anchors, window.weights) >= settings.edition_evidence
            and (other := window.all[position]).cluster_id not in present
            and abs(other.seen_at - seen) <= hours
            and not numbers_conflict(own, other.anchors)
        ]
        edition = Edition(out[group], language, seen, own, text, None)
        if candidates:
            vector = semantic.embed([text])[0]
            similarity = np.asarray([window.embedding(p) for p in candidates]) @ vector
            best = int(np.argmax(similarity))
            if similarity[best] >= settings.edition_similarity:
                out[group] = window.all[candidates[best]].cluster_id
            edition = replace(edition, cluster_id=out[group], embedding=vector.tolist())
        window.append(edition)
    store.set_edition_embeddings([
        e for e, before in zip(window.all[: len(stored)], had_embedding, strict=True)
        if e.embedding is not None and not before
    ])
    store.add_editions(window.all[len(stored):])
    return out
