"""Child processes that never outlive their parent, even when it is killed with ``kill -9``.

Linux delivers a chosen signal to a process when the thread that forked it ends
(``PR_SET_PDEATHSIG``). newswatch asks for it in every process it starts: the local Prefect
server, the page-parser workers and the flow-run processes of ``newswatch serve``. Elsewhere
(macOS, Windows) this is a no-op and processes are stopped only by an orderly shutdown.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
ENV_FLAG = "NEWSWATCH_DIE_WITH_PARENT"
"""Set by ``newswatch serve`` for the flow-run processes that Prefect starts for it."""


def die_with_parent(sig: int = signal.SIGTERM) -> bool:
    """Have this process receive ``sig`` when its parent dies; False where unsupported.

    Safe in a ``preexec_fn`` (between fork and exec) and at any later point; if the parent
    is already gone, the signal is sent at once.
    """
    if _LIBC is None:
        return False
    parent = os.getppid()
    if _LIBC.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), sig)
    return True


def die_with_parent_if_asked() -> None:
    """:func:`die_with_parent` when the environment asks for it (``NEWSWATCH_DIE_WITH_PARENT``)."""
    if os.environ.get(ENV_FLAG) == "1":
        die_with_parent()
