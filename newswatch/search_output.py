"""``newswatch search``: filters from the command line, results as a table, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from newswatch.config import Config
from newswatch.errors import SearchError
from newswatch.models import Freshness, SearchFilters, Snippet
from newswatch.render import StoryItem, highlight_text
from newswatch.search import SearchResult, search
from newswatch.text import format_time, one_line
from storage.db import open_reader

FORMATS = ("table", "json", "csv")


def parse_when(value: str | None, end_of_day: bool = False) -> datetime | None:
    """``YYYY-MM-DD`` (its start, or with ``end_of_day`` the start of the next day) or an ISO time; UTC
    unless the value has an offset."""
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=1 if end_of_day else 0), time(), UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise SearchError(f"{value!r} is not a date (YYYY-MM-DD) or an ISO time (YYYY-MM-DDTHH:MM)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def make_filters(since: str | None, until: str | None, languages: Sequence[str], sources: Sequence[str],
                 topic: str | None, config: Config) -> SearchFilters:
    """Checked filters: known topic, known feeds, dates in order."""
    if topic and topic not in {t.name for t in config.topics}:
        raise SearchError(f"unknown topic {topic!r} (topics: {', '.join(t.name for t in config.topics)})")
    start, end = parse_when(since), parse_when(until, end_of_day=True)
    if start and end and start >= end:
        raise SearchError("--since must be before --until")
    return SearchFilters(start, end, tuple(languages), tuple(sources), topic or None)


def story_record(rank: int, story: StoryItem) -> dict:
    """A story as plain data (JSON, CSV, tests)."""
    a = story.article
    return {
        "rank": rank, "article_id": a.article_id, "title": one_line(a.title), "url": a.url, "outlet": a.feed_name,
        "language": a.language, "published_at": (a.published_at or a.discovered_at).isoformat(),
        "score": a.score, "matched": list(a.terms),
        "snippets": [{"text": s.text, "highlights": [list(span) for span in s.spans]} for s in a.snippets],
        "story_id": story.key, "story_articles": story.size, "also_reported_by": list(story.also_reported_by),
    }


def _rich_snippet(snippet: Snippet) -> str:
    out, last = [], 0
    for start, end in sorted(snippet.spans):
        if start < last:
            continue
        out += [escape(snippet.text[last:start]), "[bold yellow]", escape(snippet.text[start:end]), "[/]"]
        last = end
    out.append(escape(snippet.text[last:]))
    return one_line("".join(out))


def summary(result: SearchResult, freshness: Freshness) -> str:
    """'12 articles (exact) in 4 stories shown · live data · 85 ms'."""
    count = f"{result.total} articles" if result.exact else f"about {result.total} articles"
    return (f"{count} match; {len(result.stories)} stories shown, {result.sort} first"
            f" · {freshness.describe()} · {result.seconds * 1000:.0f} ms")


def as_table(result: SearchResult, freshness: Freshness) -> str:
    table = Table("#", "published", "outlet", "lang", "title / snippet", "score", "story")
    for rank, story in enumerate(result.stories, 1):
        a = story.article
        snippet = "\n".join(_rich_snippet(s) for s in a.snippets[:1])
        others = f"+{len(story.also_reported_by)}: {', '.join(story.also_reported_by)}" if story.also_reported_by else ""
        table.add_row(str(rank), format_time(a.published_at or a.discovered_at), escape(a.feed_name), a.language or "",
                      f"[bold]{escape(one_line(a.title))}[/]\n{snippet}", f"{a.score:.1f}",
                      f"{story.size} articles {escape(others)}" if story.size > 1 else "")
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, soft_wrap=False, force_terminal=False, emoji=False)
    console.print(table)
    console.print(summary(result, freshness), highlight=False, markup=False)
    return buffer.getvalue()


def as_json(result: SearchResult, freshness: Freshness) -> str:
    data = {
        "query": result.query, "total": result.total, "exact": result.exact, "sort": result.sort,
        "freshness": freshness.describe(), "snapshot_of": freshness.as_of.isoformat() if freshness.as_of else None,
        "stories": [story_record(rank, s) for rank, s in enumerate(result.stories, 1)],
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def as_csv(result: SearchResult) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["rank", "published_at", "outlet", "language", "title", "url", "score", "story_articles",
                     "also_reported_by", "snippet"])
    for rank, story in enumerate(result.stories, 1):
        r = story_record(rank, story)
        writer.writerow([rank, r["published_at"], r["outlet"], r["language"] or "", r["title"], r["url"],
                         r["score"], r["story_articles"], "; ".join(r["also_reported_by"]),
                         highlight_text(story.article.snippets[0]) if story.article.snippets else ""])
    return buffer.getvalue()


def run(config: Config, query: str, since: str | None, until: str | None, languages: Sequence[str],
        sources: Sequence[str], topic: str | None, sort: str, limit: int, output: str) -> str:
    """Search the database of ``config`` (its snapshot while a run writes it) and format the result."""
    if output not in FORMATS:
        raise SearchError(f"unknown format {output!r}: use {', '.join(FORMATS)}")
    filters = make_filters(since, until, languages, sources, topic, config)
    with open_reader(config.settings.database) as (db, freshness):
        result = search(db, query, config.entities, filters, sort, limit)
    if output == "json":
        return as_json(result, freshness)
    if output == "csv":
        return as_csv(result)
    return as_table(result, freshness)
