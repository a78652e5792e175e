"""The ``newswatch`` command line.

Modules that pull in Prefect, DuckDB or the parsers are imported inside the commands that use
them, so that ``--help`` and ``sources validate`` stay quick. Every :class:`NewswatchError`
ends a command in one place (:class:`Commands`): its one-line summary and message on stderr,
its ``exit_code``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from newswatch.config import Config, load_config, resolve_sources_path
from newswatch.errors import ConfigError, DeliveryError, FeedbackError, NewswatchError
from newswatch.prefect_env import configure_prefect
from newswatch.text import one_line


class Commands(TyperGroup):
    """The command group: a newswatch error ends the command with its exit code and message."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NewswatchError as error:
            report_error(error)
            raise typer.Exit(error.exit_code) from None


def report_error(error: NewswatchError) -> None:
    """Print ``error`` for the operator: its summary and message on one line (a configuration
    error: one line per problem)."""
    if isinstance(error, ConfigError):
        err.print(f"[bold red]{error.summary}[/] ({len(error.problems)} problem(s)):", highlight=False)
        for problem in error.problems:
            err.print(f"  {one_line(problem)}", highlight=False, markup=False)
        return
    err.print(Text.assemble((f"{error.summary}:", "bold red"), " ", one_line(str(error))), highlight=False)


app = typer.Typer(help="Monitor South Caucasus news feeds for watched topics.", no_args_is_help=True, cls=Commands)
sources_app = typer.Typer(help="Check and inspect sources.yaml.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")
digest_app = typer.Typer(help="E-mail digests: list, send (or dry-run), history.", no_args_is_help=True)
app.add_typer(digest_app, name="digest")
feedback_app = typer.Typer(help="Relevance feedback: not relevant, missed, list.", no_args_is_help=True)
app.add_typer(feedback_app, name="feedback")
PIPED_WIDTH = 200


def _console(stderr: bool = False) -> Console:
    """A console for this invocation; piped output (no terminal, no COLUMNS) is not cut to 80 columns."""
    console = Console(stderr=stderr, soft_wrap=True)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPED_WIDTH
    return console


err = _console(stderr=True)
out = _console()


@app.callback()
def _consoles() -> None:
    """Create the consoles per invocation, so that they see the current terminal (COLUMNS);
    set Prefect's defaults before any command imports it."""
    global err, out
    err = _console(stderr=True)
    out = _console()
    configure_prefect()

SourcesOpt = Annotated[
    Path | None,
    typer.Option("--sources", "-s", help="sources file [env: NEWSWATCH_SOURCES; default ./sources.yaml]"),
]
DbOpt = Annotated[
    Path | None,
    typer.Option("--db", help="DuckDB file [env: NEWSWATCH_DB; default settings.database]"),
]
HoursOpt = Annotated[float | None, typer.Option(help="report window in hours [default settings.report.window_hours]")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="report folder [default settings.report.output_dir]")]


def _load(sources: Path | None, db: Path | None) -> tuple[Config, Path]:
    path = resolve_sources_path(sources)
    return load_config(path, db), path


def _run_flows(config: Config, sources: Path, ingest: bool, report: bool, hours: float | None, out_dir: Path | None) -> None:
    from flows.ingest import ingest_flow
    from flows.report import report_flow

    database = str(config.settings.database)
    if ingest:
        stats = ingest_flow(sources=str(sources), database=database)
        out.print(
            f"ingest: {stats['new_articles']} new articles, {stats['extracted']} extracted,"
            f" {stats['summary_only']} summary-only, {stats['feeds_failed']} feeds failed,"
            f" {stats['feeds_skipped']} skipped, {stats['matched_articles']} articles matched"
        )
    if report:
        result = report_flow(
            sources=str(sources), database=database, hours=hours,
            output_dir=str(out_dir) if out_dir else None,
        )
        out.print(f"report: {result['matches']} matches -> {result['html']}")


@app.command()
def run(sources: SourcesOpt = None, db: DbOpt = None, hours: HoursOpt = None, out_dir: OutOpt = None) -> None:
    """Ingest all feeds, then write the report (the main job)."""
    config, path = _load(sources, db)
    _run_flows(config, path, ingest=True, report=True, hours=hours, out_dir=out_dir)


@app.command()
def ingest(sources: SourcesOpt = None, db: DbOpt = None) -> None:
    """Fetch feeds, extract, store and match new articles."""
    config, path = _load(sources, db)
    _run_flows(config, path, ingest=True, report=False, hours=None, out_dir=None)


@app.command()
def report(sources: SourcesOpt = None, db: DbOpt = None, hours: HoursOpt = None, out_dir: OutOpt = None) -> None:
    """Write the HTML and text report of recent matches."""
    config, path = _load(sources, db)
    _run_flows(config, path, ingest=False, report=True, hours=hours, out_dir=out_dir)


@app.command()
def serve(sources: SourcesOpt = None, db: DbOpt = None) -> None:
    """Run the flows on their cron schedules until stopped (Ctrl-C)."""
    config, path = _load(sources, db)
    from flows.serve import serve_forever

    serve_forever(config, path, db)


