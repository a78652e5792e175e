"""The ``newswatch`` command line.

Modules are imported inside the commands that use them (the configuration's validation,
DuckDB, the parsers, Prefect), so that a command imports only what it uses and ``--help``
stays quick; ``report`` and ``digest send`` never import Prefect. Every :class:`NewswatchError`
ends a command in one place (:class:`Commands`): its one-line summary and message on stderr,
its ``exit_code``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from newswatch.errors import ConfigError, DeliveryError, FeedbackError, NewswatchError
from newswatch.prefect_env import configure_plain_console, configure_prefect
from newswatch.redact import redact_text, redact_url
from newswatch.text import one_line

if TYPE_CHECKING:
    from newswatch.config import Config
    from storage.db import Database


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
    error: one line per problem), as plain text (never console markup), secrets redacted."""
    if isinstance(error, ConfigError):
        err.print(f"[bold red]{error.summary}[/] ({len(error.problems)} problem(s)):", highlight=False)
        for problem in error.problems:
            err.print(f"  {plain(problem)}", highlight=False, markup=False)
        return
    err.print(labelled(f"{error.summary}: ", error), highlight=False)


def plain(text: object) -> str:
    """The one rule for text shown on the console that newswatch did not write itself (feed
    names, server errors, operator input): one line, secrets redacted; print it as a
    :class:`~rich.text.Text` or with ``markup=False`` so that it is never read as markup."""
    return redact_text(one_line(str(text)))


def labelled(label: str, text: object) -> Text:
    """``label`` in bold red, then ``text`` as plain text (see :func:`plain`)."""
    return Text.assemble((label, "bold red"), plain(text))


class PlainTable(Table):
    """A table whose cells are plain text (see :func:`plain`; line breaks kept), never markup."""

    def add_row(self, *cells: object, **options: Any) -> None:  # type: ignore[override]
        super().add_row(*(Text(redact_text(str(cell))) for cell in cells), **options)


EXIT_SOME_FEEDS, EXIT_ALL_FEEDS = 4, 5
EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 storage error (database locked, unwritable, disk full) or other error;"
    " 2 invalid configuration or usage; 3 a digest or alert could not be delivered; 4 some feeds failed"
    " (the rest was stored); 5 every feed failed; 6 no Prefect API (the local server did not start)."
)

app = typer.Typer(
    help="Monitor South Caucasus news feeds for watched topics.\n\n" + EXIT_CODES_HELP,
    no_args_is_help=True,
    cls=Commands,
)
sources_app = typer.Typer(help="Check and inspect sources.yaml.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")
digest_app = typer.Typer(help="E-mail digests: list, send (or dry-run), history.", no_args_is_help=True)
app.add_typer(digest_app, name="digest")
alerts_app = typer.Typer(help="Immediate alerts to chat channels, webhooks and e-mail.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")
feedback_app = typer.Typer(help="Relevance feedback: not relevant, missed, list.", no_args_is_help=True)
app.add_typer(feedback_app, name="feedback")
topics_app = typer.Typer(help="Watched topics: test one against feedback and labelled examples; check and accept changes.",
                         no_args_is_help=True)
app.add_typer(topics_app, name="topics")
PIPED_WIDTH = 200


def _console(stderr: bool = False) -> Console:
    """A console for this invocation; piped output (no terminal, no COLUMNS) is not cut to 80 columns."""
    console = Console(stderr=stderr, soft_wrap=True, emoji=False)  # text is never read for :emoji: codes
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPED_WIDTH
    return console


err = _console(stderr=True)
out = _console()
verbosity = "normal"


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"newswatch {version('newswatch')}")
        raise typer.Exit()


@app.callback()
def _global_options(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="show only warnings and errors")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="also show every task run and debug lines")] = False,
    _: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")] = False,
) -> None:
    """Create the consoles per invocation, so that they see the current terminal (COLUMNS); set
    the verbosity, and Prefect's defaults before any command imports it."""
    global err, out, verbosity
    err = _console(stderr=True)
    out = _console()
    if quiet and verbose:
        raise typer.BadParameter("--quiet and --verbose exclude each other")
    verbosity = "quiet" if quiet else "verbose" if verbose else "normal"
    out.quiet = quiet
    configure_prefect()
    configure_plain_console(verbosity)  # commands that use Prefect replace it with Prefect's console


