"""Prefect flows over the plain pipeline functions in :mod:`newswatch.pipeline`."""

import logging

from newswatch.prefect_env import configure_prefect

configure_prefect()
# newswatch's run summaries and per-feed notes are INFO: without a level of its own the
# logger inherits the root's WARNING, and they never reach the console or the flow-run logs
if logging.getLogger("newswatch").level == logging.NOTSET:
    logging.getLogger("newswatch").setLevel(logging.INFO)
