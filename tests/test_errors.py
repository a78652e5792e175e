"""One error family: every error has an exit code and a one-line summary, documented, and the
command line turns each into that exit code and one line instead of a traceback."""

from __future__ import annotations

import inspect

import pytest
import typer
from conftest import REPO, Article, sample_articles, write_sources
from typer.testing import CliRunner

from newswatch import errors
from newswatch.cli import Commands, app
from newswatch.config import load_config
from newswatch.models import FeedFetch
from newswatch.pipeline import ingest
from storage.db import open_database

PUBLIC = [
    cls for name, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, errors.NewswatchError) and not name.startswith("_")
]
# An instance of each class whose constructor is not (message); the others get a two-line message.
EXAMPLES = {
    errors.ConfigError: errors.ConfigError(["sources.yaml:3: feeds: the list is empty", "sources.yaml:9: topics: x"]),
    errors.QuerySyntaxError: errors.QuerySyntaxError("unexpected ')'", 1, 5),
    errors.TransientFeedError: errors.TransientFeedError(FeedFetch("Daily", "https://example.org/rss", 503, error="HTTP 503")),
}


def example(cls: type[errors.NewswatchError]) -> errors.NewswatchError:
    return EXAMPLES.get(cls) or cls("first line\nsecond line")


def test_every_error_has_the_common_base_an_exit_code_and_a_one_line_summary():
    assert {cls.__name__ for cls in PUBLIC} >= {
        "NewswatchError", "ConfigError", "QuerySyntaxError", "TopicError", "StorageError", "ClusterParamsError",
        "FetchError", "BlockedAddress", "TransientFeedError", "DeliveryError", "SemanticUnavailable",
    }
    for cls in PUBLIC:
        assert issubclass(cls, errors.NewswatchError)
        assert isinstance(cls.exit_code, int) and 1 <= cls.exit_code <= 125, cls
        assert cls.summary.strip() and "\n" not in cls.summary, cls
        assert cls.__name__ in (errors.__doc__ or ""), f"{cls.__name__} missing from the hierarchy in errors.py"


def test_readme_exit_code_table_names_every_error():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| exit code |"):]
    table = table[: table.index("\n\n")]
    rows = {int(row.split("|")[1].strip().strip("`")): row for row in table.splitlines()[2:]}
    for cls in PUBLIC:
        assert f"`{cls.__name__}`" in rows[cls.exit_code], f"{cls.__name__} (exit {cls.exit_code}) not in its row"


@pytest.mark.parametrize("cls", PUBLIC, ids=lambda cls: cls.__name__)
def test_cli_ends_a_command_with_the_exit_code_and_one_line(cls):
    error = example(cls)
    scratch = typer.Typer(cls=Commands)

    @scratch.command()
    def fail() -> None:
        raise error

    @scratch.command()
    def other() -> None:
        """A second command, so that ``fail`` is a subcommand as in newswatch."""

    result = CliRunner().invoke(scratch, ["fail"])
    assert result.exit_code == cls.exit_code
    assert isinstance(result.exception, SystemExit)  # not the error: no traceback
    lines = result.stderr.splitlines()
    if isinstance(error, errors.ConfigError):  # a header, then one line per problem
        assert lines == [f"{cls.summary} ({len(error.problems)} problem(s)):",
                         *(f"  {' '.join(p.split())}" for p in error.problems)]
    else:
        assert lines == [f"{cls.summary}: {' '.join(str(error).split())}"]


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_server")
def test_changed_cluster_settings_end_ingest_with_one_line_not_a_traceback(site, tmp_path):
    feeds = [{"name": "Daily", "url": site.add_feed("/rss.xml", sample_articles()), "language": "en"}]
    config = load_config(write_sources(tmp_path, feeds))
    with open_database(config.settings.database) as db:
        ingest(config, db)  # stores clusters with the default shingle_words=3
    changed = write_sources(tmp_path, feeds, clusters={"shingle_words": 5})
    site.add_feed("/rss.xml", [*sample_articles(), Article("later", "A later story", "It happened later.\n" * 12)])
    result = CliRunner().invoke(app, ["ingest", "--sources", str(changed)])
    assert result.exit_code == errors.ClusterParamsError.exit_code
    assert isinstance(result.exception, SystemExit)
    assert "Story clusters do not fit the settings: stored clusters use shingle_words=3, configured 5" in result.stderr
