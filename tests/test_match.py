"""Topic matcher: query semantics, multilingual normalisation, scoring, explanations."""

from __future__ import annotations

import pytest
from conftest import SAMPLES
from labelled.data import load_watchlist

from newswatch.config import Entity, Topic
from newswatch.errors import TopicError
from newswatch.match import compile_topics


def hits(query: str, title: str = "", body: str = "", language: str | None = None, **entities: list[str]):
    """Match one ad-hoc topic (min_score 0) and return its TopicMatch or None."""
    ents = {k: Entity(name=k, aliases=v) for k, v in entities.items()}
    matcher = compile_topics([Topic(name="t", query=query, min_score=0)], ents)
    found = matcher.match(title, body, language)
    return found[0] if found else None


def highlighted(match) -> list[str]:
    return [s.text[a:b] for s in match.snippets for a, b in s.spans]


@pytest.fixture(scope="module")
def shipped():
    return compile_topics(*load_watchlist())


# --- boolean logic and operators -------------------------------------------------------

@pytest.mark.parametrize(
    ("query", "body", "expected"),
    [
        ("peace AND accord", "the accord brings peace", True),
        ("peace AND accord", "peace at last", False),
        ("peace accord", "the accord brings peace", True),  # juxtaposition is AND
        ("peace OR accord", "an accord", True),
        ("peace AND NOT sport", "peace in sport", False),
        ("peace AND NOT sport", "peace in politics", True),
        ('"peace accord"', "the accord brings peace", False),  # a phrase needs adjacent words
        ('"peace accord"', "a peace accord was signed", True),
        ("(CSTO OR ОДКБ) AND NOT (NATO OR EU)", "ОДКБ и ЕАЭС", True),
        ("(CSTO OR ОДКБ) AND NOT (NATO OR EU)", "ОДКБ и EU", False),
    ],
)
def test_boolean_logic(query, body, expected):
    assert (hits(query, body=body) is not None) is expected


@pytest.mark.parametrize(
    ("between", "distance", "expected"),
    [(0, 0, True), (3, 3, True), (4, 3, False), (10, 10, True), (11, 10, False)],
)
def test_near_counts_words_between_in_either_order(between, distance, expected):
    filler = " ".join(["word"] * between)
    for body in (f"peacekeeping {filler} mandate", f"mandate {filler} peacekeepers"):
        assert (hits(f"peacekeep* NEAR/{distance} mandate", body=body) is not None) is expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("the CSTO summit in Minsk", True),
        ("Jane Doe, CSTO (chief sales and technology officer) of the bank", False),  # its only CSTO is excluded
        ("Jane Doe, CSTO (chief sales and technology officer) of the bank, wrote about the CSTO summit", True),
        ("CSTO " + "word " * 6 + "officer", True),  # the excluded context is 6 words away, beyond 5
    ],
)
def test_not_near_excludes_a_context_per_occurrence(body, expected):
    assert (hits("CSTO NOT NEAR/5 (officer OR chief)", body=body) is not None) is expected


def test_not_near_keeps_only_the_occurrences_outside_the_context():
    found = hits("peacekeep* NOT NEAR/4 (UN OR Lebanon)", body="UN peacekeepers in Lebanon stayed. In Karabakh the Russian peacekeepers left.")
    assert highlighted(found) == ["peacekeepers"]
    assert found.snippets[0].text.index("Russian") < found.snippets[0].spans[0][0]


@pytest.mark.parametrize(
    ("query", "body", "expected"),
    [
        ("case:CSTO", "the CSTO met", True),
        ("case:CSTO", "csto.am, the ticket office", False),
        ("case:CSTO", "Csto Holding", False),
        ("case:KTMT", "KTMT-nin sammiti", True),  # endings after punctuation are other words
        ('case:"Collective Security"', "collective security is a shared concern", False),
        ('case:"Collective Secur*"', "the Collective Security Treaty", True),
        ("case:ОДКБ", "саммит ОДКБ", True),
    ],
)
def test_case_sensitive_terms_need_the_same_capitals(query, body, expected):
    assert (hits(query, body=body) is not None) is expected