SourcesOpt = Annotated[
    Path | None,
    typer.Option("--sources", "-s", envvar="NEWSWATCH_SOURCES", help="sources file \\[default: ./sources.yaml]"),
]
DbOpt = Annotated[
    Path | None,
    typer.Option("--db", envvar="NEWSWATCH_DB", help="DuckDB file \\[default: settings.database]"),
]
def _hours(value: float | None) -> float | None:
    """``--hours`` within bounds (see :func:`newswatch.config.check_hours`); exit 2 otherwise."""
    from newswatch.config import check_hours

    try:
        return None if value is None else check_hours(value)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


HoursOpt = Annotated[
    float | None,
    typer.Option(help="report window in hours \\[default settings.report.window_hours]", callback=_hours),
]
OutOpt = Annotated[Path | None, typer.Option("--out", help="report folder \\[default settings.report.output_dir]")]


def _load(sources: Path | None, db: Path | None) -> tuple[Config, Path]:
    from newswatch.config import load_config, resolve_sources_path

    path = resolve_sources_path(sources)
    return load_config(path, db), path


@contextmanager
def _prefect_api(config: Config, meanwhile: Callable[[], object] = lambda: None) -> Iterator[None]:
    """Prefect for this command: the console's verbosity, and an API (PREFECT_API_URL, the local
    server of a running ``newswatch serve``, or a temporary one of its own, which starts while
    this process calls ``meanwhile``)."""
    from flows.prefect_api import command_api
    from newswatch.prefect_env import configure_console

    configure_console(verbosity)
    with command_api(config.prefect_home, meanwhile):
        yield


def _import_flows() -> None:
    import flows.ingest  # noqa: F401  (Prefect's client, the pipeline)
    import flows.report  # noqa: F401


def feeds_exit_code(failed: int, answered: int) -> int:
    """0 when no feed failed; EXIT_SOME_FEEDS when some did; EXIT_ALL_FEEDS when none answered."""
    if not failed:
        return 0
    return EXIT_SOME_FEEDS if answered else EXIT_ALL_FEEDS


def _run_flows(config: Config, sources: Path, ingest: bool, report: bool, hours: float | None, out_dir: Path | None) -> int:
    """Run the ingest and/or report flows; return the exit code that says how the feeds did."""
    database = str(config.settings.database)
    code = 0
    with _prefect_api(config, _import_flows):  # imported while a temporary Prefect API starts
        from flows.ingest import ingest_flow
        from flows.report import report_flow

        if ingest:
            stats = ingest_flow(sources=str(sources), database=database)
            code = feeds_exit_code(stats["feeds_failed"], stats["feeds_ok"] + stats["feeds_not_modified"])
            out.print(
                f"ingest: {stats['new_articles']} new articles, {stats['extracted']} extracted,"
                f" {stats['summary_only']} summary-only, {stats['feeds_failed']} feeds failed,"
                f" {stats['feeds_skipped']} skipped, {stats['matched_articles']} articles matched",
                highlight=False,
            )
            published = stats["published"]
            out.print(f"alerts: {published['alerts']}; {len(published['feeds'])} Atom feeds written", highlight=False)
        if report:
            result = report_flow(
                sources=str(sources), database=database, hours=hours,
                output_dir=str(out_dir) if out_dir else None,
            )
            _print_report(result["matches"], result["html"])
    return code


@app.command()
def run(sources: SourcesOpt = None, db: DbOpt = None, hours: HoursOpt = None, out_dir: OutOpt = None) -> None:
    """Ingest all feeds, then write the report (the main job); exit 4/5 if some/all feeds failed."""
    config, path = _load(sources, db)
    raise typer.Exit(_run_flows(config, path, ingest=True, report=True, hours=hours, out_dir=out_dir))


@app.command()
def ingest(sources: SourcesOpt = None, db: DbOpt = None) -> None:
    """Fetch feeds, extract, store and match new articles; exit 4/5 if some/all feeds failed."""
    config, path = _load(sources, db)
    raise typer.Exit(_run_flows(config, path, ingest=True, report=False, hours=None, out_dir=None))


