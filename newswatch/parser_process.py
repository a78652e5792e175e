"""What the parse pool's forkserver imports before it forks workers (:mod:`newswatch.parse_pool`).

The parsers (:mod:`newswatch.pages`, :mod:`newswatch.feeds`), so that every worker starts warm,
and nothing else: a worker forked from this server does not re-run the main module of the
process that owns the pool, as :mod:`multiprocessing` otherwise does in every new process
(``__mp_main__``). Workers run module-level parse functions only, never code from that main
module, which is ``prefect.engine`` in a flow run started by ``serve`` or a worker, and the
``newswatch`` command line otherwise: without this each parser would import Prefect or the CLI.
Import this module only in that forkserver.
"""

from __future__ import annotations

from multiprocessing import spawn

import newswatch.feeds  # noqa: F401  (preloaded: the parsers)
import newswatch.pages  # noqa: F401

MAIN_KEYS = ("init_main_from_name", "init_main_from_path")
_prepare = spawn.prepare


def _prepare_without_main(data: dict) -> None:
    """:func:`multiprocessing.spawn.prepare` without importing the parent's main module."""
    _prepare({key: value for key, value in data.items() if key not in MAIN_KEYS})


spawn.prepare = _prepare_without_main
