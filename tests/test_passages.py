"""The exact check behind the MinHash estimate: templates, shared passages, heavily edited copies."""

from __future__ import annotations

from newswatch.passages import Passages, numbers_differ, same_story, shared_paragraphs

REPORT = (
    "On June {day}, from {start} to {end}, units of the Armenian armed forces fired at positions of the"
    " Azerbaijan Army in the {place} district using small arms, the Ministry of Defense reported.\n"
    "Units of the Azerbaijan Army took adequate retaliatory measures, the ministry said.\n"
    "There were no casualties among Azerbaijani servicemen, the statement added."
)
STORY = [
    "Azerbaijan handed over four Armenian citizens to Armenia at the Gazakh-Ijevan section of the border on Friday.",
    "The transfer was mediated by the International Committee of the Red Cross, whose staff accompanied the men.",
    "Deputy Prime Minister Mher Grigoryan said the return was the result of talks held earlier this month in Baku.",
    "The four men will undergo medical examinations in Yerevan before returning to their families, officials said.",
]
BACKGROUND = (
    "Relations between Armenia and Azerbaijan have been strained for more than three decades over the Karabakh"
    " region, and the two countries have negotiated a peace treaty since the autumn of 2023."
)


def text(*paragraphs: str) -> Passages:
    return Passages.of("\n".join(paragraphs), 3)


def test_a_template_filled_in_with_other_numbers_differs():
    monday = text(REPORT.format(day=12, start="22:40", end="23:15", place="Kalbajar"))
    tuesday = text(REPORT.format(day=13, start="23:10", end="23:35", place="Kalbajar"))
    assert numbers_differ(monday, tuesday)
    assert not same_story(monday, tuesday, 0.8, 0.5, 0.4)


def test_a_copy_keeps_its_numbers_and_an_updated_figure_is_outweighed():
    report = REPORT.format(day=12, start="22:40", end="23:15", place="Kalbajar")
    copy = text("Photo: Ministry of Defense", report)
    assert not numbers_differ(text(report), copy)
    updated = text(report.replace("23:15", "23:20"))  # one of five numbers corrected
    assert not numbers_differ(text(report), updated)
    assert not numbers_differ(text("No numbers here at all."), text("Nor here."))


def test_numbers_are_compared_where_they_stand():
    # Other numbers in other places are not a difference: a copy may add a paragraph with its own.
    assert not numbers_differ(text("The quake of magnitude 4 hit at 5 am."),
                              text("The quake of magnitude 4 hit at 5 am.", "It was the 3rd this year."))


def test_shared_paragraphs_of_the_shorter_text():
    original = text(*STORY)
    edited = text("A new lede written by another outlet about the four men who came home on Friday.",
                  STORY[1], STORY[2], "An added paragraph quoting a relative of one of the men at the checkpoint.")
    count, share = shared_paragraphs(original, edited)
    assert count == 2
    assert 0.4 < share < 0.6
    assert shared_paragraphs(edited, original) == (count, share)  # measured on the shorter either way


def test_a_near_miss_joins_when_most_of_it_is_found_in_two_paragraphs_or_more():
    original = text(*STORY)
    edited = text("A new lede written by another outlet about the four men who came home on Friday.", *STORY[1:3])
    assert same_story(original, edited, 0.3, 0.5, 0.4)
    assert not same_story(original, edited, 0.3, 0.5, 0.9)  # not enough of it shared


def test_one_shared_background_paragraph_is_not_one_story():
    first = text("Aliyev received the OSCE chair in Baku on Wednesday.", BACKGROUND)
    second = text("Grigoryan met a US envoy in Yerevan on Thursday to discuss the border.", BACKGROUND)
    assert shared_paragraphs(first, second)[0] == 1
    assert not same_story(first, second, 0.35, 0.5, 0.4)
    assert same_story(first, second, 0.6, 0.5, 0.4)  # above the threshold the estimate decides


def test_empty_texts():
    assert shared_paragraphs(text(), text(*STORY)) == (0, 0.0)
    assert not same_story(text(), text(*STORY), 0.3, 0.5, 0.4)


def test_short_paragraphs_differing_in_a_word_are_not_found_in_each_other():
    """A template repeated with another name in each short line (no number to tell them apart)."""
    fresh = text(*["The CSTO met again (fresh) in Yerevan on Monday."] * 5)
    late = text(*["The CSTO met again (late) in Yerevan on Monday."] * 5)
    assert shared_paragraphs(fresh, late)[0] == 0
    assert not same_story(fresh, late, 0.45, 0.5, 0.4)
