"""Language detection on the labelled set and with feed hints."""

from __future__ import annotations

from collections import Counter

import pytest
from conftest import SAMPLES, Article, write_sources
from labelled.data import load_articles

from newswatch.config import load_config
from newswatch.language import detect_language
from newswatch.pipeline import ingest
from storage.db import open_database


def test_labelled_articles_are_detected_per_language():
    totals, right = Counter(), Counter()
    for a in load_articles():
        totals[a["lang"]] += 1
        right[a["lang"]] += detect_language(f"{a['title']}\n{a['body']}") == a["lang"]
    for lang, n in totals.items():
        assert right[lang] / n >= 0.95, f"{lang}: {right[lang]}/{n} detected"


@pytest.mark.parametrize("name", ["peace-accord-csto.txt", "peacekeeping-mandate.txt"])
def test_samples_are_english(name):
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"sample article {path} not present")
    assert detect_language(path.read_text(encoding="utf-8")) == "en"


def test_turkish_is_told_apart_from_azerbaijani():
    assert detect_language("Türkiye ekonomisi bu yıl beklenenden hızlı büyüdü ve enflasyon düştü.") == "tr"
    assert detect_language("Azərbaycanda bu il pambıq istehsalı ötən illə müqayisədə artıb.") == "az"


def test_hint_decides_when_text_is_empty_or_close():
    assert detect_language("", "ru-RU") == "ru"
    assert detect_language("   ", "xx") is None
    assert detect_language("12 345 !!!", "hy") == "hy"
    # the declared language does not override a text that is clearly another one
    assert detect_language("Премьер-министр Армении заявил о мирном договоре.", "en") == "ru"


def test_unknown_hint_is_ignored():
    assert detect_language("The peace treaty was signed in Washington.", "fr") == "en"


def test_ingest_detects_language_after_extraction(site, tmp_path):
    """A Russian article in a feed declared English is stored as Russian and matched in Russian."""
    russian = Article("odkb", "Армения заморозила участие в ОДКБ",
                      "Армения заморозила свое участие в ОДКБ, заявил Никол Пашинян.\n"
                      "В секретариате организации решение пока не прокомментировали.")
    english = Article("csto", "Armenia freezes CSTO participation",
                      "Armenia has frozen its participation in the CSTO, Nikol Pashinyan said.")
    feed = site.add_feed("/rss.xml", [russian, english])
    config = load_config(write_sources(tmp_path, [{"name": "Daily", "url": feed, "language": "en"}]))
    with open_database(config.settings.database) as db:
        stats = ingest(config, db)
        rows = dict(db.con.execute("SELECT title, language FROM articles").fetchall())
        matched = dict(db.con.execute(
            "SELECT a.title, m.topic FROM matches m JOIN articles a ON a.id = m.article_id").fetchall())
    assert stats.extracted == 2
    assert rows == {russian.title: "ru", english.title: "en"}
    assert matched == {russian.title: "CSTO", english.title: "CSTO"}