@app.command()
def report(sources: SourcesOpt = None, db: DbOpt = None, hours: HoursOpt = None, out_dir: OutOpt = None) -> None:
    """Write the HTML and text report of recent matches (in this process, without Prefect)."""
    from newswatch.reports import report_recent

    config, _ = _load(sources, db)
    built, html_path, _ = report_recent(config, hours, out_dir)
    _print_report(built.item_count, html_path)


def _print_report(matches: int, html: object) -> None:
    out.print(f"report: {matches} matches -> {html}", highlight=False, markup=False)


@app.command()
def serve(sources: SourcesOpt = None, db: DbOpt = None) -> None:
    """Run ingest, report and digests on their cron schedules until stopped (SIGTERM or Ctrl-C).

    Without PREFECT_API_URL, starts and supervises a local Prefect server (scheduler, and the
    Prefect UI at settings.prefect.host:port; run history under settings.prefect.home).
    """
    from flows.serve import serve_forever
    from newswatch.prefect_env import configure_console

    config, path = _load(sources, db)
    configure_console(verbosity)
    serve_forever(config, path, db)


@sources_app.command("validate")
def sources_validate(sources: SourcesOpt = None) -> None:
    """Check sources.yaml and summarise it; exit 2 with file:line: field messages if invalid."""
    config, path = _load(sources, None)
    out.print(
        f"{path}: OK - {len(config.enabled_feeds)} enabled feeds"
        f" ({len(config.feeds)} in all), {len(config.topics)} topics, {len(config.digests)} digests",
        markup=False,
    )


@sources_app.command("list")
def sources_list(sources: SourcesOpt = None) -> None:
    """List the configured feeds."""
    config, _ = _load(sources, None)
    table = PlainTable("name", "language", "enabled", "url", "tags")
    for feed in config.feeds:
        table.add_row(feed.name, feed.language, "yes" if feed.enabled else "no", redact_url(feed.url), ", ".join(feed.tags))
    out.print(table)


@digest_app.command("list")
def digest_list(sources: SourcesOpt = None, db: DbOpt = None) -> None:
    """List digest subscriptions: schedule, next run, last message sent."""
    from flows import configured
    from storage.db import now

    table = PlainTable("name", "recipients", "topics", "schedule", "next run", "last sent", "unconfirmed")
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
    names: Annotated[list[str] | None, typer.Argument(help="digests to send \\[default: all]")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="write .eml/.html files instead; record nothing")] = False,
    outbox: Annotated[Path | None, typer.Option(help="folder for --dry-run files \\[default: settings.mail.outbox_dir]")] = None,
    sources: SourcesOpt = None,
    db: DbOpt = None,
) -> None:
    """Send digests now (what the ``digest`` flow does, in this process); exit 3 if a delivery failed."""
    config, _ = _load(sources, db)
    try:
        chosen = [config.digest(name) for name in names] if names else list(config.digests)
    except KeyError as error:
        err.print(labelled("", error.args[0]), highlight=False)
        raise typer.Exit(2) from None
    if not chosen:
        err.print("no digests configured (see README, Digests)")
        raise typer.Exit(2)
    dry_run_dir = (outbox or config.settings.mail.outbox_dir) if dry_run and config.settings.mail else None
    failed = False
    with _digest_sender(config, dry_run_dir) as send:
        for digest in chosen:
            try:
                result = send(digest.name)
            except DeliveryError as error:
                err.print(labelled(f"{digest.name}: delivery failed: ", error), highlight=False)
                failed = True
                continue
            files = f" -> {', '.join(result['files'])}" if result["files"] else ""
            out.print(f"{digest.name}: {result['status']}, {result['listed']} stories listed,"
                      f" {result['omitted']} not shown{files}", highlight=False, markup=False)
    if failed:
        raise typer.Exit(DeliveryError.exit_code)


