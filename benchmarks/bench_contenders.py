"""newswatch as users run it, next to what they would run instead: one command, one run.

    uv run python benchmarks/bench_contenders.py              # 50 feeds x 20 pages, 1M-article archive
    uv run python benchmarks/bench_contenders.py --archive 100000   # a smaller archive, quicker
    uv run python benchmarks/bench_contenders.py --pages-only       # only the 1,000-page contenders
    uv run python benchmarks/bench_contenders.py --archive-only     # only the rows about archive size

On the synthetic web of ``corpus_server.py`` (pages of a real news site's size and layout, about
one article in ten on a watched topic), each contender runs as its own process and is measured
as a whole process tree (``proc_usage.py``: wall time, CPU time of every process it starts,
sum of the processes' peak RSS):

* ``newswatch ingest`` as users run it: the installed command, default settings (no
  ``PREFECT_API_URL``: it starts its temporary Prefect API, its Prefect history kept between
  runs as on a server), on a fresh database;
* newswatch's pipeline as plain functions (``contenders.py plain``), fresh database;
* bare trafilatura extraction of the same pages (saved beforehand) over one process per core:
  the limit any ingest of these pages meets;
* trafilatura's own feed mode, ``trafilatura -i FEEDS --feed --parallel N -o DIR``;
* a naive sequential feedparser + httpx + trafilatura + duckdb script (``contenders.py naive``).

Then: a 3-article ``newswatch ingest`` against the naive script on the same 3 articles; a
small ingest (``--small-feeds`` x ``--small-articles``) on a fresh database and on an archive of
``--archive`` articles (built in seconds by replicating the plain run's rows with new ids, older
dates, their matches and clusters; the search index covers only the original rows); and
``newswatch report`` / ``newswatch digest send`` on both databases, against the warm cost of
their queries and rendering alone (``contenders.py report|digest``); the 3-article ingest,
report and digest again with a Prefect API already running (as while ``newswatch serve``
runs: the command does not start its own). It prints the table and the aims of issue 15 as
measured ratios, and writes JSON to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(HERE), str(REPO)]

from corpus_server import CorpusSite, write_sources  # noqa: E402
from save_results import save  # noqa: E402

from flows.prefect_api import LocalServer, free_port  # noqa: E402
from storage.db import open_database  # noqa: E402

BIN = Path(sys.executable).parent  # the project's environment: newswatch and trafilatura as installed


class Bench:
    """Runs contenders in ``workdir``, each as a measured process tree."""

    def __init__(self, workdir: Path, env: dict[str, str]):
        self.workdir = workdir
        self.env = env
        self.runs: dict[str, dict[str, Any]] = {}
        self.api: dict[str, str] = {}  # PREFECT_API_URL of a running server, when one is used

    def measure(self, key: str, command: list[str]) -> dict[str, Any]:
        """Run ``command`` under proc_usage.py; record and return its figures; fail if it fails."""
        out = self.workdir / f"{key}.json"
        subprocess.run([sys.executable, str(HERE / "proc_usage.py"), str(out), "--", *command],
                       env=self.env | self.api, check=True)
        figures = json.loads(out.read_text())
        figures["output"] = out.with_suffix(".log").read_text(errors="replace")[-2000:]
        if figures["exit_code"] != 0:
            raise RuntimeError(f"{key} failed ({figures['exit_code']}): {figures['output']}")
        self.runs[key] = figures
        return figures

    def newswatch(self, key: str, *arguments: str) -> dict[str, Any]:
        """``newswatch ARGUMENTS`` as installed."""
        return self.measure(key, [str(BIN / "newswatch"), *arguments])

    @contextmanager
    def served(self, home: Path) -> Iterator[None]:
        """Commands in the block use a Prefect API already running (as while ``newswatch serve``
        runs) instead of starting their own."""
        server = LocalServer(home, port=free_port(), scheduler=False)
        server.start()
        self.api = {"PREFECT_API_URL": server.api_url}
        try:
            yield
        finally:
            self.api = {}
            server.stop()

    def contender(self, key: str, *arguments: str) -> dict[str, Any]:
        """``contenders.py ARGUMENTS``."""
        return self.measure(key, [sys.executable, str(HERE / "contenders.py"), *arguments])


def save_pages(site: CorpusSite, folder: Path) -> Path:
    """Download every article page of ``site`` once, by address (the server then has them
    ready), into ``folder``; return a JSON list of [url, file] for the extraction baseline."""
    folder.mkdir(parents=True)
    items = []
    with httpx.Client(timeout=60) as client:
        for n, (url, _) in enumerate(site.pages()):
            path = folder / f"{n}.html"
            feed = n // site.corpus.articles
            by_address = f"http://{site.corpus.host(feed)}:{site.ports[feed]}{urlsplit(url).path}"
            path.write_bytes(client.get(by_address).raise_for_status().content)
            items.append([url, str(path)])
    manifest = folder / "pages.json"
    manifest.write_text(json.dumps(items))
    return manifest


def trafilatura_config(path: Path) -> Path:
    """trafilatura's settings.cfg with what newswatch is given here: no delay between requests
    to one site, loopback addresses allowed."""
    import trafilatura

    shipped = (Path(trafilatura.__file__).parent / "settings.cfg").read_text()
    changed = re.sub(r"(?m)^SLEEP_TIME = .*$", "SLEEP_TIME = 0", shipped)
    changed = re.sub(r"(?m)^SSRF_PROTECTION = .*$", "SSRF_PROTECTION = off", changed)
    if changed.count("SLEEP_TIME = 0") != 1 or "SSRF_PROTECTION = off" not in changed:
        raise RuntimeError("trafilatura's settings.cfg changed: update trafilatura_config")
    path.write_text(changed)
    return path


def feed_list(site: CorpusSite, path: Path) -> Path:
    """A file with the feed URLs of ``site``, one a line."""
    path.write_text("".join(f"{site.feed_url(f)}\n" for f in range(site.corpus.feeds)))
    return path


def build_archive(seed: Path, target: Path, articles: int, chunk: int = 50) -> dict[str, Any]:
    """A copy of database ``seed`` grown to about ``articles`` articles: each row (articles,
    matches, cluster members and band keys) copied with a new id, one day older per copy.

    Copies of an article (and of a cluster member, which holds its text) are side by side, so
    that the repeated texts compress (1M articles: 0.9 GB; days side by side: over 4 GB). The
    copies of matches and band keys are appended oldest first, a day after another (``chunk``
    days per statement), as an archive grows: DuckDB's zone maps on their dates skip old row
    groups as in a real archive (clustering's band lookups rely on it). Queries on the
    articles' or members' dates read every row group, as they would not in a real archive."""
    shutil.copy(seed, target)
    start = time.perf_counter()
    with open_database(target) as db:
        con = db.con
        have = con.execute("SELECT count(*) FROM articles").fetchone()[0]
        copies = max(0, -(-articles // max(have, 1)) - 1)
        older = "- to_days(r::INTEGER)"
        statements = {
            "articles": f"""SELECT * EXCLUDE (r) REPLACE (
                id || '-' || r AS id, canonical_url || '#' || r AS canonical_url, url || '#' || r AS url,
                published_at {older} AS published_at, discovered_at {older} AS discovered_at,
                extracted_at {older} AS extracted_at, content_hash || '-' || r AS content_hash,
                duplicate_of || '-' || r AS duplicate_of)""",
            "matches": f"""SELECT * EXCLUDE (r) REPLACE (
                article_id || '-' || r AS article_id, matched_at {older} AS matched_at)""",
            "cluster_members": f"""SELECT * EXCLUDE (r) REPLACE (
                article_id || '-' || r AS article_id, cluster_id || '-' || r AS cluster_id,
                seen_at {older} AS seen_at, clustered_at {older} AS clustered_at)""",
            "cluster_bands": f"""SELECT * EXCLUDE (r) REPLACE (
                xor(band_key, r * 2654435761) AS band_key, article_id || '-' || r AS article_id,
                seen_at {older} AS seen_at)""",
        }
        with db.transaction():
            for table in ("articles", "cluster_members"):  # with texts: copies side by side
                select = statements.pop(table)
                con.execute(f"INSERT INTO {table} {select} FROM (SELECT *, unnest(range(1, {copies + 1})) AS r FROM {table})")
            for table in statements:
                con.execute(f"CREATE TEMP TABLE seed_{table} AS SELECT * FROM {table}")
            for last in range(copies, 0, -chunk):
                days = f"unnest(range({last}, {max(last - chunk, 0)}, -1)) AS r"
                for table, select in statements.items():
                    con.execute(f"INSERT INTO {table} {select} FROM (SELECT *, {days} FROM seed_{table}) ORDER BY r DESC")
        con.execute("CHECKPOINT")
        total = con.execute("SELECT count(*) FROM articles").fetchone()[0]
    return {"articles": total, "build_s": time.perf_counter() - start, "mb": target.stat().st_size / 2**20}


def stored(path: Path, table: str = "articles", where: str = "status = 'extracted'") -> int:
    """Rows of ``table`` in the DuckDB file ``path`` (newswatch's: extracted articles)."""
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0]


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Every measurement, in one run (see the module docstring)."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}  # the default install: no server set up
    bench = Bench(workdir, env)
    results: dict[str, Any] = {"started": datetime.now().isoformat(), "cpus": os.cpu_count(), "args": vars(args)}
    prefect_home = workdir / "prefect"
    # trafilatura's feed mode refuses addresses: it gets the same web with named sites
    with (CorpusSite(args.feeds, args.articles) as site, CorpusSite(args.feeds, args.articles, named=True) as named,
          CorpusSite(1, 3) as tiny, CorpusSite(args.small_feeds, args.small_articles) as small):
        pages = save_pages(site, workdir / "pages")
        for n, other in enumerate((named, tiny, small)):
            save_pages(other, workdir / f"pages-{n}")
        results["pages"] = n = site.corpus.feeds * site.corpus.articles

        def sources(name: str, web: CorpusSite, prefix: str = "wire") -> Path:
            (workdir / name).mkdir()
            return write_sources(web, workdir / name, prefix=prefix, prefect_home=prefect_home)

        big_sources, tiny_sources, small_sources = sources("big", site), sources("tiny", tiny, "tiny"), sources("small", small, "small")
        # untimed: the Prefect history database is created once, as on any server after its first run
        bench.newswatch("warmup", "ingest", "--sources", str(tiny_sources), "--db", str(workdir / "warmup.duckdb"))

        cli_db, plain_db = workdir / "cli.duckdb", workdir / "plain.duckdb"
        if args.archive_only:  # the seed of the archive, and the 1k database of report and digest
            bench.contender("plain", "plain", str(big_sources), str(plain_db))
            shutil.copy(plain_db, cli_db)
        else:
            contenders(bench, args, workdir, results, pages, (site, named), big_sources)
            if args.pages_only:
                results["runs"] = bench.runs
                return derive(results)
            bench.newswatch("cli_tiny", "ingest", "--sources", str(tiny_sources), "--db", str(workdir / "tiny.duckdb"))
            bench.contender("naive_tiny", "naive", str(feed_list(tiny, workdir / "tiny-feeds.txt")),
                            str(workdir / "naive-tiny.duckdb"))

        archive = workdir / "archive.duckdb"
        results["archive"] = build_archive(plain_db, archive, args.archive)
        for suffix in ("", ".snapshot.duckdb"):  # the same archive (and its readers' snapshot) for the plain functions
            shutil.copy(f"{archive}{suffix}", f"{workdir / 'archive-plain.duckdb'}{suffix}")
        bench.newswatch("small_fresh", "ingest", "--sources", str(small_sources), "--db", str(workdir / "small.duckdb"))
        bench.newswatch("small_archive", "ingest", "--sources", str(small_sources), "--db", str(archive))
        # the same without the command's fixed start (Prefect): what the archive adds to the pipeline's work
        bench.contender("small_plain_fresh", "plain", str(small_sources), str(workdir / "small-plain.duckdb"))
        bench.contender("small_plain_archive", "plain", str(small_sources), str(workdir / "archive-plain.duckdb"))

        for label, db in (("1k", cli_db), ("archive", archive)):
            out = workdir / f"report-{label}"
            bench.contender(f"report_fn_{label}", "report", str(big_sources), str(db), "24", str(workdir / f"report-fn-{label}.out"))
            bench.newswatch(f"report_{label}", "report", "--sources", str(big_sources), "--db", str(db), "--hours", "24", "--out", str(out))
            bench.contender(f"digest_fn_{label}", "digest", str(big_sources), str(db), str(workdir / f"digest-fn-{label}.out"))
            bench.newswatch(f"digest_{label}", "digest", "send", "--sources", str(big_sources), "--db", str(db))
            for kind in ("report", "digest"):
                results[f"{kind}_fn_{label}"] = json.loads((workdir / f"{kind}-fn-{label}.out").read_text())
        if not args.archive_only:
            served(bench, workdir, (big_sources, tiny_sources))
    results["runs"] = bench.runs
    return derive(results)


def contenders(bench: Bench, args: argparse.Namespace, workdir: Path, results: dict[str, Any], pages: Path,
               webs: tuple[CorpusSite, CorpusSite], big_sources: Path) -> None:
    """The 1,000-page ingest by each contender (``named``: the same web with named sites)."""
    site, named = webs
    cli_db, plain_db, naive_db = workdir / "cli.duckdb", workdir / "plain.duckdb", workdir / "naive.duckdb"
    bench.newswatch("cli", "ingest", "--sources", str(big_sources), "--db", str(cli_db))
    bench.contender("plain", "plain", str(big_sources), str(plain_db))
    bench.contender("extract", "extract", str(pages), str(args.workers))
    traf_out = workdir / "trafilatura-out"
    bench.measure("trafilatura", [
        sys.executable, str(HERE / "named_hosts.py"), "trafilatura", "--config-file",
        str(trafilatura_config(workdir / "trafilatura.cfg")), "-i", str(feed_list(named, workdir / "named-feeds.txt")),
        "--feed", "--parallel", str(args.parallel), "-o", str(traf_out)])
    bench.contender("naive", "naive", str(feed_list(site, workdir / "feeds.txt")), str(naive_db))
    results["stored"] = {
        "cli": stored(cli_db), "plain": stored(plain_db), "naive": stored(naive_db, where="true"),
        "trafilatura": len(list(traf_out.glob("*"))) if traf_out.exists() else 0,
        "matched_share": stored(cli_db, "(SELECT DISTINCT article_id FROM matches)", "true") / max(1, stored(cli_db)),
    }
    shutil.copy(cli_db, workdir / "cli-served.duckdb")  # the same database for the runs while `serve` runs


def served(bench: Bench, workdir: Path, sources: tuple[Path, Path]) -> None:
    """The 3-article ingest, report and digest again while a Prefect API already runs (as under `serve`)."""
    big_sources, tiny_sources = sources
    served_db = workdir / "cli-served.duckdb"
    with bench.served(workdir / "prefect-served"):
        bench.newswatch("cli_tiny_served", "ingest", "--sources", str(tiny_sources), "--db", str(workdir / "tiny-2.duckdb"))
        bench.newswatch("report_1k_served", "report", "--sources", str(big_sources), "--db", str(served_db), "--hours", "24",
                        "--out", str(workdir / "report-served"))
        bench.newswatch("digest_1k_served", "digest", "send", "--sources", str(big_sources), "--db", str(served_db))


def derive(r: dict[str, Any]) -> dict[str, Any]:
    """The aims of issue 15 as ratios of figures measured in this run (those whose runs were made)."""
    runs = r["runs"]

    def ratio(key: str, other: str, field: str = "cpu_s") -> float:
        return runs[key][field] / runs[other][field]

    def beyond(kind: str, label: str, served: str = "") -> float:
        return runs[f"{kind}_{label}{served}"]["cpu_s"] - r[f"{kind}_fn_{label}"]["cpu_s"]

    small = f"{r['args']['small_feeds'] * r['args']['small_articles']}-article ingest wall, archive / fresh"
    aims = {  # name: (runs it needs, value, comparison, bound)
        "ingest wall / trafilatura feed mode wall": (("cli", "trafilatura"), lambda: ratio("cli", "trafilatura", "wall_s"), "<", 1),
        "ingest CPU / trafilatura feed mode CPU": (("cli", "trafilatura"), lambda: ratio("cli", "trafilatura"), "<", 1),
        "ingest CPU / extraction limit CPU": (("cli", "extract"), lambda: ratio("cli", "extract"), "<=", 1.3),
        "3-article ingest CPU / naive script CPU": (("cli_tiny", "naive_tiny"), lambda: ratio("cli_tiny", "naive_tiny"), "<=", 3),
        "3-article ingest CPU / naive script CPU, while `serve` runs":
            (("cli_tiny_served", "naive_tiny"), lambda: ratio("cli_tiny_served", "naive_tiny"), "<=", 3),
        small: (("small_archive", "small_fresh"), lambda: ratio("small_archive", "small_fresh", "wall_s"), "<=", 1.2),
        small.replace("wall", "CPU"): (("small_archive", "small_fresh"), lambda: ratio("small_archive", "small_fresh"), "<=", 1.2),
        small.replace("ingest wall", "ingest as plain functions, CPU"):
            (("small_plain_archive", "small_plain_fresh"), lambda: ratio("small_plain_archive", "small_plain_fresh"), "<=", 1.2),
        "summed peak RSS of the ingest (MB)": (("cli",), lambda: runs["cli"]["peak_rss_sum_mb"], "<", 600),
    }
    for kind in ("report", "digest"):
        for label in ("1k", "archive"):
            aims[f"`{kind}` CPU beyond its queries + rendering, {label} (s)"] = (
                (f"{kind}_{label}",), lambda kind=kind, label=label: beyond(kind, label), "<=", 2)
        aims[f"`{kind}` CPU beyond its queries + rendering, 1k, while `serve` runs (s)"] = (
            (f"{kind}_1k_served",), lambda kind=kind: beyond(kind, "1k", "_served"), "<=", 2)
    measured = {name: (value(), op, bound) for name, (needs, value, op, bound) in aims.items() if set(needs) <= set(runs)}
    r["aims"] = {
        name: {"value": value, "goal": f"{op} {bound:g}", "met": value < bound if op == "<" else value <= bound}
        for name, (value, op, bound) in measured.items()
    }
    return r


CONTENDERS = [
    ("cli", "`newswatch ingest` as users run it (CLI, Prefect, default install)"),
    ("plain", "newswatch pipeline as plain functions"),
    ("trafilatura", "trafilatura's feed mode, `trafilatura --feed --parallel N`"),
    ("naive", "naive feedparser + httpx + trafilatura + duckdb script, sequential"),
    ("extract", "limit: bare trafilatura extraction over every core"),
]


def tables(r: dict[str, Any]) -> list[Table]:
    """The contenders' table, the other measurements and the aims."""
    runs, n = r["runs"], r["pages"]
    share = f", {100 * r['stored']['matched_share']:.0f}% of articles on a watched topic" if "stored" in r else ""
    main = Table(title=f"{n:,} pages ({r['args']['feeds']} feeds x {r['args']['articles']}), {r['cpus']} CPUs{share}")
    for column in ("contender", "wall s", "articles/s", "CPU ms/article", "summed peak RSS MB"):
        main.add_column(column)
    for key, label in CONTENDERS:
        if key not in runs:
            continue
        f = runs[key]
        main.add_row(label, f"{f['wall_s']:.1f}", f"{n / f['wall_s']:.1f}", f"{1000 * f['cpu_s'] / n:.1f}", f"{f['peak_rss_sum_mb']:.0f}")
    if r["args"]["pages_only"]:
        return [main, _aims_table(r)]
    other = Table(title=f"other runs (archive: {r['archive']['articles']:,} articles, {r['archive']['mb']:.0f} MB)")
    for column in ("run", "wall s", "CPU s", "summed peak RSS MB"):
        other.add_column(column)
    labels = {"cli_tiny": "`newswatch ingest`, 3 articles", "naive_tiny": "naive script, 3 articles",
              "small_fresh": "`newswatch ingest`, small batch, fresh database",
              "small_archive": "`newswatch ingest`, small batch, archive database",
              "small_plain_fresh": "pipeline as plain functions, small batch, fresh database",
              "small_plain_archive": "pipeline as plain functions, small batch, archive database",
              "cli_tiny_served": "`newswatch ingest`, 3 articles, Prefect API already running (`serve`)",
              "report_1k_served": "`newswatch report --hours 24`, 1k database, Prefect API already running",
              "digest_1k_served": "`newswatch digest send`, 1k database, Prefect API already running"}
    for label in ("1k", "archive"):
        for kind in ("report", "digest"):
            labels[f"{kind}_{label}"] = f"`newswatch {kind}{' send' if kind == 'digest' else ' --hours 24'}`, {label} database"
    for key, label in labels.items():
        if key not in runs:
            continue
        f = runs[key]
        other.add_row(label, f"{f['wall_s']:.1f}", f"{f['cpu_s']:.2f}", f"{f['peak_rss_sum_mb']:.0f}")
        if key.startswith(("report", "digest")) and not key.endswith("served"):
            fn = r[key.replace("_", "_fn_", 1)]
            other.add_row("  its queries + rendering alone (warm)", f"{fn['wall_s']:.1f}", f"{fn['cpu_s']:.2f}", "")
    return [main, other, _aims_table(r)]


def _aims_table(r: dict[str, Any]) -> Table:
    aims = Table(title="aims (issue 15), measured in this run")
    for column in ("aim", "measured", "goal", "met"):
        aims.add_column(column)
    for name, a in r["aims"].items():
        aims.add_row(name, f"{a['value']:.2f}", a["goal"], "yes" if a["met"] else "NO")
    return aims


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command-line entry point; returns the results."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--articles", type=int, default=20, help="articles per feed")
    parser.add_argument("--small-feeds", type=int, default=5, help="feeds of the small-batch run")
    parser.add_argument("--small-articles", type=int, default=10, help="articles per feed of the small-batch run")
    parser.add_argument("--archive", type=int, default=1_000_000, help="articles in the large database")
    parser.add_argument("--archive-only", action="store_true",
                        help="only the runs about archive size: the plain ingest (the archive's seed), the small"
                             " ingest on a fresh and on the archive database, report and digest on both")
    parser.add_argument("--workdir", type=Path, help="a new folder to work in and keep (databases, logs) [default: temporary]")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes of the extraction baseline")
    parser.add_argument("--parallel", type=int, default=16, help="trafilatura --parallel")
    parser.add_argument("--pages-only", action="store_true",
                        help="only the 1,000-page contenders (their table, CPU and memory aims): about a third of the time")
    parser.add_argument("--json", type=Path, help="results file [default benchmarks/results/contenders-<time>.json]")
    args = parser.parse_args(argv)
    if args.workdir:
        args.workdir.mkdir(parents=True)
        results = run(args, args.workdir)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-contenders-") as tmp:
            results = run(args, Path(tmp))
    console = Console(width=None if sys.stdout.isatty() else 120)
    for table in tables(results):
        console.print(table)
    save(results, "contenders", console, args.json)
    return results


if __name__ == "__main__":
    main()
