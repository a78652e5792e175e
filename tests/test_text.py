"""Text: cleaning hostile characters, folded words (content hashes, story shingles), one-line display."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from newswatch.text import Words, clean_text, content_hash, folded_words, format_time, one_line


def test_clean_text_removes_invisible_and_control_characters():
    assert clean_text("CS\u200bTO\u202e gnp.exe\x07\ufeff") == "CSTO gnp.exe"
    # tabs, newlines and the joiners some scripts need are kept
    assert clean_text("a\tb\nc \u200c\u200d") == "a\tb\nc \u200c\u200d"
    assert clean_text("مرحبا CSTO שלום") == "مرحبا CSTO שלום"


def test_words_any_script_normalised() -> None:
    assert folded_words("Հայաստանի ԱԳ նախարար, «ՀԱՊԿ»") == ["հայաստանի", "ագ", "նախարար", "հապկ"]
    assert folded_words("საქართველოს პარლამენტმა 84 ხმით") == ["საქართველოს", "პარლამენტმა", "84", "ხმით"]
    assert folded_words("ＣＳＴＯ Summit—Minsk") == ["csto", "summit", "minsk"]


def test_content_hash_ignores_case_punctuation_and_spacing():
    assert content_hash("ОДКБ  провела учения.\n") == content_hash("одкб провела учения")
    assert content_hash("CSTO drills") != content_hash("CSTO summit")


def test_one_line_and_time_for_headers_and_tables():
    assert one_line("Subject:\r\nBcc: x@example.org\t end") == "Subject: Bcc: x@example.org end"
    moment = datetime(2025, 6, 1, 7, 5, tzinfo=UTC)
    assert format_time(moment) == "2025-06-01 07:05 UTC"
    assert format_time(moment, ZoneInfo("Asia/Yerevan")) == "2025-06-01 11:05 +04"
    assert format_time(None) == ""


def test_words_know_their_offsets_and_the_gaps_between_them():
    for text in ("  NATO, OSCE — CSTO-nin  end.", "ОДКБ (Объединенное бюро)", "Հայաստանը ՄԱԿ-ի անդամ է։", "one"):
        found = Words(text)
        for i, word in enumerate(found.words):
            assert text[found.start(i):found.end(i)] == word
        for i in range(len(found) - 1):
            assert found.gap(i, i + 1) == found.gap(i + 1, i) == text[found.end(i):found.start(i + 1)]
