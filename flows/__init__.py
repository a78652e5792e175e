"""Prefect flows over the plain pipeline functions in :mod:`newswatch.pipeline`.

Importing this package changes nothing. Prefect reads its settings when it is imported, so an
entry point that runs flows in its own process calls
:func:`newswatch.prefect_env.configure_prefect` before importing a flow module (the CLI does);
every flow body calls :func:`configure_logging` first, which also covers runs on a worker.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from newswatch.config import Config, load_config
from newswatch.errors import TransientFeedError
from newswatch.lifeline import die_with_parent_if_asked
from newswatch.prefect_env import configure_console
from storage.db import Database, open_database


class _NoTracebackForFeedErrors(logging.Filter):
    """A feed that is down is an expected event: log one line, not a Python traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], TransientFeedError):
            record.exc_info = None
            record.exc_text = None
        return True


def configure_logging() -> None:
    """Called first in every flow body (idempotent): the console verbosity of the command or
    ``serve`` that started the run (:func:`~newswatch.prefect_env.configure_console`), feed
    failures as one line without a traceback, and, in a run that ``serve`` started, a process
    that dies with it."""
    die_with_parent_if_asked()
    configure_console()
    task_runs = logging.getLogger("prefect.task_runs")
    if not any(isinstance(f, _NoTracebackForFeedErrors) for f in task_runs.filters):
        task_runs.addFilter(_NoTracebackForFeedErrors())


@contextmanager
def configured(sources: str | Path | None, database: str | Path | None) -> Iterator[tuple[Config, Database]]:
    """Load the configuration (``database`` overrides its path) and open its database for writing."""
    config = load_config(Path(sources) if sources else None, Path(database) if database else None)
    with open_database(config.settings.database, lock_timeout=config.settings.lock_timeout) as db:
        yield config, db
