"""Render reports and digests from stored matches with Jinja2 (HTML autoescaped, plus text).

Reports and e-mail digests share the item, section and footer templates (``_parts.*.j2``) and
the :class:`StoryItem` / :class:`TopicSection` records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import css_inline
from markupsafe import Markup, escape

from newswatch.chart import VolumeChart
from newswatch.models import ClusterSummary, FeedHealth, MatchedArticle, Snippet
from newswatch.text import format_time, one_line

if TYPE_CHECKING:
    import jinja2


def templates_dir() -> Path:
    """The ``templates/`` folder of the checkout, or the copy inside an installed wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "templates", here / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("newswatch templates folder not found")


def autoescaped(template_name: str | None) -> bool:
    """The one escaping rule of the templates: markup (HTML, SVG, XML) is escaped; only plain
    text (``*.txt.j2``) is not. A template of any new kind is escaped until named ``.txt.j2``."""
    return not (template_name or "").endswith(".txt.j2")


@cache
def environment() -> jinja2.Environment:
    """The shared Jinja2 environment: every template is autoescaped (HTML, the SVG chart, e-mail
    HTML) except the plain-text ones (``*.txt.j2``); Jinja2 is imported by the commands that render."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()),
        autoescape=autoescaped,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["highlight_html"] = highlight_html
    env.filters["highlight_text"] = highlight_text
    env.filters["when"] = format_time
    env.filters["one_line"] = one_line
    env.filters["web_url"] = web_url
    env.filters["host"] = url_host
    env.filters["also_reported"] = also_reported
    return env


def highlight_html(snippet: Snippet) -> Markup:
    """The snippet escaped, with matched spans wrapped in ``<mark>``."""
    out, last = [], 0
    for start, end in sorted(snippet.spans):
        if start < last:
            continue
        out += [escape(snippet.text[last:start]), Markup("<mark>"), escape(snippet.text[start:end]), Markup("</mark>")]
        last = end
    out.append(escape(snippet.text[last:]))
    return Markup("").join(out)


def highlight_text(snippet: Snippet) -> str:
    """The snippet as plain text, with matched spans in [[double brackets]]."""
    out, last = [], 0
    for start, end in sorted(snippet.spans):
        if start < last:
            continue
        out += [snippet.text[last:start], "[[", snippet.text[start:end], "]]"]
        last = end
    out.append(snippet.text[last:])
    return " ".join("".join(out).split())


LANGUAGE_NAMES = {"en": "English", "ru": "Russian", "hy": "Armenian", "az": "Azerbaijani", "ka": "Georgian", "tr": "Turkish"}


def also_reported(cluster: ClusterSummary, source: str, language: str | None = None) -> str:
    """"also reported by A, B · also in Russian: C; Armenian: D · 5 articles" for a story
    shown from ``source`` in ``language`` (editions in other languages named by language)."""
    editions = dict(cluster.editions)
    same = editions[language] if language in editions else cluster.outlets
    parts = [f"also reported by {', '.join(others)}"] if (others := [o for o in same if o != source]) else []
    if language in editions and (elsewhere := [
        f"{LANGUAGE_NAMES.get(code, code)}: {', '.join(outlets)}" for code, outlets in cluster.editions if code != language
    ]):
        parts.append(f"also in {'; '.join(elsewhere)}")
    return " · ".join([*parts, f"{cluster.size} articles in this story"])


def web_url(url: str) -> str:
    """``url`` if it is an http(s) URL, else empty (no ``javascript:`` links from feeds)."""
    return url if urlsplit(url.strip()).scheme.lower() in ("http", "https") else ""


def url_host(url: str) -> str:
    """The host name of ``url`` (empty when there is none)."""
    return urlsplit(url).hostname or ""


@dataclass(frozen=True, slots=True)
class StoryItem:
    """One story in a report or digest: the article shown, and its story cluster (if any)."""

    article: MatchedArticle
    cluster: ClusterSummary | None = None
    other_topics: tuple[str, ...] = ()
    update: bool = False  # sent before; listed again because more outlets reported it

    @property
    def key(self) -> str:
        """The story's id: its cluster's, or the article's for an unclustered article."""
        return self.cluster.cluster_id if self.cluster else self.article.article_id

    @property
    def size(self) -> int:
        """Articles in the story."""
        return self.cluster.size if self.cluster else 1

    @property
    def also_reported_by(self) -> tuple[str, ...]:
        """Other outlets that carried the story."""
        return self.cluster.also_reported_by(self.article.feed_name) if self.cluster else ()


