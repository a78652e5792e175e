"""Held-out article pages: a story's text rendered on one fictional outlet's page layout.

The layouts (tests/heldout/layouts/<slug>.html.j2, listed in layouts/README.md) model real news
sites' chrome: navigation, share bars, dated "related"/"latest" lists, newsletter and cookie
boxes, comment policies, footers. The page's own publication date is stated the outlet's way
(``OUTLETS[slug].date_style``), and not at all when ``published`` is None.
"""

# No `from __future__ import annotations`: benchmarks/eval_clusters.py loads this file by path,
# without registering it in sys.modules, and dataclasses then need evaluated annotations.
import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

LAYOUTS = Path(__file__).parent / "layouts"


@dataclass(frozen=True, slots=True)
class Outlet:
    """One fictional outlet: display name, page languages, chrome weight, how it dates pages.

    ``date_style`` is ``jsonld`` (JSON-LD ``datePublished``), ``meta``
    (``<meta property="article:published_time">``), ``time`` (``<time datetime>`` only),
    ``visible`` (a date line in the text only) or ``none``; ``utc_offset`` is the offset in hours
    the date is stated in (0 with ``Z`` for UTC).
    """

    name: str
    langs: tuple[str, ...]
    boilerplate: str
    date_style: str
    utc_offset: int | None


OUTLETS: dict[str, Outlet] = {
    "caucasus-wire": Outlet("Caucasus Wire", ("en", "ru"), "light", "jsonld", 0),
    "yerevan-daily": Outlet("Yerevan Daily", ("en", "hy"), "heavy", "meta", 4),
    "baku-herald": Outlet("Baku Herald", ("en", "az"), "heavy", "visible", 4),
    "tbilisi-times": Outlet("Tbilisi Times", ("en", "ka"), "medium", "time", 4),
    "kavkaz-vestnik": Outlet("Кавказский вестник", ("ru",), "heavy", "jsonld", 3),
    "moskovsky-obozrevatel": Outlet("Московский обозреватель", ("ru",), "medium", "meta", 3),
    "hayastani-lur": Outlet("Հայաստանի լուր", ("hy",), "medium", "visible", 4),
    "azer-xeber": Outlet("Azər Xəbər", ("az",), "heavy", "jsonld", 4),
    "sakartvelos-ambebi": Outlet("საქართველოს ამბები", ("ka",), "medium", "meta", 4),
    "regional-business-review": Outlet(
        "Regional Business Review", ("en", "ru"), "light", "none", None
    ),
    "eurasia-analysis": Outlet("Eurasia Analysis", ("en",), "heavy", "time", 4),
    "anatolia-region": Outlet("Anatolia Region", ("en",), "medium", "jsonld", 3),
}


def pick(pool: Sequence, url: str, count: int) -> list:
    """``count`` items of ``pool`` chosen by the page ``url`` (the same url, the same items)."""
    seed = int.from_bytes(hashlib.sha256(url.encode("utf-8")).digest()[:8], "big")
    return random.Random(seed).sample(list(pool), min(count, len(pool)))


def at_offset(moment: datetime, hours: int) -> datetime:
    """``moment`` as local time at UTC+``hours``."""
    return moment.astimezone(timezone(timedelta(hours=hours)))


def iso(moment: datetime, hours: int) -> str:
    """``moment`` in ISO 8601 at UTC+``hours``, with ``Z`` for UTC."""
    local = at_offset(moment, hours).replace(microsecond=0)
    return local.strftime("%Y-%m-%dT%H:%M:%SZ") if hours == 0 else local.isoformat()


def compact(fields: dict) -> dict:
    """``fields`` without the ones that are None (optional JSON-LD properties)."""
    return {key: value for key, value in fields.items() if value is not None}


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(LAYOUTS),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pick"] = pick
    env.filters["at_offset"] = at_offset
    env.filters["iso"] = iso
    env.filters["compact"] = compact
    return env


_ENV = _environment()


def render_page(
    slug: str,
    *,
    title: str,
    paragraphs: Sequence[str],
    lang: str,
    published: datetime | None,
    url: str,
) -> str:
    """The HTML page of one article on outlet ``slug``'s layout, its chrome in ``lang``."""
    outlet = OUTLETS[slug]
    if lang not in outlet.langs:
        raise ValueError(f"{slug} publishes in {', '.join(outlet.langs)}, not {lang}")
    if published is not None and published.utcoffset() is None:
        raise ValueError("published must be timezone-aware")
    return _ENV.get_template(f"{slug}.html.j2").render(
        title=title,
        paragraphs=list(paragraphs),
        outlet=outlet.name,
        lang=lang,
        published=published,
        url=url,
    )