@contextmanager
def _digest_sender(config: Config, dry_run_dir: Path | None) -> Iterator[Callable[[str], dict]]:
    """How to send one digest: the plain function the ``digest`` flow runs, in this process,
    without Prefect (unless the SMTP password is in a Prefect Secret block)."""
    from newswatch.publish import digest_and_feeds
    from storage.db import open_database

    smtp = config.settings.mail.smtp if config.settings.mail else None
    from_block = smtp is not None and dry_run_dir is None and _from_block(smtp.password_env, smtp.password_block)
    with _secrets_api(config, from_block), open_database(config.settings.database,
                                                         lock_timeout=config.settings.lock_timeout) as db:
        yield lambda name: asdict(digest_and_feeds(config, db, name, dry_run_dir))


@digest_app.command("history")
def digest_history(
    name: Annotated[str | None, typer.Argument(help="one digest \\[default: all]")] = None,
    limit: Annotated[int, typer.Option(help="messages shown")] = 20,
    sources: SourcesOpt = None,
    db: DbOpt = None,
) -> None:
    """Messages built for digests, newest first: status, Message-ID, counts, errors."""
    from flows import configured

    table = PlainTable("id", "digest", "status", "created", "stories", "not shown", "Message-ID", "error")
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
    table = PlainTable("feed", "state", "failures", "last success", "last error", "next fetch")
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
    from storage.db import open_database

    config, path = _load(sources, db)
    if name not in {feed.name for feed in config.feeds}:
        known = ", ".join(feed.name for feed in config.feeds)
        raise typer.BadParameter(f"no feed named {plain(name)!r} in {path}; its feeds: {known}", param_hint="NAME")
    with open_database(config.settings.database, lock_timeout=config.settings.lock_timeout) as database:
        found = database.reset_feed_health(name)
    message = "health reset; the next run fetches it" if found else "never fetched yet; nothing to reset"
    out.print(f"{name}: {message}", markup=False)


@app.command()
def export(
    out_file: Annotated[Path, typer.Option("--out", help="file to write (.csv, .jsonl, .parquet)")],
    fmt: Annotated[str | None, typer.Option("--format", help="csv, jsonl or parquet \\[default: from --out]")] = None,
    since: Annotated[datetime | None, typer.Option(help="window start (ISO date/time, UTC unless given)")] = None,
    until: Annotated[datetime | None, typer.Option(help="window end \\[default: now]")] = None,
    hours: Annotated[float | None, typer.Option(help="the last N hours (instead of --since)", callback=_hours)] = None,
    topic: Annotated[list[str] | None, typer.Option(help="only this topic (repeatable)")] = None,
    sources: SourcesOpt = None,
    db: DbOpt = None,
) -> None:
    """Export the matches and stories of a window to CSV, JSON Lines or Parquet."""
    from flows import configured
    from newswatch.export import export_matches, format_for
    from newswatch.text import format_time

    config, _ = _load(sources, db)
    try:
        chosen = format_for(out_file, fmt)
        start, end = _export_window(since, until, hours, config.settings.report.window_hours)
        config_topics = {t.name for t in config.topics}
        if unknown := [name for name in topic or () if name not in config_topics]:
            raise ValueError(f"unknown topic(s) {', '.join(unknown)} (known: {', '.join(sorted(config_topics))})")
    except ValueError as error:
        err.print(labelled("", error), highlight=False)
        raise typer.Exit(2) from None
    with configured(sources, db) as (config, database):
        count = export_matches(database, start, end, out_file, chosen, topic or ())
    out.print(f"export: {count} matches from {format_time(start)} to {format_time(end)} -> {out_file} ({chosen})",
              highlight=False, markup=False)


