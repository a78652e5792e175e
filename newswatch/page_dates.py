"""The publication time a page states for itself, with its time of day and zone.

Only the page's own metadata counts, in this order: JSON-LD ``datePublished`` of the page's
article, ``<meta>`` publication tags, a ``<time datetime>`` of the article, then a visible date
line next to the headline. Anything inside navigation, sidebars, footers, lists of other
headlines ("related", "most read", "latest news") or comments is never read: those dates
belong to other articles, often years old. A page that states no date gives None (the item
then keeps its feed date, or the time it was first seen).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import dateparser
from lxml import etree, html

ARTICLE_TYPES = frozenset({
    "article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle", "opinionnewsarticle",
    "backgroundnewsarticle", "reviewnewsarticle", "blogposting", "liveblogposting", "report",
    "scholarlyarticle", "webpage",
})
META_NAMES = (
    "article:published_time", "og:article:published_time", "datepublished", "article.published",
    "pubdate", "publishdate", "publish-date", "publish_date", "dc.date.issued", "dcterms.issued",
    "dc.date", "dcterms.created", "date", "sailthru.date", "parsely-pub-date",
)
# containers whose dates are other articles' (or nobody's): tags, and words in class / id / role
SKIPPED_TAGS = frozenset({"aside", "nav", "footer", "li", "figure", "figcaption", "form", "noscript"})
SKIPPED_WORDS = re.compile(
    r"related|latest|popular|most[-_ ]?read|trending|recommend|sidebar|side-bar|widget|more[-_]news"
    r"|also|teaser|newsletter|comment|footer|archive|tags?\b|breadcrumb|cookie|banner|promo|feed",
    re.IGNORECASE,
)
# the usual time zone of a page written in one of these languages, for a time stated without zone
LANGUAGE_ZONES = {"hy": "Asia/Yerevan", "az": "Asia/Baku", "ka": "Asia/Tbilisi", "ru": "Europe/Moscow",
                  "tr": "Europe/Istanbul"}

_DAY_MONTH_YEAR = r"\d{1,2}[./-]\d{1,2}[./-]\d{4}|\d{4}-\d{1,2}-\d{1,2}"
_WORDY_DATE = r"\d{1,2}\.?\s+[^\W\d_]{3,}\.?,?\s+\d{4}|[^\W\d_]{3,}\.?\s+\d{1,2},?\s+\d{4}"
DATE_LINE = re.compile(
    rf"(?P<date>{_DAY_MONTH_YEAR}|{_WORDY_DATE})"
    r"(?:[^\d]{0,12}?(?P<hour>\d{1,2})[:.](?P<minute>\d{2})(?!\d)(?:\s*(?P<ampm>[AaPp]\.?[Mm]\.?))?)?"
    r"(?:\s*\(?\s*(?:(?:GMT|UTC)\s*(?P<zone>[+-−]\d{1,2}(?::?\d{2})?)?|(?P<offset>[+-−]\d{2}:?\d{2})))?"
)
LINE_MAX_CHARS = 160
BODY_STARTS_CHARS = 200


def page_published(
    document: bytes | str | html.HtmlElement, language: str | None = None, timezone_name: str | None = None
) -> datetime | None:
    """The page's own publication time (timezone-aware), or None when it states none.

    ``document`` is the page or its parsed tree (only read). A visible time written without a
    zone is in ``timezone_name`` (the feed's ``timezone``) when given, else in the zone of
    ``language`` (the feed's, or the page's: Yerevan for Armenian pages, Baku, Tbilisi, Moscow,
    Istanbul), else UTC. Each source is read only when the ones
    before it state nothing (a visible date line costs more than all the others).
    """
    if isinstance(document, html.HtmlElement):
        tree = document
    else:
        try:
            tree = html.fromstring(document)
        except (etree.ParserError, ValueError):
            return None
    for find in (_json_ld, _meta, _time_element):
        if (found := find(tree)) is not None:
            return found
    name = timezone_name or LANGUAGE_ZONES.get(language or "")
    return _date_line(tree, language, ZoneInfo(name) if name else UTC)


def _parse_iso(value: str | None) -> datetime | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _skipped(element: html.HtmlElement) -> bool:
    """Whether ``element`` sits in chrome or in a list of other articles."""
    for node in element.iterancestors():
        if not isinstance(node.tag, str):
            continue
        if node.tag in SKIPPED_TAGS:
            return True
        labels = " ".join(filter(None, (node.get("class"), node.get("id"), node.get("role"))))
        if labels and SKIPPED_WORDS.search(labels):
            return True
    return False


# -- structured metadata --------------------------------------------------------------------

def _json_ld(tree: html.HtmlElement) -> datetime | None:
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        for item in _ld_articles(data):
            found = _parse_iso(item.get("datePublished") if isinstance(item.get("datePublished"), str) else None)
            if found is not None:
                return found
    return None


def _ld_articles(data: object) -> Iterator[dict]:
    """The page's own article objects: top level, ``@graph`` and ``mainEntity``, never lists."""
    if isinstance(data, list):
        for item in data:
            yield from _ld_articles(item)
        return
    if not isinstance(data, dict):
        return
    kinds = data.get("@type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if any(isinstance(kind, str) and kind.lower() in ARTICLE_TYPES for kind in kinds):
        yield data
    for key in ("@graph", "mainEntity", "mainEntityOfPage"):
        if isinstance(data.get(key), (list, dict)):
            yield from _ld_articles(data[key])


def _meta(tree: html.HtmlElement) -> datetime | None:
    found: dict[str, datetime] = {}
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").strip().lower()
        if key in META_NAMES and key not in found and not _skipped(meta):
            parsed = _parse_iso(meta.get("content"))
            if parsed is not None:
                found[key] = parsed
    return next((found[name] for name in META_NAMES if name in found), None)


def _time_element(tree: html.HtmlElement) -> datetime | None:
    candidates = [el for el in tree.iter("time") if el.get("datetime") and not _skipped(el)]
    candidates.sort(key=lambda el: el.get("itemprop") != "datePublished" and "publish" not in (el.get("class") or ""))
    for element in candidates:
        parsed = _parse_iso(element.get("datetime"))
        if parsed is not None:
            return parsed
    return None


# -- a visible date line --------------------------------------------------------------------

def _date_line(tree: html.HtmlElement, language: str | None, zone: ZoneInfo | timezone) -> datetime | None:
    """The date line nearest the headline: the first one after the ``<h1>`` and before the
    article's text begins (its first long paragraph), else the last one before the headline."""
    headline = next(tree.iter("h1"), None)
    before: datetime | None = None
    after_headline = headline is None
    for element in tree.iter():
        if element is headline:
            after_headline = True
            continue
        if not isinstance(element.tag, str) or element.tag in ("script", "style", "title", "h1"):
            continue
        text = " ".join(element.text_content().split())
        if after_headline and element.tag == "p" and len(text) > BODY_STARTS_CHARS:
            break
        if not text or len(text) > LINE_MAX_CHARS or any(len(" ".join(c.text_content().split())) == len(text)
                                                          for c in element if isinstance(c.tag, str)):
            continue  # too long to be a date line, or the same text as a child (read it there)
        parsed = _parse_line(text, language, zone)
        if parsed is None or _skipped(element):
            continue
        if after_headline:
            return parsed
        before = parsed
    return before


def _parse_line(text: str, language: str | None, zone: ZoneInfo | timezone) -> datetime | None:
    match = DATE_LINE.search(text)
    if match is None:
        return None
    languages = list(dict.fromkeys(filter(None, (language, "en", "ru"))))
    day = dateparser.parse(match["date"], languages=languages,
                           settings={"DATE_ORDER": "DMY", "PREFER_DAY_OF_MONTH": "first", "STRICT_PARSING": True})
    if day is None:
        return None
    clock = time()
    if match["hour"]:
        hour = int(match["hour"]) % 24
        if match["ampm"]:
            hour = hour % 12 + (12 if match["ampm"][0] in "Pp" else 0)
        clock = time(hour, min(int(match["minute"]), 59))
    stated = match["zone"] or match["offset"]
    tz = _offset(stated) if stated else (UTC if "GMT" in match[0] or "UTC" in match[0] else zone)
    return datetime.combine(day.date(), clock).replace(tzinfo=tz)


def _offset(text: str) -> timezone:
    sign = -1 if text[0] in "-−" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = (int(digits[:-2]), int(digits[-2:])) if len(digits) > 2 else (int(digits), 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))
