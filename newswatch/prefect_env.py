"""Defaults for Prefect, applied before it is imported: quiet, private, local."""

from __future__ import annotations

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