@dataclass(frozen=True, slots=True)
class TopicSection:
    """One topic's stories in a report or digest, in display order."""

    name: str
    description: str
    items: tuple[StoryItem, ...]
    omitted: int = 0


def clusters_by_article(clusters: Iterable[ClusterSummary]) -> dict[str, ClusterSummary]:
    """Each member article's cluster."""
    return {member: cluster for cluster in clusters for member in cluster.members}


def collapse_stories(
    rows: Sequence[MatchedArticle], cluster_of: Mapping[str, ClusterSummary]
) -> tuple[StoryItem, ...]:
    """One item per story, in ``rows`` order: the cluster's lead if it is among the rows, else
    the story's first row."""
    items: dict[str, StoryItem] = {}
    for row in rows:
        item = StoryItem(row, cluster_of.get(row.article_id))
        if item.key not in items or (item.cluster and row.article_id == item.cluster.lead_article_id):
            items[item.key] = item
    return tuple(items.values())


def inline_css(html: str) -> str:
    """``html`` with its ``<style>`` rules moved into ``style`` attributes (for e-mail clients)."""
    return _inliner().inline(html)


@cache
def _inliner() -> css_inline.CSSInliner:
    return css_inline.CSSInliner(load_remote_stylesheets=False)


@dataclass(frozen=True, slots=True)
class Report:
    """Everything a report template needs."""

    title: str
    start: datetime
    end: datetime
    generated_at: datetime
    sections: tuple[TopicSection, ...]
    failing_feeds: tuple[FeedHealth, ...] = ()
    totals: dict[str, int] = field(default_factory=dict)
    chart: VolumeChart | None = None
    feeds_total: int = 0
    feedback_url: str = ""  # the analyst workspace: each item links to its story page there

    @property
    def item_count(self) -> int:
        """Stories listed in the report (a story counts once per topic it matches)."""
        return sum(len(section.items) for section in self.sections)


def build_report(
    rows: Sequence[MatchedArticle],
    topics: Sequence[tuple[str, str]],
    start: datetime,
    end: datetime,
    generated_at: datetime,
    failing_feeds: Sequence[FeedHealth] = (),
    title: str = "newswatch report",
    clusters: Iterable[ClusterSummary] = (),
    chart: VolumeChart | None = None,
    feeds_total: int = 0,
    feedback_url: str = "",
) -> Report:
    """Group matched articles by topic, in the order of ``topics`` ((name, description) pairs).

    Articles of one story cluster are listed once per topic (see :func:`collapse_stories`).
    """
    cluster_of = clusters_by_article(clusters)
    sections = tuple(
        TopicSection(name, description, collapse_stories([r for r in rows if r.topic == name], cluster_of))
        for name, description in topics
    )
    return Report(
        title, start, end, generated_at, sections, tuple(failing_feeds), chart=chart, feeds_total=feeds_total,
        feedback_url=feedback_url,
    )


def render_report(report: Report) -> tuple[str, str]:
    """The report as (HTML, plain text)."""
    env = environment()
    return (
        env.get_template("report.html.j2").render(report=report),
        env.get_template("report.txt.j2").render(report=report),
    )


def write_report(report: Report, out_dir: Path) -> tuple[Path, Path]:
    """Write ``report-<time>.html`` and ``.txt`` into ``out_dir``; return both paths."""
    html, text = render_report(report)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"report-{report.generated_at:%Y%m%dT%H%M%SZ}"
    html_path, text_path = stem.with_suffix(".html"), stem.with_suffix(".txt")
    html_path.write_text(html, encoding="utf-8")
    text_path.write_text(text, encoding="utf-8")
    return html_path, text_path