@sources_app.command("validate")
def sources_validate(sources: SourcesOpt = None) -> None:
    """Check sources.yaml and summarise it; exit 2 with file:line: field messages if invalid."""
    config, path = _load(sources, None)
    out.print(
        f"{path}: OK - {len(config.enabled_feeds)} enabled feeds"
        f" ({len(config.feeds)} in all), {len(config.topics)} topics, {len(config.digests)} digests"
    )


@sources_app.command("list")
def sources_list(sources: SourcesOpt = None) -> None:
    """List the configured feeds."""
    config, _ = _load(sources, None)
    table = Table("name", "language", "enabled", "url", "tags")
    for feed in config.feeds:
        table.add_row(feed.name, feed.language, "yes" if feed.enabled else "no", feed.url, ", ".join(feed.tags))
    out.print(table)


@digest_app.command("list")
def digest_list(sources: SourcesOpt = None, db: DbOpt = None) -> None:
    """List digest subscriptions: schedule, next run, last message sent."""
    from flows import configured
    from storage.db import now

    table = Table("name", "recipients", "topics", "schedule", "next run", "last sent", "unconfirmed")
    with configured(sources, db) as (config, database):
        for digest in config.digests:
            sent = database.last_digest_sent(digest.name)
            table.add_row(
                digest.name, "\n".join(digest.recipients), ", ".join(digest.topics),
                f"{digest.schedule.cron_expression} ({digest.schedule.timezone})",
                f"{digest.schedule.next_run(now()):%Y-%m-%d %H:%M %Z}",
                f"{sent.sent_at:%Y-%m-%d %H:%M UTC} ({sent.listed} stories)" if sent else "never",
                str(len(database.unconfirmed_digests(digest.name))),
            )
    out.print(table)


@digest_app.command("send")
def digest_send(
    names: Annotated[list[str] | None, typer.Argument(help="digests to send [default: all]")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="write .eml/.html files instead; record nothing")] = False,
    outbox: Annotated[Path | None, typer.Option(help="folder for --dry-run files [default: settings.mail.outbox_dir]")] = None,
    sources: SourcesOpt = None,
    db: DbOpt = None,
) -> None:
    """Send digests now (Prefect flow ``digest``); exit 3 if a delivery failed."""
    from flows.digest import digest_flow

    config, path = _load(sources, db)
    try:
        chosen = [config.digest(name) for name in names] if names else list(config.digests)
    except KeyError as error:
        err.print(f"[bold red]{error.args[0]}[/]", highlight=False)
        raise typer.Exit(2) from None
    if not chosen:
        err.print("no digests configured (see README, Digests)")
        raise typer.Exit(2)
    dry_run_dir = (outbox or config.settings.mail.outbox_dir) if dry_run and config.settings.mail else None
    failed = False
    for digest in chosen:
        try:
            result = digest_flow(
                digest=digest.name, sources=str(path), database=str(config.settings.database),
                dry_run_dir=str(dry_run_dir) if dry_run_dir else None,
            )
        except DeliveryError as error:
            err.print(f"[bold red]{digest.name}: delivery failed:[/] {error}", highlight=False)
            failed = True
            continue
        files = f" -> {', '.join(result['files'])}" if result["files"] else ""
        out.print(f"{digest.name}: {result['status']}, {result['listed']} stories listed,"
                  f" {result['omitted']} not shown{files}", highlight=False)
    if failed:
        raise typer.Exit(DeliveryError.exit_code)


@digest_app.command("history")
def digest_history(
    name: Annotated[str | None, typer.Argument(help="one digest [default: all]")] = None,
    limit: Annotated[int, typer.Option(help="messages shown")] = 20,
    sources: SourcesOpt = None,
    db: DbOpt = None,
) -> None:
    """Messages built for digests, newest first: status, Message-ID, counts, errors."""
    from flows import configured

    table = Table("id", "digest", "status", "created", "stories", "not shown", "Message-ID", "error")
    with configured(sources, db) as (_, database):
        for record in database.digest_history(name, limit):
            table.add_row(
                str(record.id), record.digest, record.status, f"{record.created_at:%Y-%m-%d %H:%M}",
                str(record.listed), str(record.omitted), record.message_id, record.error or "",
            )
    out.print(table)


@sources_app.command("status")
def sources_status(sources: SourcesOpt = None, db: DbOpt = None) -> None:
    """Health of every feed: state, failures in a row, last success, last error, next fetch."""
    from newswatch.health import next_fetch
    from newswatch.health import state as health_state
    from newswatch.models import FeedHealth
    from newswatch.text import format_time
    from storage.db import now

    config, _ = _load(sources, db)
    path = config.settings.database
    known: dict[str, FeedHealth] = {}
    if path.exists():
        from storage.db import open_reader

        with open_reader(path) as (database, freshness):
            known = database.feed_health()
        if freshness.snapshot:
            err.print(freshness.describe(), highlight=False)
    at = now()
    settings = config.settings.health
    table = Table("feed", "state", "failures", "last success", "last error", "next fetch")
    for feed in config.feeds:
        health = known.get(feed.name)
        label = health_state(health, settings, at) if feed.enabled else "disabled"
        due = next_fetch(health, settings) if health else None
        table.add_row(
            feed.name,
            label,
            str(health.consecutive_failures) if health else "0",
            format_time(health.last_success_at) if health and health.last_success_at else "never",
            (health.last_error or "") if health else "",
            format_time(due) if due and due > at else ("-" if label == "disabled" else "next run"),
        )
    out.print(table)


