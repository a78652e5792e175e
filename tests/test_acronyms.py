"""A topic's acronyms mean what the article says they stand for (newswatch/acronyms.py)."""

from __future__ import annotations

import pytest
from labelled.data import load_watchlist

from newswatch.acronyms import declare
from newswatch.config import Topic
from newswatch.match import compile_topics

CSTO = "Collective Security Treaty Organi*"


def csto_topic(**extra) -> Topic:
    return Topic(name="t", terms={"en": ["CSTO", CSTO], "ru": ["ОДКБ"], "ka": ["კუხო*"]}, min_score=0,
                 acronyms={"CSTO": CSTO, "ОДКБ": "Организация Договора о коллективной безопасности",
                           "კუხო": "კოლექტიური უსაფრთხოების ხელშეკრულების ორგანიზაცი*"}, **extra)


def matched(title: str, body: str, topic: Topic | None = None) -> tuple[str, ...] | None:
    """The terms ``topic`` (the CSTO test topic) matched in the article, or None."""
    found = compile_topics([topic or csto_topic()]).match(title, body, None)
    return found[0].terms if found else None


@pytest.mark.parametrize("body", [
    "The Caucasus Sports & Tourism Organisation (CSTO) met its member federations at a summit.",
    "Ani Grigoryan, chief security and technology officer (CSTO) of CyberNest, told ministers...",
    "The CSTO (Caspian Sea Tanker Operators) will raise rates. The CSTO blamed insurers.",
    "CSTO, the Caucasus Solar and Thermal Operators' association, asked the government for permits.",
    "The Centre for Surgery and Trauma Orthopaedics treats soldiers. The CSTO has 300 beds.",
    "Объединение деловых кругов Баку (ОДКБ) обратилось к министру. В ОДКБ входят 300 компаний.",
    "ОДКБ (Объединенное дорожно-конструкторское бюро) начнет ремонт дороги.",
    "კავკასიის უნივერსიტეტების ხელოვნების ორგანიზაციის (კუხო) ფესტივალი. კუხოს წევრები ჩამოვიდნენ.",
])
def test_an_acronym_spelled_out_as_another_body_is_not_the_topics(body):
    assert matched("", body) is None
    if "CSTO" in body:
        assert matched("CSTO summit", body) is None  # nor in the title


@pytest.mark.parametrize(("body", "terms"), [
    ("Armenia froze its membership of the CSTO.", ("CSTO",)),
    ("The Collective Security Treaty Organization (CSTO) failed Armenia, the head of the Organization"
     " for Security and Co-operation in Europe (OSCE) heard.", ("CSTO", CSTO)),
    ("Pashinyan questioned the Russia-led security bloc (CSTO).", ("CSTO",)),
    ("The CSTO's chairman said troops were ready, officials said.", ("CSTO",)),
    ("Critics say that officials in the CSTO, Collective Security Treaty Org., disagree.", ("CSTO", )),
    ("Совет министров Организации Договора о коллективной безопасности (ОДКБ) собрался в Минске.", ("ОДКБ",)),
])
def test_the_acronym_keeps_its_sense_when_spelled_out_as_declared_or_not_at_all(body, terms):
    assert matched("", body) is not None
    assert set(terms) <= set(matched("", body)), matched("", body)



@pytest.mark.parametrize("body", [
    # spelled out in lower case, away from the acronym, as a name none of whose words is the alliance's
    "Хирурги областной детской клинической больницы провели операцию. Как сообщили в ОДКБ, все хорошо.",
    # a Latin acronym spelled out in Cyrillic words, and a Cyrillic one in Latin words
    "Каспийский союз транспортных организаций (CSTO) провел собрание. CSTO объединяет 40 компаний.",
    "Oblastnaya Detskaya Klinicheskaya Bolnitsa (ОДКБ) will train surgeons; ОДКБ has 300 beds.",
])
def test_an_acronym_spelled_out_in_lower_case_or_another_script_is_not_the_topics(body):
    assert matched("", body) is None


