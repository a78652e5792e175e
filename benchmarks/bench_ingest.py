"""End-to-end ingest benchmark on a synthetic web served from loopback.

    uv run python benchmarks/bench_ingest.py                  # 50 feeds x 40 articles
    uv run python benchmarks/bench_ingest.py --feeds 5 --articles 10 --profile ingest.prof

Measures, in one run and on the same pages: bare trafilatura extraction in one process (and in
the parser pool); the plain ingest (``newswatch.pipeline.ingest``, no Prefect) on a fresh
database; a second run over the unchanged feeds (conditional GET); the same ingest through the
Prefect flow on fresh databases (``--repeats`` rounds of each, medians); fetch concurrency with
an artificial latency; CPU time per process; peak memory; database size.
Figures are reported as ratios of times measured in this run. Prints a table and writes JSON.
Topics are the shipped ones, matched by keywords (``--semantic`` keeps the embedding model,
whose cost is reported separately by benchmarks/bench_match.py).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(HERE), str(REPO)]
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # 50 task runs per flow: keep the output readable
from newswatch.prefect_env import configure_prefect  # noqa: E402

configure_prefect()  # before Prefect is imported: analytics off, as in every newswatch entry point

from corpus_server import CorpusSite, write_sources  # noqa: E402
from save_results import save  # noqa: E402
from prefect import flow  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from flows.ingest import ingest_flow  # noqa: E402
from newswatch.config import Config, load_config  # noqa: E402
from newswatch.page_parse import extract_page  # noqa: E402
from newswatch.parse_pool import in_pool, parser  # noqa: E402
from newswatch.pipeline import LocalStages, ingest  # noqa: E402
from storage.db import open_database  # noqa: E402


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of calling ``function``."""
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def database_summary(path: Path) -> dict[str, int]:
    """Row counts that must be identical however the ingest ran."""
    with open_database(path) as db:
        count = lambda sql: db.con.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "articles": count("SELECT count(*) FROM articles"),
            "extracted": count("SELECT count(*) FROM articles WHERE status = 'extracted'"),
            "matches": count("SELECT count(*) FROM matches"),
            "clusters": count("SELECT count(DISTINCT cluster_id) FROM cluster_members"),
        }


def plain_ingest(config: Config) -> Any:
    """One ingest with the plain functions (no Prefect) on ``config``'s database."""
    with open_database(config.settings.database) as db:
        return ingest(config, db)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by process ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reset_peak_rss() -> None:
    """Start measuring this process's peak RSS afresh (Linux: clear_refs 5 resets VmHWM)."""
    Path("/proc/self/clear_refs").write_text("5")


def peak_rss(pid: int | str = "self") -> int:
    """Peak RSS in bytes (VmHWM) of process ``pid`` since it started or was reset."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def descendants() -> set[int]:
    """Pids of every live descendant of this process (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError, IndexError):
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    ours, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - ours
        ours |= frontier
    return ours


def children_cpu_seconds(exclude: set[int]) -> float:
    """CPU time used so far by the live descendants of this process, but ``exclude``."""
    total = 0.0
    for pid in descendants() - exclude:
        with suppress(OSError):
            total += cpu_seconds(pid)
    return total


