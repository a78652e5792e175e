"""Semantic matching with the bundled multilingual model (skipped without the extra)."""

from __future__ import annotations

import numpy as np
import pytest

from newswatch.config import SemanticOptions, Topic
from newswatch.match import compile_topics
from newswatch.semantic import available

pytestmark = pytest.mark.skipif(not available(), reason="semantic matching needs the 'semantic' extra "
                                                         "(uv sync --extra semantic)")

PEACE = ["Armenia and Azerbaijan negotiate and sign a peace treaty"]
PARAPHRASE = ("Baku and Yerevan initial the text",
              "Armenia and Azerbaijan initialled the Agreement on the Establishment of Peace and Interstate "
              "Relations, ending decades of hostility.")


def test_embeddings_are_normalised_and_multilingual():
    from newswatch.semantic import embed

    vectors = embed(["peace treaty between Armenia and Azerbaijan",
                     "мирный договор между Арменией и Азербайджаном",
                     "football results from the weekend"])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_meaning_matches_a_paraphrase_that_keywords_miss():
    semantic = Topic(name="peace", terms={"en": ["peace treaty"]}, semantic=SemanticOptions(examples=PEACE))
    keyword_only = compile_topics([semantic], semantic=False)
    combined = compile_topics([semantic])
    assert keyword_only.match(*PARAPHRASE, "en") == []
    [found] = combined.match(*PARAPHRASE, "en")
    assert found.topic == "peace"
    assert len(found.terms) == 1 and found.terms[0].startswith("~meaning 0.")
    assert found.snippets and found.snippets[0].spans == () and found.snippets[0].text in PARAPHRASE[1]
    assert combined.fingerprint != keyword_only.fingerprint


def test_weight_below_min_score_lets_meaning_only_add_to_keywords():
    options = SemanticOptions(examples=PEACE, weight=0.5)
    topic = Topic(name="peace", terms={"en": ["peace treaty"]}, semantic=options)
    matcher = compile_topics([topic])
    assert matcher.match(*PARAPHRASE, "en") == []
    title, body = "Peace treaty initialled", PARAPHRASE[1]
    plain = compile_topics([topic], semantic=False).match(title, body, "en")[0]
    boosted = matcher.match(title, body, "en")[0]
    assert boosted.score > plain.score
    assert boosted.terms[0] == "peace treaty" and boosted.terms[-1].startswith("~meaning")


def test_unrelated_article_gets_no_semantic_match():
    topic = Topic(name="peace", terms={"en": ["peace treaty"]}, semantic=SemanticOptions(examples=PEACE))
    assert compile_topics([topic]).match("Wine festival", "Thousands gathered in Tbilisi for wine and music.",
                                         "en") == []