@sources_app.command("reset")
def sources_reset(name: Annotated[str, typer.Argument(help="feed name")], sources: SourcesOpt = None, db: DbOpt = None) -> None:
    """Forget a feed's failures and Retry-After, so that the next run fetches it (e.g. a dead feed that is back)."""
    from flows import configured

    with configured(sources, db) as (config, database):
        found = database.reset_feed_health(name)
    if not found:
        err.print(f"no feed named {name!r} in {config.settings.database}", highlight=False, markup=False)
        raise typer.Exit(1)
    out.print(f"{name}: health reset; the next run fetches it")


DateOpt = Annotated[str | None, typer.Option(help="YYYY-MM-DD or an ISO time (UTC unless it says otherwise)")]


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="a query in the topic query language (docs/queries.md)")],
    since: DateOpt = None,
    until: Annotated[str | None, typer.Option(help="YYYY-MM-DD (that whole day included) or an ISO time")] = None,
    lang: Annotated[list[str] | None, typer.Option(help="language code; repeat for several")] = None,
    source: Annotated[list[str] | None, typer.Option(help="feed name; repeat for several")] = None,
    topic: Annotated[str | None, typer.Option(help="only articles this topic matched")] = None,
    sort: Annotated[str, typer.Option(help="relevance or newest")] = "relevance",
    limit: Annotated[int, typer.Option(help="stories shown")] = 20,
    output: Annotated[str, typer.Option("--format", help="table, json or csv")] = "table",
    sources: SourcesOpt = None,
    db: DbOpt = None,
) -> None:
    """Search stored articles; one row per story, with the outlets that carried it."""
    from newswatch import search_output

    config, _ = _load(sources, db)
    print(search_output.run(config, query, since, until, lang or [], source or [], topic, sort, limit, output), end="")


@app.command()
def web(
    host: Annotated[str, typer.Option(help="address to listen on; other than loopback needs NEWSWATCH_WEB_TOKEN or NEWSWATCH_WEB_USER/PASSWORD")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8765,
    sources: SourcesOpt = None,
    db: DbOpt = None,
) -> None:
    """Serve the analyst's workspace: topics, stories, search, feed health, feedback."""
    from newswatch.web.server import serve

    config, _ = _load(sources, db)
    serve(config, config.settings.database, host, port)


def _feedback(kind: str, topic: str, article: str, note: str, sources: Path | None, db: Path | None) -> None:
    from newswatch.feedback import record

    config, _ = _load(sources, db)
    if topic not in {t.name for t in config.topics}:
        raise FeedbackError(f"unknown topic {topic!r} (topics: {', '.join(t.name for t in config.topics)})")
    item, stored = record(config.settings.database, kind, topic, article, note)
    where = "stored" if stored else "queued (a run is writing the database; the next writer stores it)"
    out.print(f"{kind.replace('_', ' ')}: {topic} / {item.url or item.article_id}: {where}", highlight=False, markup=False)


TopicArg = Annotated[str, typer.Argument(help="topic name")]
NoteOpt = Annotated[str, typer.Option(help="why (free text)")]


@feedback_app.command("not-relevant")
def feedback_not_relevant(
    topic: TopicArg, article: Annotated[str, typer.Argument(help="stored article: id or URL")],
    note: NoteOpt = "", sources: SourcesOpt = None, db: DbOpt = None,
) -> None:
    """Record that the topic should not have matched this article."""
    _feedback("not_relevant", topic, article, note, sources, db)


@feedback_app.command("missed")
def feedback_missed(
    topic: TopicArg, article: Annotated[str, typer.Argument(help="article URL (stored or not) or stored id")],
    note: NoteOpt = "", sources: SourcesOpt = None, db: DbOpt = None,
) -> None:
    """Record that the topic should have matched this article."""
    _feedback("missed", topic, article, note, sources, db)


@feedback_app.command("list")
def feedback_list(
    topic: Annotated[str | None, typer.Argument(help="one topic [default: all]")] = None,
    sources: SourcesOpt = None, db: DbOpt = None,
) -> None:
    """Feedback recorded (and queued), newest first."""
    from newswatch.text import format_time
    from newswatch.feedback import queued
    from storage.db import open_reader

    config, _ = _load(sources, db)
    path = config.settings.database
    with open_reader(path) as (database, _fresh):
        items = [(f, "stored") for f in database.feedback(topic)]
    items = [(f, "queued") for f in queued(path) if topic in (None, f.topic)] + items
    table = Table("when", "kind", "topic", "article", "note", "state")
    for item, state in items:
        table.add_row(format_time(item.created_at), item.kind.replace("_", " "), item.topic,
                      item.url or item.article_id, item.note, state)
    out.print(table)


def main() -> None:
    """Entry point of the ``newswatch`` command."""
    app()
