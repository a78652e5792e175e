"""Benchmark: from how many pages on does starting the parser pool pay, as users run an ingest.

The pool (``settings.extract.workers``: one process per core, :mod:`newswatch.parse_pool`) costs
a start (its forkserver importing the parsers, each worker loading trafilatura's and lingua's
state on first use) and buys parsing on every core, each page bounded in time and memory. For
``n`` pages of the synthetic web (``corpus_server.py``: about 90 KB of real news-site layout,
languages mixed), one fresh process each, measured as a whole process tree
(``proc_usage.py``): parsing them one after the other in the process itself, and in the pool
from four threads (as an ingest submits them). Prints wall and CPU seconds per mode, and the
smallest ``n`` from which the pool is faster in wall time. Results go to
benchmarks/results/bench_parse_pool-<time>.json.

    uv run python benchmarks/bench_parse_pool.py [--sizes 1 2 4 8 16 32 64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(HERE), str(REPO)]

from corpus_server import Corpus  # noqa: E402
from proc_usage import measure  # noqa: E402
from save_results import save  # noqa: E402

FEEDS = 10  # sites (languages rotate through them)
PORT = 8000  # only part of the pages' URLs


def pages(n: int) -> list[tuple[bytes, str, str, str]]:
    """``n`` pages as ``parse_page`` takes them: (content, url, title, language hint)."""
    corpus = Corpus(FEEDS, n // FEEDS + 1)
    found = []
    for i in range(n):
        feed, article = i % FEEDS, i // FEEDS
        story = corpus.story(feed, article)
        found.append((corpus.article_html(feed, article, PORT), corpus.article_url(feed, article, PORT), story.title,
                      corpus.language(feed)))
    return found


def child(mode: str, n: int) -> None:
    """Parse ``n`` pages in this process (``inproc``) or in the parser pool (``pool``)."""
    from newswatch.pages import parse_page
    from newswatch.parse_pool import shared_pool

    work = pages(n)
    if mode == "inproc":
        for page in work:
            parse_page(*page)
        return
    pool = shared_pool(0)
    with ThreadPoolExecutor(4) as threads:
        list(threads.map(lambda page: pool(*page), work))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    log = Path(tempfile.mkdtemp(prefix="bench-parse-pool-")) / "child.log"
    rows = []
    for n in args.sizes:
        row = {"pages": n}
        for mode in ("inproc", "pool"):
            runs = [measure([sys.executable, __file__, "--child", mode, str(n)], log) for _ in range(args.repeats)]
            if any(run["exit_code"] for run in runs):
                raise SystemExit(f"{mode} {n} failed: {log.read_text()[-3000:]}")
            row[f"{mode} wall s"] = statistics.median(run["wall_s"] for run in runs)
            row[f"{mode} CPU s"] = statistics.median(run["cpu_s"] for run in runs)
            row[f"{mode} peak RSS MB"] = statistics.median(run["peak_rss_sum_mb"] for run in runs)
        rows.append(row)
        print("  ".join(f"{key} {value:.2f}" if isinstance(value, float) else f"{key} {value}" for key, value in row.items()),
              flush=True)
    faster = [row["pages"] for row in rows if row["pool wall s"] < row["inproc wall s"]]
    first = next((n for n in args.sizes if all(m in faster for m in args.sizes if m >= n)), None)
    print(f"the pool is faster in wall time from {first} pages on" if first else "the pool is never faster here")
    save({"repeats": args.repeats, "rows": rows, "pool faster from pages": first}, "bench_parse_pool", Console())


if __name__ == "__main__":
    main()