@pytest.mark.parametrize("body", [
    # a phrase in lower case that shares the alliance's words is not another body's name
    "ОДКБ обсудила обеспечение должной коллективной безопасности. Генсек ОДКБ выступил.",
    # the alliance's own name in Russian next to the Latin acronym spells nothing
    "Организация Договора о коллективной безопасности (CSTO) провела саммит.",
])
def test_a_lower_case_phrase_with_the_expansions_words_keeps_the_sense(body):
    assert matched("", body) is not None


def test_words_in_lower_case_far_from_the_acronym_spell_nothing():
    """A long text has runs of words whose initials give the letters by chance ("could start
    talks over"): far from the acronym they say nothing about it (near it, see above, they do)."""
    chance = "Officials could start talks over fees with the bank. "
    filler = "The weather in Yerevan stayed mild and markets were calm all week long. " * 8
    assert matched("", "The CSTO alliance met in Yerevan. " + filler + chance) == ("CSTO",)
    assert matched("CSTO summit", filler + chance) == ("CSTO",)


@pytest.mark.parametrize(("body", "kept"), [
    ("Students learn about NATO, OSCE, CSTO, SCO and the EU.", False),
    ("Experts on the EU, NATO and CSTO met.", False),
    ("Հայաստանը ՄԱԿ-ի, ԵԱՀԿ-ի, ՀԱՊԿ-ի անդամ է։".replace("ՀԱՊԿ", "CSTO"), False),
    ("Forum: BMT, ATƏT, CSTO-nun ekspertləri.", False),
    ("Armenia weighs leaving the CSTO as ties with the EU and NATO grow.", True),
    ("Unlike the CSTO, the EU sent monitors.", True),  # one other acronym is not a list
    ("ARMENIA FREEZES CSTO MEMBERSHIP, SAYS PM", True),  # a headline in capitals is not a list
])
def test_an_acronym_in_a_list_of_acronyms_is_named_in_passing(body, kept):
    assert (matched("", body) is not None) is kept


def test_only_the_acronym_loses_its_hits_and_only_in_the_topic_that_declares_it():
    body = ("The Caucasus Sports and Tourism Organisation (CSTO), not to be confused with the Collective"
            " Security Treaty Organization, met in Baku.")
    assert matched("", body) == (CSTO,)
    plain = Topic(name="u", terms={"en": ["CSTO"]}, min_score=0)
    found = compile_topics([csto_topic(), plain]).match("", body, None)
    assert {m.topic: m.terms for m in found} == {"u": ("CSTO",), "t": (CSTO,)}


def test_topics_test_clauses_see_the_acronym_in_the_articles_sense():
    matcher = compile_topics([csto_topic(query="@terms AND ATLEAST/2 @terms")])
    body = "Chess Schools and Tournaments Organisation (CSTO) and the CSTO juniors."
    assert matcher.clauses("t", "", body, "en") == [False, False]
    assert matcher.clauses("t", "", "the CSTO and the CSTO again", "en") == [True, True]


@pytest.mark.parametrize(("acronym", "expansion", "error"), [
    ("CSTO", "Collective Treaty Organi*", "does not spell it"),
    ("CSTO", "Collective Security Treaty Organi* Armenia", "does not spell it"),
    ("CS TO", CSTO, "one word"),
    ("C", "Collective", "one word"),
])
def test_declaring_an_acronym_checks_that_the_expansion_spells_it(acronym, expansion, error):
    with pytest.raises(ValueError, match=error):
        declare(acronym, expansion)


def test_the_shipped_csto_topic_declares_its_acronyms_in_five_scripts():
    csto = next(t for t in load_watchlist()[0] if t.name == "CSTO")
    assert {"CSTO", "ОДКБ", "ՀԱՊԿ", "KTMT", "კუხო"} <= set(csto.acronyms)
