"""Outlet page layouts (Jinja2 templates) for rendering test articles as real-looking pages.

A layout is ``<dir>/<outlet-slug>.html.j2`` with the variables of tests/heldout's format:
``title``, ``paragraphs``, ``outlet``, ``lang``, ``published`` (aware datetime or None), ``url``.
Tuning layouts live in tests/layouts; lists of other headlines are chosen per page with the
``pick(items, key, n)`` filter, a deterministic function of ``key`` (the page URL).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from pathlib import Path

import jinja2

TUNING_LAYOUTS = Path(__file__).parent / "layouts"


def pick(items: Sequence, key: str, n: int) -> list:
    """``n`` items of ``items`` chosen and ordered by a hash of ``key`` (same key, same list)."""
    def rank(pair: tuple[int, object]) -> bytes:
        return hashlib.sha256(f"{key}/{pair[0]}".encode()).digest()

    return [item for _, item in sorted(enumerate(items), key=rank)[:n]]


@cache
def _environment(directory: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory), autoescape=True, undefined=jinja2.StrictUndefined
    )
    env.filters["pick"] = pick
    env.globals |= {"utc": UTC, "tbilisi": timezone(timedelta(hours=4)), "moscow": timezone(timedelta(hours=3))}
    return env


def layouts(directory: Path = TUNING_LAYOUTS) -> list[str]:
    """Slugs of the layouts in ``directory``."""
    return sorted(p.name.removesuffix(".html.j2") for p in directory.glob("*.html.j2"))


def render_page(
    slug: str, *, title: str, paragraphs: Sequence[str], outlet: str, lang: str,
    published: datetime | None, url: str, directory: Path = TUNING_LAYOUTS,
) -> str:
    """The HTML page of one article on outlet ``slug``'s layout."""
    template = _environment(directory).get_template(f"{slug}.html.j2")
    return template.render(
        title=title, paragraphs=list(paragraphs), outlet=outlet, lang=lang, published=published, url=url
    )
