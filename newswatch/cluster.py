"""Story clusters: one story republished by many outlets is grouped and shown once.

Each article gets a MinHash signature (datasketch) over word shingles of its text. The
signature is cut into LSH bands whose hashes are stored (``cluster_bands``, through a
:class:`ClusterStore`: the database's cluster tables within one transaction);
a batch of new articles finds its candidates with one query over the recent band rows,
candidates are verified by the Jaccard similarity estimated from the stored signatures, and
articles of the batch that match each other are joined with union-find. Lines that an outlet
repeats on many of its pages (site chrome: navigation, "related" lists, newsletter boxes,
comment policy), learned from the outlet's stored pages, are left out of the shingled text.
An article that founds a cluster in its language may join one in another language as its
edition (:mod:`newswatch.editions`). A new article
joins the existing cluster it matches best, or founds a cluster with its batch partners.
Existing clusters are never merged or renumbered, so a cluster id stays valid once shown.

Cost per article does not grow with the archive: candidates are only looked for among
articles seen within ``window_days`` of the new one (DuckDB skips older row groups through
its min-max zone maps; it does not use ART indexes for joins), and "already clustered?"
is answered by primary-key index lookups.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from hashlib import blake2b
from typing import Protocol

import numpy as np
from datasketch import MinHash, MinHashLSH
from numpy.lib.stride_tricks import sliding_window_view
from scipy.cluster.hierarchy import DisjointSet

from newswatch.config import ClusterSettings
from newswatch import editions
from newswatch.editions import EditionStore
from newswatch.errors import ClusterParamsError
from newswatch.models import Candidate, ClusterInput, MemberRow, PageLine
from newswatch.passages import Passages, same_story
from newswatch.text import folded_words

_SEED = 1
_SCHEME = "affine32"
# LSH band layout weighted towards recall: every candidate is verified against its stored
# signature anyway, so a false candidate only costs a comparison.
_LSH_WEIGHTS = (0.1, 0.9)
# Bands tuned for at least this similarity: 32 bands of 2 rows, as many band rows as a 0.5
# threshold needs, still find 87% of the pairs at 0.25 (near misses, :mod:`newswatch.passages`).
_BANDING_FLOOR = 0.3
_SHINGLE_BASE = np.uint64(0x100000001B3)  # odd multiplier (the 64-bit FNV prime)


_NOT_READ = Passages((), 1)  # the stored text of a match the estimate decides alone


class ClusterStore(EditionStore, Protocol):
    """The stored clusters, read and extended within one transaction (``Database.cluster_tables``)."""

    def stored_params(self, params: dict[str, str]) -> dict[str, str]:
        """Record ``params`` where none are stored yet; return the stored parameters."""
        ...

    def memberships(self, article_ids: Sequence[str]) -> dict[str, str]:
        """Cluster id of each of ``article_ids`` that is already a member."""
        ...

    def band_candidates(
        self, queries: Sequence[int], band_keys: Sequence[Sequence[int]], seen_at: Sequence[datetime], window: timedelta
    ) -> list[Candidate]:
        """Stored members sharing a band key with a query, seen within ``window`` of it."""
        ...

    def member_bodies(self, article_ids: Sequence[str]) -> dict[str, str]:
        """The compared text of each of ``article_ids`` ('' for members stored without it)."""
        ...

    def add_members(self, members: Sequence[MemberRow], clustered_at: datetime) -> None:
        """Append new members and the LSH band rows of their signatures."""
        ...

    def recurring_lines(self, lines: Sequence[PageLine], since: datetime, min_pages: int) -> set[tuple[str, int]]:
        """Record ``lines``; return the (source, line hash) of those on ``min_pages`` pages seen since ``since``."""
        ...


def shingle_hashes(tokens: Sequence[str], size: int) -> np.ndarray:
    """Distinct 32-bit hashes of the ``size``-word shingles (the whole text if shorter).

    Each word is hashed once (CRC-32); a shingle's hash is a polynomial over its words'
    hashes modulo 2**64, folded to 32 bits.
    """
    hashes = np.fromiter(
        map(zlib.crc32, map(str.encode, tokens)), dtype=np.uint64, count=len(tokens)
    )
    if len(hashes) == 0:
        return np.empty(0, dtype=np.uint32)
    windows = (
        sliding_window_view(hashes, size) if len(hashes) > size else hashes[np.newaxis, :]
    )
    powers = _SHINGLE_BASE ** np.arange(windows.shape[1] - 1, -1, -1, dtype=np.uint64)
    mixed = windows @ powers
    return np.unique(((mixed >> np.uint64(32)) ^ mixed).astype(np.uint32))


def page_lines(text: str | None) -> list[tuple[int, str]]:
    """(64-bit hash of its folded words, line) of every line of ``text`` that has words."""
    out = []
    for line in (text or "").splitlines():
        if words := folded_words(line):
            digest = blake2b(" ".join(words).encode("utf-8"), digest_size=8).digest()
            out.append((int.from_bytes(digest, "little", signed=True), line))
    return out


def without_chrome(
    store: ClusterStore, articles: Sequence[ClusterInput], seen: Sequence[datetime], settings: ClusterSettings
) -> list[str]:
    """Each article's text without its outlet's recurring lines (all of it if nothing is left)."""
    lines = [page_lines(a.text) for a in articles]
    chrome = store.recurring_lines(
        [
            PageLine(a.source, line_hash, a.id, at)
            for a, at, article_lines in zip(articles, seen, lines, strict=True)
            for line_hash in {h for h, _ in article_lines}
        ],
        min(seen) - timedelta(days=settings.chrome_days),
        settings.chrome_pages,
    )
    bodies = []
    for article, article_lines in zip(articles, lines, strict=True):
        kept = [line for h, line in article_lines if (article.source, h) not in chrome]
        bodies.append("\n".join(kept or [line for _, line in article_lines]))
    return bodies


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """64-bit key of every LSH band of every signature, shape (len(signatures), bands)."""
    keys = np.empty((len(signatures), bands), dtype=np.int64)
    for i, signature in enumerate(signatures):
        for band in range(bands):
            digest = blake2b(
                signature[band * rows : (band + 1) * rows].tobytes(),
                digest_size=8,
                salt=band.to_bytes(16, "little"),
            ).digest()
            keys[i, band] = int.from_bytes(digest, "little", signed=True)
    return keys


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class StoryClusterer:
    """Assigns articles to story clusters kept in a :class:`ClusterStore`."""

    def __init__(
        self,
        settings: ClusterSettings | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.settings = settings or ClusterSettings()
        self._clock = clock
        lsh = MinHashLSH(
            threshold=min(self.settings.threshold, max(self.settings.near_threshold, _BANDING_FLOOR)),
            num_perm=self.settings.num_perm,
            weights=_LSH_WEIGHTS,
        )
        self.bands, self.rows = lsh.b, lsh.r

    def params(self) -> dict[str, str]:
        """Parameters that stored signatures and band keys depend on."""
        return {
            "signature": f"minhash-{_SCHEME}-seed{_SEED}-crc32-words-poly-v1",
            "num_perm": str(self.settings.num_perm),
            "shingle_words": str(self.settings.shingle_words),
            "bands": str(self.bands),
            "rows": str(self.rows),
        }

    def signatures(self, token_lists: Sequence[Sequence[str]]) -> np.ndarray:
        """MinHash signatures, one uint32 row per token list (which must not be empty)."""
        size = self.settings.shingle_words
        minhashes = MinHash.generator(
            (shingle_hashes(tokens, size) for tokens in token_lists),
            num_perm=self.settings.num_perm,
            seed=_SEED,
            hashfunc=int,
            scheme=_SCHEME,
        )
        out = np.empty((len(token_lists), self.settings.num_perm), dtype="<u4")
        for row, minhash in enumerate(minhashes):
            out[row] = minhash.hashvalues
        return out

    def _stored_banding(self, store: ClusterStore) -> tuple[int, int]:
        """(bands, rows) of the stored band keys; fails if stored signatures are incompatible."""
        wanted = self.params()
        stored = store.stored_params(wanted)
        for name in ("signature", "num_perm", "shingle_words"):
            if stored[name] != wanted[name]:
                raise ClusterParamsError(
                    f"stored clusters use {name}={stored[name]}, configured {wanted[name]}:"
                    " keep the old setting or start a new database"
                )
        return int(stored["bands"]), int(stored["rows"])

    def assign(self, store: ClusterStore, articles: Sequence[ClusterInput]) -> dict[str, str]:
        """Cluster id of every article; new ones are clustered and added to ``store``.

        Articles already clustered keep their cluster, so re-running a batch changes nothing.
        """
        unique: dict[str, ClusterInput] = {}
        for article in articles:
            unique.setdefault(article.id, article)
        assigned = store.memberships(list(unique))
        new = [a for a in unique.values() if a.id not in assigned]
        if new:
            assigned.update(self._cluster_new(store, new))
        return {a.id: assigned[a.id] for a in articles}

    def _cluster_new(self, store: ClusterStore, new: Sequence[ClusterInput]) -> dict[str, str]:
        now = self._clock()
        bands, rows = self._stored_banding(store)
        seen = [min(_utc(a.published_at), now) if a.published_at else now for a in new]
        bodies = without_chrome(store, new, seen, self.settings)
        body_words = [folded_words(body) for body in bodies]
        tokens = [body or folded_words(a.title) for body, a in zip(body_words, new, strict=True)]
        signed = [i for i, t in enumerate(tokens) if t]
        sigs = np.zeros((len(new), self.settings.num_perm), dtype="<u4")
        if signed:
            sigs[signed] = self.signatures([tokens[i] for i in signed])
        keys = band_keys(sigs, bands, rows).tolist()
        size = self.settings.shingle_words
        texts = [Passages.of(body or a.title or "", size) for body, a in zip(bodies, new, strict=True)]
        batch = _Batch(sigs, seen, texts, [a.language for a in new], self.settings)

        # The best stored cluster each new article is confirmed to belong to.
        near: dict[int, dict[str, tuple[float, str]]] = defaultdict(dict)
        for cand in store.band_candidates(
            signed, [keys[i] for i in signed], [seen[i] for i in signed], batch.window
        ):
            if batch.other_language(cand.query, cand.language):
                continue
            sim = batch.similarity(cand.query, np.frombuffer(cand.signature, dtype="<u4"))
            best = near[cand.query].get(cand.cluster_id, (0.0, "", cand.seen_at))
            if sim >= self.settings.near_threshold and (sim, cand.article_id) > best[:2]:
                near[cand.query][cand.cluster_id] = (sim, cand.article_id, _utc(cand.seen_at))
        # A stored text is read where it can change the verdict: under the threshold, or for
        # an article with numbers (:func:`newswatch.passages.numbers_differ`).
        stored = store.member_bodies(sorted({
            a for query, found in near.items() for sim, a, _ in found.values()
            if sim < self.settings.threshold or texts[query].numbers
        }))
        stored_texts = {a: Passages.of(text, size) for a, text in stored.items()}
        links: dict[int, tuple[float, str]] = {}
        for query, found in near.items():
            for (sim, article_id, seen_at), cluster_id in sorted(((v, k) for k, v in found.items()), reverse=True):
                if batch.same_story(query, stored_texts.get(article_id, _NOT_READ), sim, seen_at):
                    links[query] = (sim, cluster_id)
                    break

        subsets = batch.components({i: keys[i] for i in signed})
        best = [max((links[i] for i in subset if i in links), default=None) for subset in subsets]
        founders = [min(subset, key=lambda i: (seen[i], new[i].id)) for subset in subsets]
        clusters = [link[1] if link else new[f].id for link, f in zip(best, founders, strict=True)]
        if self.settings.editions:
            clusters = editions.link_editions(store, clusters, [
                (n, new[f].language, seen[f], editions.lede(new[f].title, bodies[f]))
                for n, (link, f) in enumerate(zip(best, founders, strict=True))
                if link is None and new[f].language
            ], self.settings)
        members = [
            MemberRow(
                article_id=new[i].id,
                cluster_id=cluster_id,
                source=new[i].source,
                seen_at=seen[i],
                text_words=len(body_words[i]),
                signature=sigs[i].tobytes() if tokens[i] else None,
                band_keys=keys[i] if tokens[i] else [],
                language=new[i].language,
                body=bodies[i],
            )
            for subset, cluster_id in zip(subsets, clusters, strict=True)
            for i in subset
        ]
        members.sort(key=lambda m: (m.seen_at, m.article_id))
        store.add_members(members, now)
        return {m.article_id: m.cluster_id for m in members}


@dataclass(frozen=True, slots=True)
class _Batch:
    """Signatures and times of a batch of new articles, for matching them to each other."""

    signatures: np.ndarray
    seen: Sequence[datetime]
    texts: Sequence[Passages]
    languages: Sequence[str | None]
    settings: ClusterSettings

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.settings.window_days)

    def other_language(self, article: int, language: str | None) -> bool:
        """Whether ``article`` and a text in ``language`` are known to be in different languages.

        Translations share no word shingles; two texts in different languages that do share
        them share site chrome or a quotation, not a story (editions: :mod:`newswatch.editions`).
        """
        own = self.languages[article]
        return bool(own and language and own != language)

    def similarity(self, article: int, signature: np.ndarray) -> float:
        """Jaccard similarity estimated from the signatures."""
        same = np.count_nonzero(self.signatures[article] == signature)
        return float(same) / self.settings.num_perm

    def same_story(self, article: int, text: Passages, similarity: float, seen: datetime) -> bool:
        """Whether ``article`` and a text it is ``similarity`` alike to, seen at ``seen``, are one story.

        Under the threshold (a near miss: :mod:`newswatch.passages`), only within
        ``settings.near_hours`` of each other: a heavily edited copy follows its story within
        hours, a look-alike (the next briefing, the next meeting) comes a day or a week later.
        """
        settings = self.settings
        near = abs(self.seen[article] - seen) <= timedelta(hours=settings.near_hours)
        return similarity >= (settings.near_threshold if near else settings.threshold) and same_story(
            self.texts[article], text, similarity, settings.threshold, settings.near_share
        )

    def components(self, keys: dict[int, list[int]]) -> list[set[int]]:
        """Groups of batch articles (union-find over verified pairs sharing a band key)."""
        found = DisjointSet(range(len(self.seen)))
        buckets: dict[int, list[int]] = defaultdict(list)
        for article, article_keys in keys.items():
            for key in article_keys:
                buckets[key].append(article)
        for bucket in buckets.values():
            for pos, a in enumerate(bucket):
                for b in bucket[pos + 1 :]:
                    if (
                        not found.connected(a, b)
                        and not self.other_language(a, self.languages[b])
                        and abs(self.seen[a] - self.seen[b]) <= self.window
                        and self.same_story(a, self.texts[b], self.similarity(a, self.signatures[b]), self.seen[b])
                    ):
                        found.merge(a, b)
        return found.subsets()