def _export_window(
    since: datetime | None, until: datetime | None, hours: float | None, default_hours: float
) -> tuple[datetime, datetime]:
    """[start, end) from --since/--until/--hours (naive times are UTC)."""
    from storage.db import now

    if since is not None and hours is not None:
        raise ValueError("give --since or --hours, not both")
    end = _utc(until) if until else now()
    start = _utc(since) if since else end - timedelta(hours=hours or default_hours)
    if start >= end:
        raise ValueError(f"the window is empty: {start:%Y-%m-%d %H:%M} is not before {end:%Y-%m-%d %H:%M}")
    return start, end


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@alerts_app.command("send")
def alerts_send(sources: SourcesOpt = None, db: DbOpt = None) -> None:
    """Send due alerts now (what the ingest flow does at its end); exit 3 if a channel failed."""
    from flows import configured
    from newswatch.alerts import run_alerts

    config, _ = _load(sources, db)
    with _secrets_api(config, _channels_from_blocks(config)), configured(sources, db) as (config, database):
        run = run_alerts(config, database)
    for outcome in run.outcomes:
        line = Text(plain(f"{outcome.alert} -> {outcome.channel}: {outcome.stories} stories, {outcome.spikes} spikes,"
                          f" {outcome.redelivered} re-sent;"))
        line.append(" ")  # plain() trims the end of its text
        line.append_text(labelled("failed: ", outcome.error) if outcome.error else Text("ok"))
        out.print(line, highlight=False)
    if run.failed:
        raise typer.Exit(DeliveryError.exit_code)


@alerts_app.command("test")
def alerts_test(channel: Annotated[str, typer.Argument(help="channel name")], sources: SourcesOpt = None) -> None:
    """Send a test message to a channel (nothing is recorded); exit 3 if it fails."""
    from newswatch.channels import AlertText, open_channel
    from newswatch.mail import Outcome
    from storage.db import now

    config, _ = _load(sources, None)
    found = [c for c in config.channels if c.name == channel]
    if not found:
        err.print(f"no channel named {channel!r} (known: {', '.join(c.name for c in config.channels) or 'none'})",
                  highlight=False, markup=False)
        raise typer.Exit(2)
    with _secrets_api(config, _channels_from_blocks(config)):
        opened = open_channel(found[0], config.settings.mail)  # MissingSecret: exit 3
    text = AlertText("[newswatch] test", f"Test message from newswatch to channel {channel}.")
    message_id = opened.new_message_id("test")
    delivery = opened.deliver(opened.encode(text, message_id, now()), message_id)
    if delivery.outcome is not Outcome.SENT:
        raise DeliveryError(f"channel {channel}: {delivery.detail}")
    out.print(f"{channel}: test message delivered", markup=False)


def _from_block(env: str | None, block: str | None) -> bool:
    """Whether a secret is read from a Prefect Secret block (its environment variable, which
    comes first, is not set)."""
    return bool(block) and not (env and os.environ.get(env))


def _channels_from_blocks(config: Config) -> bool:
    return any(_from_block(channel.url_env, channel.url_block) for channel in config.channels)


@contextmanager
def _secrets_api(config: Config, needed: bool) -> Iterator[None]:
    """The Prefect API (as for flows) when ``needed``: a secret is in a Prefect Secret block,
    read where ``serve`` and the flows read it; otherwise nothing (Prefect is not imported)."""
    if needed:
        with _prefect_api(config):
            yield
    else:
        yield


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
    topic: Annotated[str | None, typer.Argument(help="one topic \\[default: all]")] = None,
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
    table = PlainTable("when", "kind", "topic", "article", "note", "state")
    for item, state in items:
        table.add_row(format_time(item.created_at), item.kind.replace("_", " "), item.topic,
                      item.url or item.article_id, item.note, state)
    out.print(table)


LabelledOpt = Annotated[Path | None, typer.Option(help="also a labelled YAML file (id, lang, title, body, topics)")]


def _examples(database: Database | None, path: Path, topic: str, labelled: Path | None) -> list:
    """The analysts' verdicts on ``topic`` (stored and queued) and the labelled examples."""
    from newswatch.feedback import queued
    from newswatch.topic_changes import feedback_of
    from newswatch.topic_eval import labelled_examples

    found = feedback_of(database, topic, [f for f in queued(path) if f.topic == topic]) if database else []
    return found + (labelled_examples(labelled, topic) if labelled else [])


@contextmanager
def _reader_if_any(path: Path) -> Iterator[Database | None]:
    """The database read-only (or its snapshot), or None when there is none yet."""
    from storage.db import open_reader

    if not path.exists():
        yield None
        return
    with open_reader(path) as (database, _fresh):
        yield database


def _say(text: str) -> None:
    out.print(text, highlight=False, markup=False)


