"""Benchmark: what a command costs before it does any work, as ratios measured in one run.

* CPU of ``newswatch sources validate`` and ``newswatch --help`` against
  ``python -c "import yaml, pydantic"`` (the least a validating command can import);
* ``newswatch run`` with nothing new (every feed answers 304) against a bare Prefect flow run,
  both on the same local Prefect API (started once by this script, as ``newswatch serve`` runs
  one), wall time and CPU of the whole process tree;
* the start of a temporary local Prefect API (what ``run`` and ``ingest`` pay when no ``serve`` runs);
* ``newswatch report`` without any Prefect API (it uses none) against ``sources validate``.

Each figure is the median of ``--repeats`` runs; results go to benchmarks/results/bench_startup.json.

    uv run python benchmarks/bench_startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from email.utils import formatdate
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from flows.prefect_api import LocalServer, free_port  # noqa: E402

BARE_FLOW = """
from prefect import flow

@flow(name="bare")
def bare() -> int:
    return 1

bare()
"""
FEED = """<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Bench</title>
<link>http://127.0.0.1/</link><description>d</description>
<item><title>CSTO summit in Yerevan</title><link>http://127.0.0.1:{port}/a1.html</link><guid>a1</guid>
<pubDate>{date}</pubDate><description>Armenia and the CSTO.</description></item></channel></rss>"""
PAGE = ("<html><head><title>CSTO summit</title></head><body><article><h1>CSTO summit in Yerevan</h1>"
        + "<p>Armenia said it would not attend the CSTO summit in Minsk this week, officials said.</p>" * 8
        + "</article></body></html>")


def timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its children) of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def median_of(repeats: int, command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Median wall and CPU seconds over ``repeats`` runs."""
    runs = [timed(command, env, cwd) for _ in range(repeats)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def serve_site(directory: Path) -> int:
    """A loopback HTTP server for ``directory`` (answers 304 to If-Modified-Since); its port."""
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(directory))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    site = work / "site"
    site.mkdir()
    port = serve_site(site)
    (site / "rss.xml").write_text(FEED.format(port=port, date=formatdate(usegmt=True)), encoding="utf-8")
    (site / "a1.html").write_text(PAGE, encoding="utf-8")
    sources = work / "sources.yaml"
    sources.write_text(
        "settings:\n  database: data/bench.duckdb\n"
        "  http: {allow_hosts: ['127.0.0.1'], respect_robots: false, per_host_delay: 0}\n"
        f"feeds:\n  - {{name: Bench, url: 'http://127.0.0.1:{port}/rss.xml', language: en}}\n"
        "topics:\n  - {name: CSTO, terms: {en: [CSTO]}}\n",
        encoding="utf-8",
    )
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    base_env.update({"DO_NOT_TRACK": "1", "PREFECT_HOME": str(work / "prefect-client"), "COLUMNS": "200"})
    newswatch = [sys.executable, "-m", "newswatch"]
    figures: dict[str, float] = {}

    imports = median_of(args.repeats, [sys.executable, "-c", "import yaml, pydantic"], base_env, work)
    validate = median_of(args.repeats, [*newswatch, "sources", "validate", "-s", str(sources)], base_env, work)
    help_ = median_of(args.repeats, [*newswatch, "--help"], base_env, work)
    figures.update({
        "import yaml+pydantic CPU s": imports[1], "sources validate CPU s": validate[1], "--help CPU s": help_[1],
        "sources validate / import yaml+pydantic (CPU)": validate[1] / imports[1],
        "--help / import yaml+pydantic (CPU)": help_[1] / imports[1],
    })

    server = LocalServer(work / "prefect", port=free_port(), scheduler=False)
    start = time.perf_counter()
    server.start()
    figures["temporary Prefect API start, wall s"] = time.perf_counter() - start
    try:
        env = {**base_env, "PREFECT_API_URL": server.api_url}
        timed([*newswatch, "run", "-s", str(sources)], env, work)  # first run: stores the article
        run = median_of(args.repeats, [*newswatch, "run", "-s", str(sources)], env, work)
        bare = median_of(args.repeats, [sys.executable, "-c", BARE_FLOW], env, work)
    finally:
        server.stop()
    # no Prefect API running, none set: a report never starts one
    report = median_of(args.repeats, [*newswatch, "report", "-s", str(sources), "--out", str(work / "reports")],
                       base_env, work)
    figures.update({
        "report, 1 article, no Prefect API: CPU s": report[1],
        "report / sources validate (CPU)": report[1] / validate[1],
    })
    figures.update({
        "run, nothing new: wall s": run[0], "run, nothing new: CPU s": run[1],
        "bare Prefect flow: wall s": bare[0], "bare Prefect flow: CPU s": bare[1],
        "run nothing new / bare flow (wall)": run[0] / bare[0],
        "run nothing new / bare flow (CPU)": run[1] / bare[1],
    })
    width = max(map(len, figures))
    for name, value in figures.items():
        print(f"{name:<{width}}  {value:8.2f}")
    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "bench_startup.json").write_text(json.dumps({"repeats": args.repeats, **figures}, indent=2))


if __name__ == "__main__":
    main()
