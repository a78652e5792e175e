"""Defaults for Prefect, applied before it is imported: quiet, private, local."""

from __future__ import annotations

import logging
import os

PREFECT_DEFAULTS = {
    # no usage analytics from the embedded server
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    # our own loggers show up in flow-run logs
    "PREFECT_LOGGING_EXTRA_LOGGERS": "newswatch",
    # plain (non-flow) use of the pipeline in the same process must not warn
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
    # flow-run results are small summaries; no need to persist them
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
    # a first start (fresh PREFECT_HOME: database migrations) on a busy machine takes > 20 s
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}


def configure_prefect() -> None:
    """Set Prefect defaults unless the environment already sets them."""
    for key, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(key, value)


VERBOSITY_ENV = "NEWSWATCH_VERBOSITY"
VERBOSITIES = ("quiet", "normal", "verbose")
UI_ENV = "NEWSWATCH_PREFECT_UI"
"""Set to 1 where the Prefect API in use has a UI (a server, not a command's temporary API)."""
_LEVELS = {"quiet": logging.WARNING, "normal": logging.INFO, "verbose": logging.DEBUG}


class _ConsoleFilter(logging.Filter):
    """What the console shows of Prefect's and newswatch's log records, per verbosity.

    * quiet: warnings and errors only;
    * normal: also flow-run starts and ends and newswatch's summaries, but not one line per
      task run (one per feed and batch), which the Prefect UI keeps;
    * verbose: everything, debug included.

    A feed that fails is always one line of newswatch's own (``feed X failed: ...``): Prefect's
    lines about its retries are left to the flow-run logs.
    """

    def __init__(self, verbosity: str):
        super().__init__()
        self.verbosity = verbosity

    def filter(self, record: logging.LogRecord) -> bool:
        if self.verbosity != "verbose" and (_about_feed_retry(record) or _dead_link(record)):
            return False
        if self.verbosity == "quiet":
            return record.levelno >= logging.WARNING
        if self.verbosity == "normal" and record.name.startswith("prefect.task_runs"):
            return record.levelno >= logging.WARNING
        return True


def _about_feed_retry(record: logging.LogRecord) -> bool:
    exc = record.exc_info[1] if record.exc_info else None
    return type(exc).__name__ == "TransientFeedError" or "TransientFeedError" in str(record.msg)


def _dead_link(record: logging.LogRecord) -> bool:
    """Prefect's "View at <UI>" line when the API has no UI (a command's temporary server), and
    its "Downloading flow code from storage at '.'" (served flows are local code)."""
    message = str(record.msg)
    return message.startswith("Downloading flow code from storage at '.'") or (
        os.environ.get(UI_ENV) != "1" and message.startswith("View at ")
    )


def configure_console(verbosity: str | None = None) -> str:
    """Set how much the console shows (``quiet``, ``normal``, ``verbose``; default: the
    environment's ``NEWSWATCH_VERBOSITY`` or normal), here and in flow-run processes started
    from here; return the verbosity in force. Imports Prefect's logging setup."""
    from prefect.logging.configuration import ensure_logging_setup
    from prefect.logging.handlers import PrefectConsoleHandler

    verbosity = verbosity or os.environ.get(VERBOSITY_ENV) or "normal"
    if verbosity not in VERBOSITIES:
        verbosity = "normal"
    os.environ[VERBOSITY_ENV] = verbosity
    ensure_logging_setup()
    for handler in [h for h in logging.getLogger("newswatch").handlers if isinstance(h, _PlainConsoleHandler)]:
        logging.getLogger("newswatch").removeHandler(handler)  # Prefect's console handler replaces it
    # without a level of its own the logger inherits the root's WARNING: no run summaries
    logging.getLogger("newswatch").setLevel(_LEVELS[verbosity])
    for name in ("", "prefect", "newswatch", *logging.root.manager.loggerDict):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, PrefectConsoleHandler):
                for old in [f for f in handler.filters if isinstance(f, _ConsoleFilter)]:
                    handler.removeFilter(old)
                handler.addFilter(_ConsoleFilter(verbosity))
    return verbosity



class _PlainConsoleHandler(logging.StreamHandler):
    """newswatch's log lines on stderr for commands that run without Prefect."""


def configure_plain_console(verbosity: str) -> None:
    """Show newswatch's warnings (and with ``verbose`` its debug lines) on stderr, formatted as
    Prefect's console shows them, for a command that does not import Prefect. Its own output
    already says what it did, so ``normal`` adds no info lines."""
    logger = logging.getLogger("newswatch")
    for old in [h for h in logger.handlers if isinstance(h, _PlainConsoleHandler)]:
        logger.removeHandler(old)
    handler = _PlainConsoleHandler()  # stderr
    handler.setFormatter(logging.Formatter(
        "%(asctime)s.%(msecs)03d | %(levelname)-7s | %(name)s - %(message)s", datefmt="%H:%M:%S"))
    handler.setLevel(logging.DEBUG if verbosity == "verbose" else logging.WARNING)
    logger.addHandler(handler)
    if verbosity == "verbose":
        logger.setLevel(logging.DEBUG)
