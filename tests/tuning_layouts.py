"""Article pages of five fictional outlets for the tuning part of the relevance evaluation.

The same interface as the held-out layouts (``tests/heldout/layouts.py``: ``render_page``),
written apart from them and modelled on real news sites: navigation, breadcrumbs, share bars,
"latest"/"most read" lists with dates of older items, newsletter boxes, cookie banners and
footers. Each outlet states the page's publication time its own way (JSON-LD, ``<meta>``,
``<time>``, a visible date line) or not at all. The headlines of the lists are picked by a hash
of the page's URL, so a page always looks the same.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from html import escape

OUTLETS = ("tune-wire", "tune-daily", "tune-herald", "tune-times", "tune-review")
UNDATED = frozenset({"tune-review"})  # outlets whose pages state no date at all
HEADLINES = (
    ("Central bank keeps key rate unchanged", "2019-04-12T09:30:00+04:00"),
    ("New metro station opens after years of delay", "2021-08-03T14:05:00+04:00"),
    ("Wine exports to China double", "2018-11-20T08:00:00+04:00"),
    ("Parliament passes budget for next year", "2022-12-14T17:45:00+04:00"),
    ("Heavy snow closes mountain pass", "2020-01-28T06:15:00+04:00"),
    ("Airline adds flights to Dubai", "2023-05-09T11:20:00+04:00"),
    ("Tech park attracts foreign start-ups", "2017-09-30T10:00:00+04:00"),
    ("Farmers expect record apricot harvest", "2016-06-21T13:40:00+04:00"),
)
PLUS_4 = timezone(timedelta(hours=4))


def _pick(url: str, count: int) -> list[tuple[str, str]]:
    start = int(hashlib.sha256(url.encode()).hexdigest(), 16) % len(HEADLINES)
    return [HEADLINES[(start + n) % len(HEADLINES)] for n in range(count)]


def _old_list(url: str, css: str, heading: str) -> str:
    items = "".join(f'<div class="entry"><a href="/old/{n}">{escape(title)}</a> '
                    f'<span class="when">{datetime.fromisoformat(when):%d.%m.%Y %H:%M}</span></div>'
                    for n, (title, when) in enumerate(_pick(url, 4)))
    return f'<div class="{css}"><h3>{heading}</h3>{items}</div>'


def render_page(slug: str, *, title: str, paragraphs: Sequence[str], lang: str,
                published: datetime | None, url: str) -> str:
    """The HTML page of one article on tuning outlet ``slug``."""
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    head, line = "", ""
    if published is not None and slug == "tune-wire":
        ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": title,
              "datePublished": published.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")}
        head = f'<script type="application/ld+json">{json.dumps(ld)}</script>'
    elif published is not None and slug == "tune-daily":
        head = f'<meta property="article:published_time" content="{published.astimezone(PLUS_4).isoformat()}">'
    elif published is not None and slug == "tune-herald":
        line = f'<div class="article-meta">{published.astimezone(PLUS_4):%d %B %Y, %H:%M} (GMT+4)</div>'
    elif published is not None and slug == "tune-times":
        local = published.astimezone(PLUS_4)
        line = f'<div class="meta">Staff reporter · <time datetime="{local.isoformat()}">{local:%d %b, %H:%M}</time></div>'
    heavy = slug in ("tune-daily", "tune-herald")
    chrome = (_old_list(url, "sidebar", "Most read") + _old_list(url + "#2", "latest-news", "Latest news")
              if heavy else _old_list(url, "related", "Related"))
    newsletter = ('<div class="newsletter">Get the morning briefing in your inbox: the day\'s main stories, '
                  'analysis and the weather, every weekday at 7:00. Free, unsubscribe at any time.</div>'
                  if heavy else "")
    return f"""<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">
<title>{escape(title)} | {slug}</title>{head}</head><body>
<div id="cookie-banner">This site uses cookies to measure its audience. <button>OK</button></div>
<header><nav><a href="/">Home</a> <a href="/politics">Politics</a> <a href="/economy">Economy</a>
<a href="/world">World</a> <a href="/sport">Sport</a></nav></header>
<div class="breadcrumbs"><a href="/">Home</a> / <a href="/politics">Politics</a></div>
<main><article><h1>{escape(title)}</h1>{line}
<div class="share">Share: Facebook · X · Telegram · WhatsApp</div>
{body}
<div class="tags">Tags: politics, region</div></article>
<aside>{chrome}</aside>{newsletter}</main>
<footer><p>© 2026 {slug}. All rights reserved. Reproduction only with a link to the source.
Comments are moderated; see our comment policy.</p></footer></body></html>"""
