"""Child processes that never outlive their parent, even when it is killed with ``kill -9``.

Linux delivers a chosen signal to a process when the thread that forked it ends
(``PR_SET_PDEATHSIG``). newswatch asks for it in the processes it starts: the local Prefect
server and the flow-run processes of ``newswatch serve`` (elsewhere than Linux this is a
no-op). Parser processes, whose parent is multiprocessing's forkserver, watch the process that
uses them instead (:func:`exit_with`).
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
ENV_FLAG = "NEWSWATCH_DIE_WITH_PARENT"
"""Set by ``newswatch serve`` to its process id, for the flow-run processes Prefect starts for it."""


def die_with_parent(sig: int = signal.SIGTERM, parent: int | None = None) -> bool:
    """Have this process receive ``sig`` when its parent dies; False where unsupported.

    ``parent`` is the process id the parent is expected to have (default: the current one);
    if the parent is already gone, the signal is sent at once.
    """
    if _LIBC is None:
        return False
    parent = parent or os.getppid()
    if _LIBC.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), sig)
    return True


def die_with_parent_if_asked() -> None:
    """:func:`die_with_parent` when the environment asks for it (``NEWSWATCH_DIE_WITH_PARENT``)."""
    parent = os.environ.get(ENV_FLAG, "")
    if parent.isdigit():
        die_with_parent(parent=int(parent))


def exit_with(pid: int) -> None:
    """End this process as soon as process ``pid`` (not necessarily its parent) ends.

    For the parser processes: their parent is multiprocessing's forkserver, which itself lives
    as long as any of them, so they watch the process that uses them. A daemon thread waits on a
    pidfd (no polling); where there is none, it checks once a second.
    """
    def watch() -> None:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            os._exit(1)
        except (AttributeError, OSError):
            while _running(pid):
                time.sleep(1.0)
            os._exit(1)
        select.select([fd], [], [])
        os._exit(1)

    threading.Thread(target=watch, name=f"exit-with-{pid}", daemon=True).start()


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists (owned by this user or not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