def run(feeds: int, articles: int, latency: float, fetch_latency: float, workdir: Path,
        semantic: bool = False, profile: Path | None = None, repeats: int = 3) -> dict[str, Any]:
    """Run every measurement once; return the results (see the module docstring)."""
    results: dict[str, Any] = {"feeds": feeds, "articles_per_feed": articles, "latency_s": latency,
                               "repeats": repeats, "cpus": os.cpu_count(), "started": datetime.now(UTC).isoformat()}
    with CorpusSite(feeds, articles) as site:
        sources = write_sources(site, workdir, semantic)
        plain_config = load_config(sources, workdir / "plain.duckdb")
        # warm-ups, reported but not counted: Prefect's local API, the parser processes
        results["warmup_prefect_s"], _ = timed(flow(name="warm-up")(lambda: None))
        url, html = next(site.pages())
        parse = parser(plain_config.settings.extract.workers)
        results["warmup_parse_pool_s"], _ = timed(lambda: parse(html, url, "warm-up", None))

        sizes, results["extract_only_s"] = [], 0.0
        for url, html in site.pages():  # made one at a time (not timed): the corpus is not kept in memory
            sizes.append(len(html))
            results["extract_only_s"] += timed(lambda: extract_page(html, url))[0]  # noqa: B023
        results["pages"] = len(sizes)
        # the same extraction spread over the parser processes: what these cores give in parallel
        extract_in_pool = in_pool(plain_config.settings.extract.workers, extract_page)
        with ThreadPoolExecutor(2 * (plain_config.settings.extract.workers or os.cpu_count() or 1)) as threads:
            results["extract_pool_s"], _ = timed(
                lambda: list(threads.map(lambda page: extract_in_pool(page[1], page[0]), site.pages()))
            )
        results["page_kb_mean"] = round(sum(sizes) / len(sizes) / 1024, 1)

        site.set_latency(latency)
        before = site.counters.snapshot()
        profiler = cProfile.Profile() if profile else None
        if profiler:
            profiler.enable()
        server_cpu, children_cpu = cpu_seconds(site.pid), children_cpu_seconds(exclude={site.pid})
        own_cpu = time.process_time()
        reset_peak_rss()
        results["plain_s"], stats = timed(lambda: plain_ingest(plain_config))
        # CPU seconds during the plain ingest: the sites share our cores
        results["ingest_process_cpu_s"] = time.process_time() - own_cpu
        results["parser_processes_cpu_s"] = children_cpu_seconds(exclude={site.pid}) - children_cpu
        results["server_cpu_s"] = cpu_seconds(site.pid) - server_cpu
        results["peak_rss_plain_ingest_mb"] = peak_rss() / 2**20
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile)
        results["plain_stats"] = asdict(stats)
        first = site.counters.snapshot()
        results["rerun_s"], rerun = timed(lambda: plain_ingest(plain_config))
        second = site.counters.snapshot()
        results["rerun_feed_bodies"] = second["feed_bodies"] - first["feed_bodies"]
        results["rerun_article_pages"] = second["article_pages"] - first["article_pages"]
        results["rerun_not_modified"] = second["feed_not_modified"] - first["feed_not_modified"]
        results["first_run_downloads"] = {k: first[k] - before[k] for k in first}

        # more rounds on fresh databases, Prefect first then plain: times are medians of all rounds
        plain_runs, prefect_runs, stored = [results["plain_s"]], [], set()
        for n in range(repeats):
            prefect_db = workdir / f"prefect-{n}.duckdb"
            prefect_runs.append(timed(lambda: ingest_flow(sources=str(sources), database=str(prefect_db)))[0])  # noqa: B023
            stored.add(tuple(database_summary(prefect_db).items()))
            if n:
                again = load_config(sources, workdir / f"plain-{n}.duckdb")
                plain_runs.append(timed(lambda: plain_ingest(again))[0])  # noqa: B023
                stored.add(tuple(database_summary(again.settings.database).items()))
        results["plain_runs_s"], results["prefect_runs_s"] = plain_runs, prefect_runs
        results["plain_s"], results["prefect_s"] = statistics.median(plain_runs), statistics.median(prefect_runs)
        results["stored_plain"] = database_summary(plain_config.settings.database)
        results["same_results"] = stored == {tuple(results["stored_plain"].items())}

        site.set_latency(fetch_latency)
        http = plain_config.settings.http
        stages = LocalStages(http.concurrency)
        jobs = [(feed, None) for feed in plain_config.enabled_feeds]
        results["fetch_latency_s"] = fetch_latency
        results["fetch_one_s"], _ = timed(lambda: list(stages.fetch_feeds(jobs[:1], http)))
        results["fetch_all_s"], fetched = timed(lambda: list(stages.fetch_feeds(jobs, http)))
        results["fetch_all_ok"] = sum(f.ok for f in fetched)
        site.set_latency(0)

        results["peak_rss_main_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # whole run
        children = [peak_rss(pid) for pid in descendants() - {site.pid}]
        results["peak_rss_children_mb"] = sorted(round(v / 2**20) for v in children)
    size = plain_config.settings.database.stat().st_size
    results["db_bytes_per_1000_articles"] = round(size / max(1, results["stored_plain"]["articles"]) * 1000)
    return derive(results)


def derive(r: dict[str, Any]) -> dict[str, Any]:
    """Add the ratios the goals are stated in."""
    articles = r["stored_plain"]["articles"]
    r["articles_per_s_plain"] = articles / r["plain_s"]
    r["articles_per_s_prefect"] = articles / r["prefect_s"]
    r["ratio_ingest_to_extract"] = r["plain_s"] / r["extract_only_s"]
    r["pool_speedup"] = r["extract_only_s"] / r["extract_pool_s"]
    r["ratio_ingest_to_pool_extract"] = r["plain_s"] / r["extract_pool_s"]
    r["ratio_prefect_to_plain"] = r["prefect_s"] / r["plain_s"]
    r["ratio_rerun_to_first"] = r["rerun_s"] / r["plain_s"]
    r["ratio_fetch_all_to_latency"] = r["fetch_all_s"] / r["fetch_latency_s"] if r["fetch_latency_s"] else None
    return r


GOALS: list[tuple[str, str, str, Callable[[Any], bool] | None]] = [
    ("articles_per_s_plain", "ingest, plain functions (articles/s)", "", None),
    ("articles_per_s_prefect", "ingest, Prefect flow (articles/s)", "", None),
    ("ratio_ingest_to_extract", "ingest wall / bare extraction wall", "<= 1.3", lambda v: v <= 1.3),
    ("pool_speedup", "  (extraction alone: one process / parser pool)", "", None),
    ("ratio_ingest_to_pool_extract", "  (ingest wall / extraction alone in the parser pool)", "", None),
    ("ratio_prefect_to_plain", "Prefect flow / plain functions", "<= 1.15", lambda v: v <= 1.15),
    ("rerun_feed_bodies", "second run: feed bodies downloaded", "0", lambda v: v == 0),
    ("rerun_article_pages", "second run: article pages downloaded", "0", lambda v: v == 0),
    ("ratio_rerun_to_first", "second run wall / first run wall", "< 0.05", lambda v: v < 0.05),
    ("ratio_fetch_all_to_latency", "all feeds fetched / one latency", "< 3", lambda v: v < 3),
    ("same_results", "every round, Prefect or plain, stored the same", "yes", lambda v: v is True),
    ("peak_rss_plain_ingest_mb", "peak RSS during the plain ingest (MB)", "", None),
    ("peak_rss_main_mb", "peak RSS, benchmark process, whole run (MB)", "", None),
    ("peak_rss_children_mb", "peak RSS, child processes: parsers, Prefect API... (MB)", "", None),
    ("db_bytes_per_1000_articles", "DuckDB bytes per 1,000 articles", "", None),
]


def table(r: dict[str, Any]) -> Table:
    """The results as a rich table, with each goal and whether it was met."""
    out = Table(title=f"ingest benchmark: {r['feeds']} feeds, {r['pages']} pages "
                      f"({r['page_kb_mean']} KB mean), {r['cpus']} CPUs")
    for column in ("measure", "value", "goal", "met"):
        out.add_column(column)
    for key, label, goal, check in GOALS:
        value = r[key]
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        out.add_row(label, shown, goal, "" if check is None or value is None else ("yes" if check(value) else "NO"))
    for key in ("extract_only_s", "extract_pool_s", "plain_s", "ingest_process_cpu_s", "parser_processes_cpu_s", "server_cpu_s", "prefect_s", "rerun_s", "fetch_one_s",
                "fetch_all_s", "warmup_prefect_s", "warmup_parse_pool_s"):
        out.add_row(f"  {key}", f"{r[key]:.2f}", "", "")
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command-line entry point; returns the results."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--articles", type=int, default=40, help="articles per feed")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every response of the ingest runs")
    parser.add_argument("--fetch-latency", type=float, default=0.3, help="seconds per response in the concurrency test")
    parser.add_argument("--repeats", type=int, default=3, help="ingest rounds (plain and Prefect); times are medians")
    parser.add_argument("--semantic", action="store_true", help="keep the topics' semantic matching")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the plain ingest here and print its top")
    parser.add_argument("--json", type=Path, help="results file [default benchmarks/results/ingest-<time>.json]")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        results = run(args.feeds, args.articles, args.latency, args.fetch_latency, Path(tmp),
                      semantic=args.semantic, profile=args.profile, repeats=args.repeats)
    console = Console(width=None if sys.stdout.isatty() else 110)
    console.print(table(results))
    if args.profile:
        pstats.Stats(str(args.profile)).sort_stats("cumulative").print_stats(25)
    save(results, "ingest", console, args.json)
    return results


if __name__ == "__main__":
    main()
