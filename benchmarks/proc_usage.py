"""Run a command and measure its whole process tree: wall time, CPU time, summed peak RSS.

    python benchmarks/proc_usage.py OUT.json -- COMMAND [ARGS...]

This process becomes a child subreaper (Linux ``PR_SET_CHILD_SUBREAPER``), so every process
the command starts (parser pools, forkservers, Prefect servers), even one its parent leaves
behind, is reaped here and its CPU time counted (``RUSAGE_CHILDREN``). Peak RSS is the sum
over all those processes of each one's peak (``VmHWM``), read from /proc every
``--interval`` seconds while they run. Wall time is the command's own (until its first
process exits), as a user waits for it. The command's output goes to OUT.log.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import signal
import subprocess
import threading
import time
from contextlib import suppress
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
LEFTOVER_GRACE = 60.0  # seconds processes left behind by the command get to exit before they are killed


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (every thread's, from /proc)."""
    found: list[int] = []
    with suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with suppress(OSError), open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as f:
                found.extend(int(c) for c in f.read().split())
    return found


def tree(pid: int) -> list[int]:
    """Every process below ``pid``."""
    found, todo = [], [pid]
    while todo:
        for child in children(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def peak_kb(pid: int) -> int:
    """Peak RSS (VmHWM) of ``pid`` in KiB; 0 once it is gone."""
    with suppress(OSError), open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class PeakSampler(threading.Thread):
    """Keeps the highest VmHWM seen of every process below this one."""

    def __init__(self, interval: float):
        super().__init__(daemon=True)
        self.interval = interval
        self.peaks: dict[int, int] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.sample()
            self.done.wait(self.interval)

    def sample(self) -> None:
        """Read the peak of every process below this one now."""
        for pid in tree(os.getpid()):
            self.peaks[pid] = max(self.peaks.get(pid, 0), peak_kb(pid))


def reap_leftovers(grace: float) -> list[int]:
    """Wait for processes left behind by the command (reparented here), killing them after
    ``grace`` seconds; return the pids that had to be killed."""
    deadline, killed = time.monotonic() + grace, []
    while True:
        with suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        left = tree(os.getpid())
        if not left:
            return killed
        if time.monotonic() > deadline:
            for pid in left:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            killed.extend(left)
            deadline = float("inf")
        time.sleep(0.05)


def measure(command: list[str], log: Path, interval: float = 0.1, env: dict | None = None) -> dict:
    """Run ``command`` and return what its process tree used (see the module docstring)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    sampler = PeakSampler(interval)
    with log.open("wb") as out:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        sampler.start()
        code = process.wait()
        wall = time.perf_counter() - start
    sampler.sample()
    killed = reap_leftovers(LEFTOVER_GRACE)
    sampler.done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "command": command, "exit_code": code, "wall_s": wall,
        "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "peak_rss_sum_mb": sum(sampler.peaks.values()) / 1024,
        "processes": len(sampler.peaks), "killed_leftovers": killed,
    }


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="JSON results file (the command's output goes to OUT.log)")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between RSS samples")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    result = measure(command, args.out.with_suffix(".log"), args.interval)
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