def test_case_sensitive_topic_terms_and_entity_aliases():
    matcher = compile_topics([Topic(name="t", terms={"en": ["case:CSTO"]}, min_score=0),
                              Topic(name="u", query="@bloc", min_score=0)],
                             {"bloc": Entity(name="CSTO", aliases=["case:CSTO", "Collective Security Treaty"])})
    assert {m.topic for m in matcher.match("", "the CSTO summit", "en")} == {"t", "u"}
    assert matcher.match("", "write to info@csto.example", "en") == []
    assert [(m.topic, m.terms) for m in matcher.match("", "the collective security treaty", "en")] == [("u", ("@bloc",))]
    with pytest.raises(ValueError, match="term 'case:CS\\*TO'"):
        Topic(name="t", terms={"en": ["case:CS*TO"]})


def test_near_nests_and_takes_or_groups():
    query = '(peacekeep* OR миротвор*) NEAR/2 (mandate OR мандат*)'
    assert hits(query, body="мандат российских миротворцев")
    assert hits(f"({query}) NEAR/3 Karabakh", body="the peacekeepers' mandate in Karabakh")
    assert not hits(f"({query}) NEAR/3 Karabakh", body="the peacekeepers' mandate was long discussed in Karabakh")


def test_near_stays_within_one_field():
    assert not hits("peace NEAR/50 accord", title="peace", body="accord")


def test_prefix_wildcard_matches_word_starts_only():
    assert hits("peacekeep*", body="The Peacekeepers left")
    assert not hits("peacekeep*", body="the peace keepers left")
    assert not hits("keep*", body="peacekeepers")


def test_field_scope():
    assert hits("title:CSTO", title="CSTO summit", body="nothing")
    assert not hits("title:CSTO", title="Summit", body="the CSTO met")
    assert hits("body:CSTO", title="Summit", body="the CSTO met")
    assert not hits("body:(CSTO AND summit)", title="Summit", body="the CSTO met")


def test_lede_is_the_opening_of_the_body():
    filler = " ".join(["word"] * 70)
    assert hits("lede:treaty", body="The treaty was signed. " + filler)
    assert not hits("lede:treaty", body=filler + " The treaty was signed.")
    assert not hits("lede:treaty", title="The treaty", body=filler)  # the title is not the lede
    assert hits("lede:(treaty NEAR/3 signed)", body="Leaders signed the treaty. " + filler)
    # a span counts when it starts in the lede; the words after it are not
    assert not hits("lede:(treaty NEAR/3 signed)", body="The treaty. " + filler + " signed")
    assert hits("title:treaty OR lede:treaty", title="Treaty", body=filler)
    assert hits("treaty AND NOT lede:treaty", body=filler + " treaty")
    assert not hits("treaty AND NOT lede:treaty", body="treaty " + filler)


def test_atleast_counts_occurrences():
    assert not hits("ATLEAST/2 CSTO", body="The CSTO met.")
    assert hits("ATLEAST/2 CSTO", body="The CSTO met. CSTO leaders spoke.")
    assert hits("ATLEAST/2 (CSTO OR ОДКБ)", title="CSTO", body="ОДКБ")


def test_language_filter():
    assert hits("CSTO AND lang:ru", body="CSTO", language="ru")
    assert not hits("CSTO AND lang:ru", body="CSTO", language="en")
    assert not hits("CSTO AND NOT lang:en", body="CSTO", language="en")


def test_entities_expand_to_their_aliases():
    entities = {"csto": ["CSTO", "ОДКБ", "ՀԱՊԿ"]}
    match = hits("@csto", body="Саммит ОДКБ в Минске", **entities)
    assert match.terms == ("@csto",)
    assert highlighted(match) == ["ОДКБ"]


def test_unknown_entity_is_reported_with_topic_and_column():
    with pytest.raises(TopicError, match=r"topic 't': query error at line 1, column 10: unknown entity @nato"):
        compile_topics([Topic(name="t", query="@csto OR @nato")], {"csto": Entity(name="CSTO", aliases=["CSTO"])})


def test_simple_terms_are_ored():
    matcher = compile_topics([Topic(name="t", terms={"en": ["peace accord"], "ru": ["мирный договор"]}, min_score=0)])
    assert matcher.match("", "мирного договора", "ru")
    assert matcher.match("A peace accord", "", "en")
    assert not matcher.match("", "peace and accord", "en")


def test_query_uses_the_topic_terms_as_at_terms():
    topic = Topic(name="t", terms={"en": ["peace accord"], "ru": ["мирный договор"]},
                  query="title:@terms OR ATLEAST/2 @terms", min_score=0)
    matcher = compile_topics([topic])
    assert matcher.match("Мирный договор", "", "ru")
    assert matcher.match("", "The peace accord... мирный договор", None)
    assert not matcher.match("", "The peace accord", "en")
    assert matcher.match("Peace accord", "", "en")[0].terms == ("peace accord",)