def _print_verdict(kind: str, verdict) -> None:
    _say(f"\n{kind}: {verdict.example.title} [{verdict.example.ref}, {verdict.example.source}]")
    for name, held in verdict.clauses:
        _say(f"  {'held  ' if held else 'FAILED'}  {name}")


@topics_app.command("test")
def topics_test(topic: TopicArg, labelled: LabelledOpt = None, sources: SourcesOpt = None, db: DbOpt = None) -> None:
    """Precision and recall of the topic as configured now, on all feedback (and --labelled
    examples); for each miss and false alarm, which clauses of its query held."""
    from newswatch.topic_eval import evaluate_topic

    config, _ = _load(sources, db)
    with _reader_if_any(config.settings.database) as database:
        examples = _examples(database, config.settings.database, topic, labelled)
    result = evaluate_topic(config, topic, examples)
    should = sum(1 for v in result.verdicts if v.example.expected)
    _say(f"{topic}: {len(examples)} examples ({should} should match): precision {result.precision:.3f},"
         f" recall {result.recall:.3f}")
    for verdict in (v for v in result.verdicts if v.wrong):
        _print_verdict("missed" if verdict.example.expected else "false alarm", verdict)


@topics_app.command("check")
def topics_check(
    topic: Annotated[list[str] | None, typer.Argument(help="topic names \\[default: all]")] = None,
    labelled: LabelledOpt = None, sources: SourcesOpt = None, db: DbOpt = None,
) -> None:
    """Compare each topic changed in sources.yaml since its last accepted version with that
    version, on all feedback (and --labelled examples): precision and recall before -> after,
    and the examples that flip. Exit 2 when a change gets analysts' verdicts wrong that the
    accepted version had right (ingest refuses it until `topics accept`)."""
    from newswatch.errors import TopicChangeRefused
    from newswatch.text import format_time
    from newswatch.topic_changes import compare, describe_refusal
    from newswatch.topic_eval import configured_topic

    config, _ = _load(sources, db)
    names = topic or [t.name for t in config.topics]
    refused = []
    with _reader_if_any(config.settings.database) as database:
        accepted = database.topic_versions() if database else {}
        for name in names:
            change = compare(config, configured_topic(config, name), accepted.get(name),
                             _examples(database, config.settings.database, name, labelled))
            after = change.after
            if change.accepted is None:
                _say(f"{name}: no version accepted yet (the next ingest accepts it); on {len(after.verdicts)}"
                     f" examples: precision {after.precision:.3f}, recall {after.recall:.3f}")
                continue
            when = f"{format_time(change.accepted.accepted_at)} ({change.accepted.how})"
            if not change.changed:
                _say(f"{name}: unchanged since the version accepted {when}")
                continue
            before = change.before
            _say(f"{name}: changed since the version accepted {when}; on {len(after.verdicts)} examples:"
                 f" precision {before.precision:.3f} -> {after.precision:.3f},"
                 f" recall {before.recall:.3f} -> {after.recall:.3f}; {len(change.flips)} flip,"
                 f" {len(change.regressions)} from right to wrong")
            for flip in change.flips:
                now_matched = "now matched" if flip.after.matched else "now missed"
                _print_verdict(f"{'WRONG' if flip.regression else 'right'} ({now_matched})", flip.after)
            if change.regressions:
                refused.append(change)
    if refused:
        raise TopicChangeRefused([describe_refusal(change) for change in refused])


@topics_app.command("accept")
def topics_accept(
    topic: Annotated[list[str], typer.Argument(help="topic names")],
    note: NoteOpt = "", sources: SourcesOpt = None, db: DbOpt = None,
) -> None:
    """Accept the topics as they are now in sources.yaml, whatever verdicts they change: the
    next ingest re-matches the archive with them."""
    from newswatch.topic_changes import BY_OPERATOR, version_of
    from newswatch.topic_eval import configured_topic
    from storage.db import open_database

    config, _ = _load(sources, db)
    versions = [version_of(configured_topic(config, name), config.entities, BY_OPERATOR, note) for name in topic]
    with open_database(config.settings.database) as database:
        database.accept_topic_versions(versions)
    for version in versions:
        _say(f"accepted: {version.topic} (version {version.fingerprint})")


def main() -> None:
    """Entry point of the ``newswatch`` command."""
    app()
