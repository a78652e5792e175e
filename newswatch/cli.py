"""The ``newswatch`` command line."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from newswatch.config import Config, ConfigError, load_config, resolve_sources_path
from newswatch.health import next_fetch
from newswatch.health import state as health_state
from newswatch.models import FeedHealth
from newswatch.render import format_time
from storage.db import Database, StorageError, now, open_database

EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 storage error (database locked, unwritable, disk full); 2 invalid"
    " configuration or usage; 3 a digest could not be delivered; 4 some feeds failed (the rest"
    " was stored); 5 every feed failed; 6 no Prefect API (local server did not start)."
)
EXIT_STORAGE, EXIT_CONFIG, EXIT_DELIVERY, EXIT_SOME_FEEDS, EXIT_ALL_FEEDS, EXIT_PREFECT = 1, 2, 3, 4, 5, 6

app = typer.Typer(
    help="Monitor South Caucasus news feeds for watched topics.\n\n" + EXIT_CODES_HELP,
    no_args_is_help=True,
)
sources_app = typer.Typer(help="Check and inspect sources.yaml.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")
digest_app = typer.Typer(help="E-mail digests: list, send (or dry-run), history.", no_args_is_help=True)
app.add_typer(digest_app, name="digest")
PIPED_WIDTH = 200


def _console(stderr: bool = False) -> Console:
    """A console for this invocation; piped output (no terminal, no COLUMNS) is not cut to 80 columns."""
    console = Console(stderr=stderr, soft_wrap=True)
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
    """Create the consoles per invocation (so that they see the current terminal) and set verbosity."""
    global err, out, verbosity
    err = _console(stderr=True)
    out = _console()
    if quiet and verbose:
        raise typer.BadParameter("--quiet and --verbose exclude each other")
    verbosity = "quiet" if quiet else "verbose" if verbose else "normal"
    if quiet:
        out.quiet = True


SourcesOpt = Annotated[
    Path | None,
    typer.Option("--sources", "-s", envvar="NEWSWATCH_SOURCES", help="sources file [default: ./sources.yaml]"),
]
DbOpt = Annotated[
    Path | None,
    typer.Option("--db", envvar="NEWSWATCH_DB", help="DuckDB file [default: settings.database]"),
]
HoursOpt = Annotated[float | None, typer.Option(help="report window in hours [default settings.report.window_hours]")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="report folder [default settings.report.output_dir]")]


def _load(sources: Path | None, db: Path | None) -> tuple[Config, Path]:
    path = resolve_sources_path(sources)
    try:
        return load_config(path, db), path
    except ConfigError as error:
        err.print(f"[bold red]Invalid configuration[/] ({len(error.problems)} problem(s)):", highlight=False)
        for problem in error.problems:
            err.print(f"  {problem}", highlight=False, markup=False)
        raise typer.Exit(EXIT_CONFIG) from None


@contextmanager
def _prefect_api(config: Config) -> Iterator[None]:
    """Prefect for this command: quiet console, and an API (PREFECT_API_URL, the server of a
    running ``newswatch serve``, or a temporary local one)."""
    from newswatch.prefect_env import configure_logging, configure_prefect

    configure_prefect()
    from flows.prefect_api import PrefectServerError, command_api

    configure_logging(verbosity)
    try:
        with command_api(config.prefect_home):
            yield
    except PrefectServerError as error:
        err.print(f"[bold red]Prefect API unavailable:[/] {escape(str(error))}", highlight=False)
        raise typer.Exit(EXIT_PREFECT) from None


def _run_flows(config: Config, sources: Path, ingest: bool, report: bool, hours: float | None, out_dir: Path | None) -> int:
    """Run the ingest and/or report flows; the exit code that says how the feeds did."""
    database = str(config.settings.database)
    code = 0
    try:
        with _prefect_api(config):
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
            if report:
                result = report_flow(
                    sources=str(sources), database=database, hours=hours,
                    output_dir=str(out_dir) if out_dir else None,
                )
                out.print(f"report: {result['matches']} matches -> {result['html']}", highlight=False, markup=False)
    except StorageError as error:
        _storage_failed(error)
    return code


def feeds_exit_code(failed: int, answered: int) -> int:
    """0 when no feed failed, EXIT_SOME_FEEDS when some did, EXIT_ALL_FEEDS when none answered."""
    if not failed:
        return 0
    return EXIT_SOME_FEEDS if answered else EXIT_ALL_FEEDS


def _storage_failed(error: StorageError) -> NoReturn:
    err.print(f"[bold red]Storage error:[/] {error}", highlight=False)
    raise typer.Exit(EXIT_STORAGE) from None


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
    """Write the HTML and text report of recent matches."""
    config, path = _load(sources, db)
    _run_flows(config, path, ingest=False, report=True, hours=hours, out_dir=out_dir)


@app.command()
def serve(sources: SourcesOpt = None, db: DbOpt = None) -> None:
    """Run ingest, report and digests on their cron schedules until stopped (SIGTERM or Ctrl-C).

    Without PREFECT_API_URL, starts a local Prefect server (scheduler, UI at
    settings.prefect.host:port, history under settings.prefect.home) and supervises it.
    """
    config, path = _load(sources, db)
    from newswatch.prefect_env import configure_logging, configure_prefect

    configure_prefect()
    configure_logging(verbosity)
    from flows.prefect_api import PrefectServerError
    from flows.serve import serve_forever

    try:
        serve_forever(config, path, db)
    except PrefectServerError as error:
        err.print(f"[bold red]Prefect API unavailable:[/] {escape(str(error))}", highlight=False)
        raise typer.Exit(EXIT_PREFECT) from None


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
    from storage import digests as ledger

    config, _ = _load(sources, db)
    table = Table("name", "recipients", "topics", "schedule", "next run", "last sent", "unconfirmed")
    with _open_db(config) as database:
        for digest in config.digests:
            sent = ledger.last_sent(database, digest.name)
            table.add_row(
                digest.name, "\n".join(digest.recipients), ", ".join(digest.topics),
                f"{digest.schedule.cron_expression} ({digest.schedule.timezone})",
                f"{digest.schedule.next_run(now()):%Y-%m-%d %H:%M %Z}",
                f"{sent.sent_at:%Y-%m-%d %H:%M UTC} ({sent.listed} stories)" if sent else "never",
                str(len(ledger.unconfirmed(database, digest.name))),
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
    from newswatch.mail import DeliveryError

    config, path = _load(sources, db)
    try:
        chosen = [config.digest(name) for name in names] if names else list(config.digests)
    except KeyError as error:
        err.print(f"[bold red]{error.args[0]}[/]", highlight=False)
        raise typer.Exit(EXIT_CONFIG) from None
    if not chosen:
        err.print("no digests configured (see README, Digests)")
        raise typer.Exit(EXIT_CONFIG)
    dry_run_dir = (outbox or config.settings.mail.outbox_dir) if dry_run and config.settings.mail else None
    failed = False
    with _digest_runner(config, path, dry_run_dir) as send:
        for digest in chosen:
            try:
                result = send(digest.name)
            except DeliveryError as error:
                err.print(f"[bold red]{escape(digest.name)}: delivery failed:[/] {escape(str(error))}", highlight=False)
                failed = True
                continue
            except StorageError as error:
                _storage_failed(error)
            files = f" -> {', '.join(result['files'])}" if result["files"] else ""
            out.print(f"{digest.name}: {result['status']}, {result['listed']} stories listed,"
                      f" {result['omitted']} not shown{files}", highlight=False, markup=False)
    if failed:
        raise typer.Exit(EXIT_DELIVERY)


@contextmanager
def _digest_runner(config: Config, path: Path, dry_run_dir: Path | None) -> Iterator[Callable[[str], dict]]:
    """How to send one digest: a ``digest`` flow run (recorded in Prefect), or for a dry run,
    which records nothing, the plain function without Prefect."""
    if dry_run_dir is not None:
        from dataclasses import asdict

        from newswatch.digest import send_digest

        yield lambda name: asdict(send_digest(config, name, dry_run_dir))
        return
    with _prefect_api(config):
        from flows.digest import digest_flow

        yield lambda name: digest_flow(digest=name, sources=str(path), database=str(config.settings.database))


@digest_app.command("history")
def digest_history(
    name: Annotated[str | None, typer.Argument(help="one digest [default: all]")] = None,
    limit: Annotated[int, typer.Option(help="messages shown")] = 20,
    sources: SourcesOpt = None,
    db: DbOpt = None,
) -> None:
    """Messages built for digests, newest first: status, Message-ID, counts, errors."""
    from storage import digests as ledger

    config, _ = _load(sources, db)
    table = Table("id", "digest", "status", "created", "stories", "not shown", "Message-ID", "error")
    with _open_db(config) as database:
        for record in ledger.history(database, name, limit):
            table.add_row(
                str(record.id), record.digest, record.status, f"{record.created_at:%Y-%m-%d %H:%M}",
                str(record.listed), str(record.omitted), record.message_id, record.error or "",
            )
    out.print(table)


@contextmanager
def _open_db(config: Config) -> Iterator[Database]:
    try:
        with open_database(config.settings.database, lock_timeout=config.settings.lock_timeout) as database:
            yield database
    except StorageError as error:
        _storage_failed(error)


@sources_app.command("status")
def sources_status(sources: SourcesOpt = None, db: DbOpt = None) -> None:
    """Health of every feed: state, failures in a row, last success, last error, next fetch."""
    config, _ = _load(sources, db)
    path = config.settings.database
    known: dict[str, FeedHealth] = {}
    if path.exists():
        try:
            with open_database(path, read_only=True) as database:
                known = database.feed_health()
        except StorageError as error:
            _storage_failed(error)
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
    config, _ = _load(sources, db)
    with _open_db(config) as database:
        found = database.reset_feed_health(name)
    if not found:
        err.print(f"no feed named {name!r} in {config.settings.database}", highlight=False, markup=False)
        raise typer.Exit(1)
    out.print(f"{name}: health reset; the next run fetches it")


def main() -> None:
    """Entry point of the ``newswatch`` command."""
    app()