# --- Unicode, inflection, transliteration ------------------------------------------------

@pytest.mark.parametrize(
    ("query", "text"),
    [
        ('"мирный договор"', "подписание мирного договора"),  # Russian case endings (stemming)
        ('"мирное соглашение"', "в мирном соглашении"),
        ("миротвор*", "миротворческий контингент"),
        ("миротвор*", "вывод миротворцев"),
        ("миротвор*", "миротворческого контингента"),
        ("ОДКБ", "в ОДКБ-шной риторике"),
        ("Ёлка", "ЕЛКА"),
        ("Əliyev*", "ƏLİYEVİN çıxışı"),  # Azerbaijani capital dotted İ and Ə
        ("Azərbaycan*", "AZƏRBAYCANIN"),  # dotless ı
        ("Erdogan", "Erdoğan said"),  # diacritics folded
        ("Ալիև*", "ԱԼԻԵՎԸ"),  # Armenian ligature և vs capital ԵՎ
        ("Ալիև*", "Ալիեւի"),  # classical spelling եւ
        ("ალიევ*", "ᲐᲚᲘᲔᲕᲘ"),  # Georgian Mtavruli capitals
        ('"peace treaty"', "two Peace Treaties"),  # English plural
        ("peacekeep*", "PEACEKEEPING"),
    ],
)
def test_unicode_folding_and_inflection(query, text):
    assert hits(query, body=text)


@pytest.mark.parametrize(
    ("entity", "spelling"),
    [
        ("aliyev", "Aliyev"), ("aliyev", "Aliev"), ("aliyev", "Əliyevin"), ("aliyev", "Алиева"),
        ("aliyev", "Ալիևը"), ("aliyev", "ალიევმა"),
        ("pashinyan", "Pashinyan's"), ("pashinyan", "Paşinyan"), ("pashinyan", "Пашиняном"),
        ("pashinyan", "Փաշինյանը"), ("pashinyan", "ფაშინიანმა"),
        ("azerbaijan", "Azərbaycanın"), ("azerbaijan", "Азербайджану"), ("azerbaijan", "Ադրբեջանի"),
        ("karabakh", "Qarabağda"), ("karabakh", "Карабахе"), ("karabakh", "Ղարաբաղում"), ("karabakh", "ყარაბაღში"),
    ],
)
def test_shipped_entities_cover_transliterations(entity, spelling):
    topics, entities = load_watchlist()
    matcher = compile_topics([Topic(name="t", query=f"@{entity}", min_score=0)], entities)
    assert matcher.match("", f"Today {spelling} spoke.", None), spelling


@pytest.mark.parametrize("spelling", ["ОДКБ", "ՀԱՊԿ-ի", "KTMT-nin", "კუხო", "Collective Security Treaty Organisation",
                                      "Организации Договора о коллективной безопасности",
                                      "Kollektiv Təhlükəsizlik Müqaviləsi Təşkilatının"])
def test_shipped_csto_terms_cover_five_languages(spelling):
    csto = next(t for t in load_watchlist()[0] if t.name == "CSTO")
    matcher = compile_topics([Topic(name="t", terms=csto.terms, min_score=0)])
    assert matcher.match("", f"Today {spelling} met.", None), spelling


# --- scoring and explanation ---------------------------------------------------------------

def test_title_hits_weigh_more_than_body_hits():
    body_text = "Officials met. " * 20
    in_title = hits("CSTO", title="CSTO summit", body=body_text)
    in_body = hits("CSTO", title="Summit", body=body_text + " The CSTO met.")
    assert in_title.score > in_body.score


def test_more_occurrences_and_shorter_articles_score_higher():
    once = hits("CSTO", body="The CSTO met. " + "Officials spoke. " * 50)
    twice = hits("CSTO", body="The CSTO met. CSTO leaders spoke. " + "Officials spoke. " * 50)
    short = hits("CSTO", body="The CSTO met.")
    assert twice.score > once.score
    assert short.score > once.score


def test_proximity_of_different_terms_raises_the_score():
    filler = " ".join(["word"] * 30)
    close = hits("CSTO AND Armenia", body=f"Armenia and the CSTO {filler}")
    apart = hits("CSTO AND Armenia", body=f"Armenia {filler} and the CSTO")
    assert close.score > apart.score


