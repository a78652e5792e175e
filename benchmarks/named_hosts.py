"""Run an installed command-line program with the synthetic web's site names resolvable.

    python benchmarks/named_hosts.py trafilatura -i feeds.txt --feed ...

Some programs (trafilatura's feed mode, through courlan) refuse URLs with an IP address; the
benchmark's sites then get names (``CorpusSite(named=True)``) that this wrapper resolves to
their loopback addresses (corpus_server.resolve_names) before running the program's
``console_scripts`` entry point, unchanged, in this process.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus_server import resolve_names  # noqa: E402

if __name__ == "__main__":
    resolve_names()
    program = sys.argv[1]
    (entry,) = entry_points(group="console_scripts", name=program)
    sys.argv = [program, *sys.argv[2:]]
    sys.exit(entry.load()())
