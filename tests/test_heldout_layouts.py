"""The held-out outlet layouts render well-formed pages that carry the article, its date as each
outlet documents it, and the outlet's chrome."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from html.parser import HTMLParser

import pytest
from heldout.layouts import LAYOUTS, OUTLETS, at_offset, render_page

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
# Words of site chrome (visible text that is not the title or a paragraph) per boilerplate weight.
CHROME_WORDS = {"light": (15, 90), "medium": (70, 220), "heavy": (180, 480)}
# A year no sidebar or footer mentions: a page dated then states it only where documented.
PUBLISHED = datetime(2029, 3, 4, 6, 5, tzinfo=timezone.utc)
TITLE = "Ministers <agree> on \"border\" talks & a new round"
PARAGRAPHS = [
    "The foreign ministers agreed on Tuesday to hold a new round of talks on border delimitation.",
    "According to the joint statement, the commissions will meet in Tbilisi & report by spring.",
    "Neither side gave details of the map to be used, a question that split the previous round.",
]


class PageReader(HTMLParser):
    """Checks tag balance and collects visible text nodes, JSON-LD, meta and <time> values."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.errors: list[str] = []
        self.texts: list[str] = []
        self.json_ld: list[dict] = []
        self.meta: dict[str, str] = {}
        self.times: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "meta" and "property" in values:
            self.meta[values["property"]] = values.get("content", "")
        if tag == "time":
            self.times.append(values.get("datetime", ""))
        if tag not in VOID:
            self.open.append(tag if tag != "script" else f"script:{values.get('type', '')}")

    def handle_endtag(self, tag):
        top = self.open.pop() if self.open else None
        if top is None or top.split(":")[0] != tag:
            self.errors.append(f"</{tag}> closes <{top}>")

    def handle_data(self, data):
        inside = self.open[-1] if self.open else ""
        if inside == "script:application/ld+json":
            self.json_ld.append(json.loads(data))
        elif not inside.startswith(("script", "style", "title")) and data.strip():
            self.texts.append(" ".join(data.split()))


def read(html: str) -> PageReader:
    reader = PageReader()
    reader.feed(html)
    reader.close()
    assert not reader.errors, reader.errors
    assert not reader.open, f"unclosed: {reader.open}"
    return reader


def stated_iso(outlet) -> str:
    local = at_offset(PUBLISHED, outlet.utc_offset)
    return local.strftime("%Y-%m-%dT%H:%M:%SZ") if outlet.utc_offset == 0 else local.isoformat()


CASES = [(slug, lang) for slug, outlet in OUTLETS.items() for lang in outlet.langs]


def render(slug, lang, published=PUBLISHED, url="https://example.test/news/ministers-agree"):
    return render_page(
        slug, title=TITLE, paragraphs=PARAGRAPHS, lang=lang, published=published, url=url
    )


def test_every_layout_file_is_an_outlet_listed_in_the_readme():
    files = {path.name.removesuffix(".html.j2") for path in LAYOUTS.glob("*.html.j2")}
    assert files == set(OUTLETS)
    readme = (LAYOUTS / "README.md").read_text(encoding="utf-8")
    for slug, outlet in OUTLETS.items():
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{slug}` |"))
        assert outlet.name in row and outlet.boilerplate in row, row


@pytest.mark.parametrize(("slug", "lang"), CASES)
def test_page_carries_the_article_and_states_the_date_as_documented(slug, lang):
    outlet = OUTLETS[slug]
    html = render(slug, lang)
    page = read(html)
    assert f'lang="{lang}"' in html
    text = "\n".join(page.texts)
    assert TITLE in page.texts
    for paragraph in PARAGRAPHS:
        assert paragraph in page.texts
    ld_dates = [item["datePublished"] for item in page.json_ld if "datePublished" in item]
    meta_date = page.meta.get("article:published_time")
    dated_times = [value for value in page.times if value.startswith("2029")]
    expected = {"jsonld": [], "meta": None, "time": []}
    if outlet.date_style == "jsonld":
        assert ld_dates == [stated_iso(outlet)]
        expected["jsonld"] = ld_dates
    elif outlet.date_style == "meta":
        assert meta_date == stated_iso(outlet)
        expected["meta"] = meta_date
    elif outlet.date_style == "time":
        assert dated_times == [stated_iso(outlet)]
        expected["time"] = dated_times
    elif outlet.date_style == "visible":
        local = at_offset(PUBLISHED, outlet.utc_offset)
        assert any(
            f"{local:%H:%M}" in node and str(local.day) in node and "2029" in node
            for node in page.texts
        ), "no visible date line"
    else:
        assert outlet.date_style == "none"
        assert "2029" not in html
    # Nothing else states the date machine-readably.
    assert (ld_dates, meta_date, dated_times) == (
        expected["jsonld"], expected["meta"], expected["time"]
    )
    if outlet.date_style == "meta":
        assert "2029" not in text, "the meta date is the only one"


@pytest.mark.parametrize(("slug", "lang"), CASES)
def test_undated_page_states_no_date(slug, lang):
    undated = render(slug, lang, published=None)
    read(undated)
    assert "2029" not in undated
    assert "datePublished" not in undated and "article:published_time" not in undated


@pytest.mark.parametrize(("slug", "lang"), CASES)
def test_chrome_is_the_documented_weight_and_only_headline_lists_vary(slug, lang):
    low, high = CHROME_WORDS[OUTLETS[slug].boilerplate]
    first = read(render(slug, lang, url="https://example.test/a"))
    second = read(render(slug, lang, url="https://example.test/b"))
    article = {TITLE, *PARAGRAPHS}
    chrome = [node for node in first.texts if node not in article]
    words = sum(len(node.split()) for node in chrome)
    assert low <= words <= high, f"{words} words of chrome"
    # Site chrome recurs on every page; the old dated headline lists differ by url.
    assert first.texts != second.texts
    old_dated = re.compile(r"20(19|2[0-5])|\b(0?[1-9]|[12]\d|3[01])\.\d\d\.20")
    assert any(old_dated.search(node) for node in chrome), "no dated list of older items"
    assert render(slug, lang, url="https://example.test/a") == render(
        slug, lang, url="https://example.test/a"
    )


def test_a_language_the_outlet_does_not_publish_in_is_refused():
    with pytest.raises(ValueError):
        render("azer-xeber", "ru")
    with pytest.raises(ValueError):
        render("caucasus-wire", "en", published=datetime(2029, 3, 4))