def test_boost_scales_and_zero_boost_only_filters():
    plain = hits("CSTO AND Armenia", body="Armenia and the CSTO")
    filtered = hits("CSTO AND Armenia^0", body="Armenia and the CSTO")
    doubled = hits("CSTO^2", body="Armenia and the CSTO")
    single = hits("CSTO", body="Armenia and the CSTO")
    assert filtered.score < plain.score
    assert filtered.score == pytest.approx(single.score)
    assert filtered.terms == ("CSTO",)
    assert doubled.score == pytest.approx(2 * single.score)
    assert hits("CSTO AND Armenia^0", body="the CSTO") is None


def test_min_score_threshold():
    matcher = compile_topics([Topic(name="t", query="CSTO", min_score=2.5)])
    assert not matcher.match("", "The CSTO met.", "en")
    assert matcher.match("CSTO summit", "The CSTO met.", "en")


def test_terms_are_reported_as_written_and_snippets_highlight_them():
    body = ("Negotiators met again in Washington on Monday. " * 3
            + "The peace accord would end decades of conflict, said the Armenian minister. "
            + "Officials spoke about roads and trade. " * 10
            + "Azerbaijan wants the Peace Accords signed soon.")
    match = hits('"peace accord" OR Armenia* OR treaty', title="Talks", body=body)
    assert match.terms == ("peace accord", "Armenia*")
    assert len(match.snippets) == 2
    assert highlighted(match) == ["peace accord", "Armenian", "Peace Accords"]
    assert all(s.text in body for s in match.snippets)
    assert match.snippets[0].text.startswith("in Washington") and match.snippets[1].text.endswith("signed soon.")


def test_title_snippet_when_only_the_title_matched():
    match = hits("CSTO", title="CSTO summit opens", body="Leaders arrived in Minsk.")
    assert [s.text for s in match.snippets] == ["CSTO summit opens"]
    assert highlighted(match) == ["CSTO"]


def test_results_are_sorted_best_first_and_only_matching_topics_returned():
    matcher = compile_topics([Topic(name="weak", query="Armenia", min_score=0),
                              Topic(name="strong", query="CSTO OR Armenia", min_score=0),
                              Topic(name="absent", query="NATO", min_score=0)])
    assert [m.topic for m in matcher.match("CSTO", "Armenia", "en")] == ["strong", "weak"]


def test_fingerprint_is_stable_and_tracks_what_was_compiled():
    topics, entities = load_watchlist()
    base = compile_topics(topics, entities).fingerprint
    assert base == compile_topics(*load_watchlist()).fingerprint
    changed = [topics[0].model_copy(update={"min_score": 3.0}), *topics[1:]]
    assert compile_topics(changed, entities).fingerprint != base
    fewer_aliases = dict(entities, csto=Entity(name="CSTO", aliases=["CSTO"]))
    assert compile_topics(topics, fewer_aliases).fingerprint != base


# --- the shipped topics on the two sample articles ---------------------------------------

def _sample(name: str) -> str:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"sample article {path} not present")
    return path.read_text(encoding="utf-8")


def test_sample_peace_accord_csto(shipped):
    found = shipped.match("", _sample("peace-accord-csto.txt"), "en")
    assert {m.topic for m in found} == {"peace accord", "CSTO"}
    accord = next(m for m in found if m.topic == "peace accord")
    assert "peace accord" in accord.terms


def test_sample_peacekeeping_mandate_is_not_the_peace_accord(shipped):
    found = shipped.match("", _sample("peacekeeping-mandate.txt"), "en")
    assert {m.topic for m in found} == {"peacekeeping mandate"}
    assert {"peacekeep*", "mandate*"} <= set(found[0].terms)


def test_semantic_options_without_the_extra_fall_back_to_keywords(monkeypatch, caplog):
    """Simulates an install without the 'semantic' extra (the model package is not importable)."""
    import newswatch.match as match_module
    from newswatch.config import SemanticOptions

    monkeypatch.setattr(match_module, "semantic_available", lambda: False)
    topic = Topic(name="t", terms={"en": ["CSTO"]}, semantic=SemanticOptions(examples=["the CSTO alliance"]))
    matcher = compile_topics([topic])
    assert "the 'semantic' extra is not installed" in caplog.text
    assert [m.topic for m in matcher.match("CSTO summit", "", "en")] == ["t"]
    assert matcher.fingerprint == compile_topics([topic], semantic=False).fingerprint
