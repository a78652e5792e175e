"""Benchmark story clustering on synthetic syndicated news.

    uv run python benchmarks/bench_cluster.py [--n 100000] [--batch 500] [--editions] [--edition-share 0.05]

Generates ``--n`` articles arriving over simulated days (``--per-day``): a share are edited
copies (reworded lead, outlet boilerplate, photo caption, cut ending) of a story published
in the previous two days by outlets of its language, a share (``--edition-share``) are
editions of such a story in another language (other words, the same names in its script
and the same figures), the rest new stories. Titles name two or three of 5,000 people and
places (Zipf-like frequencies, written in the script of the outlet's language) with the day
of the month and often a figure, as news titles do. Articles are clustered batch by batch into
a DuckDB file, one transaction per batch, as the pipeline does. Prints a table and writes
JSON to benchmarks/results/: articles/s, seconds per 10k articles, the ratio of the last
10k to the first 10k, peak RSS, database size, and pairwise precision/recall against the
generator's ground truth. Outlets publish in five languages; ``--editions`` clusters the same
stream twice, without and then with editions in other languages (``clusters.editions``:
founders that share rare names or figures with a founder in another language are embedded
with the model of the ``semantic`` extra), and prints the cost ratio of the two and how many
founders were embedded; site chrome is always learned. Times are wall clock and CPU time of this process (all threads;
steadier than wall clock when other processes share the machine).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from newswatch.cluster import StoryClusterer  # noqa: E402
from newswatch.config import ClusterSettings  # noqa: E402
from newswatch.models import ClusterInput  # noqa: E402
from storage.clusters import ClusterTables  # noqa: E402
from storage.db import Database  # noqa: E402

VOCABULARY = 40_000
OUTLETS = 60
START = datetime(2025, 1, 1, tzinfo=UTC)
LANGUAGES = ("en", "ru", "hy", "az", "ka")  # of outlets, so that editions are looked for
NAMES = 5_000
# Latin letters of the generated names in the other scripts (Georgian has no capitals).
_SCRIPTS = {
    "ru": str.maketrans("bdgklmnprstvzaeiouBDGKLMNPRSTVZ", "бдгклмнпрствзаеиоуБДГКЛМНПРСТВЗ"),
    "hy": str.maketrans("bdgklmnprstvzaeioBDGKLMNPRSTVZ", "բդգկլմնպրստվզաեիոԲԴԳԿԼՄՆՊՐՍՏՎԶ"),
    "ka": str.maketrans("bdgklmnprstvzaeiouBDGKLMNPRSTVZ", "ბდგკლმნპრსტვზაეიოუბდგკლმნპრსტვზ"),
}


@dataclass(frozen=True, slots=True)
class Story:
    """A generated story: its words and when it first appeared."""

    number: int
    words: np.ndarray
    published: datetime
    language: int
    names: tuple[int, ...]
    figures: tuple[int, ...]


class Generator:
    """Deterministic stream of synthetic articles with known story labels."""

    def __init__(self, seed: int, copy_share: float, per_day: int, edition_share: float = 0.0):
        self.rng = np.random.default_rng(seed)
        ranks = np.arange(1, VOCABULARY + 1)
        self.p = (1 / ranks) / (1 / ranks).sum()  # Zipf-like word frequencies
        self.vocab = np.array([f"w{i}" for i in range(VOCABULARY)])
        self.boilerplate = [self._words(25) for _ in range(OUTLETS)]
        syllables = [c + v for c in "bdgklmnprstvz" for v in "aeio"]
        self.names = [
            "".join(self.rng.choice(syllables, size=int(self.rng.integers(2, 5)))).capitalize() for _ in range(NAMES)
        ]
        self.name_p = (1 / np.arange(1, NAMES + 1)) / (1 / np.arange(1, NAMES + 1)).sum()
        self.copy_share = copy_share
        self.edition_share = edition_share
        self.step = timedelta(days=1) / per_day
        self.recent: deque[Story] = deque()
        self.stories = 0

    def _words(self, count: int) -> np.ndarray:
        return self.rng.choice(VOCABULARY, size=count, p=self.p)

    def _edited(self, words: np.ndarray, outlet: int) -> np.ndarray:
        """A republished copy: some of these edits, each with its own probability."""
        parts = [words]
        if self.rng.random() < 0.5:  # reworded lead
            lead = int(len(words) * 0.15)
            parts[0] = np.concatenate([self._words(lead), words[lead:]])
        if self.rng.random() < 0.3:  # cut ending
            parts[0] = parts[0][: int(len(words) * 0.85)]
        if self.rng.random() < 0.4:  # photo caption
            parts.insert(0, self._words(12))
        if self.rng.random() < 0.6:  # outlet boilerplate
            parts.append(self.boilerplate[outlet])
        return np.concatenate(parts)

    def _outlet(self, language: int) -> int:
        """A random outlet publishing in ``language``."""
        return language + len(LANGUAGES) * int(self.rng.integers(OUTLETS // len(LANGUAGES)))

    def _title(self, story: Story, language: str) -> str:
        """Names, figures and words of a story's title, names in the script of ``language``."""
        names = [self.names[n] for n in story.names]
        if language in _SCRIPTS:
            names = [name.translate(_SCRIPTS[language]) for name in names]
        words = self.vocab[self._words(4)].tolist()
        return " ".join([names[0], *words[:2], *names[1:], *words[2:], *map(str, story.figures)])

    def articles(self, n: int) -> Iterator[tuple[ClusterInput, int]]:
        """(article, story number) pairs in arrival order."""
        for i in range(n):
            at = START + i * self.step
            while self.recent and at - self.recent[0].published > timedelta(days=2):
                self.recent.popleft()
            draw = self.rng.random()
            if self.recent and draw < self.copy_share:
                story = self.recent[int(self.rng.integers(len(self.recent)))]
                outlet = self._outlet(story.language)
                words = self._edited(story.words, outlet)
            elif self.recent and draw < self.copy_share + self.edition_share:
                original = self.recent[int(self.rng.integers(len(self.recent)))]
                language = (original.language + int(self.rng.integers(1, len(LANGUAGES)))) % len(LANGUAGES)
                story = Story(original.number, self._words(int(self.rng.integers(120, 600))), at, language,
                              original.names, original.figures)
                self.recent.append(story)
                outlet, words = self._outlet(language), story.words
            else:
                names = self.rng.choice(NAMES, size=int(self.rng.integers(2, 4)), replace=False, p=self.name_p)
                figures = (at.day, int(self.rng.integers(1, 1000))) if self.rng.random() < 0.5 else (at.day,)
                story = Story(self.stories, self._words(int(self.rng.integers(120, 600))), at,
                              int(self.rng.integers(len(LANGUAGES))), tuple(names.tolist()), figures)
                self.stories += 1
                self.recent.append(story)
                outlet, words = self._outlet(story.language), story.words
            text = " ".join(self.vocab[words].tolist())
            language = LANGUAGES[story.language]
            yield (ClusterInput(f"a{i}", self._title(story, language), text, f"outlet{outlet}", at, language),
                   story.number)


def current_rss_mb() -> float:
    """Resident memory of this process now (Linux /proc), in MiB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return round(pages * resource.getpagesize() / 2**20, 1)


def pair_counts(pairs: Counter) -> int:
    """Number of unordered pairs within groups of the given sizes."""
    return sum(size * (size - 1) // 2 for size in pairs.values())


def run(n: int, batch: int, per_day: int, copy_share: float, db: Path, editions: bool = False,
        edition_share: float = 0.0) -> dict:
    """Cluster ``n`` generated articles into ``db``; return the measurements."""
    con = duckdb.connect(str(db))
    Database(con, None).migrate()
    settings = ClusterSettings(editions=editions)
    clusterer = StoryClusterer(settings)
    stream = Generator(seed=42, copy_share=copy_share, per_day=per_day, edition_share=edition_share).articles(n)
    truth: dict[str, int] = {}
    language: dict[str, str | None] = {}
    assigned: dict[str, str] = {}
    chunk_seconds: list[float] = []
    chunk_cpu: list[float] = []
    rss: list[float] = []
    elapsed = chunk = cpu = 0.0
    done = 0
    while done < n:
        items = [next(stream) for _ in range(min(batch, n - done))]
        articles = [article for article, _ in items]
        truth.update((article.id, story) for article, story in items)
        language.update((article.id, article.language) for article, _ in items)
        start, start_cpu = time.perf_counter(), time.process_time()
        con.execute("BEGIN TRANSACTION")
        assigned.update(clusterer.assign(ClusterTables(con), articles))
        con.execute("COMMIT")
        took = time.perf_counter() - start
        elapsed += took
        chunk += took
        cpu += time.process_time() - start_cpu
        done += len(articles)
        if done % 10_000 == 0 or done == n:
            chunk_seconds.append(chunk)
            chunk_cpu.append(cpu)
            rss.append(current_rss_mb())
            chunk = cpu = 0.0
    founders, embedded = con.execute("SELECT count(*), count(embedding) FROM cluster_editions").fetchone()
    con.execute("CHECKPOINT")
    con.close()

    # Pairwise scores within a language; editions in other languages are counted apart.
    together = pair_counts(Counter((assigned[a], language[a]) for a in truth))
    related = pair_counts(Counter((truth[a], language[a]) for a in truth))
    both = pair_counts(Counter((assigned[a], truth[a], language[a]) for a in truth))
    editions_related = pair_counts(Counter(truth.values())) - related
    editions_found = pair_counts(Counter((assigned[a], truth[a]) for a in truth)) - both
    full = sum(1 for i in range(len(chunk_seconds)) if (i + 1) * 10_000 <= n)
    wall, cpu_s = chunk_seconds[:full], chunk_cpu[:full]
    return {
        "n": n,
        "batch": batch,
        "articles_per_day": per_day,
        "copy_share": copy_share,
        "edition_share": edition_share,
        "settings": settings.model_dump(),
        "bands": clusterer.bands,
        "rows": clusterer.rows,
        "seconds": round(elapsed, 3),
        "cpu_seconds": round(sum(chunk_cpu), 3),
        "articles_per_second": round(n / elapsed, 1),
        "seconds_per_10k": [round(s, 3) for s in wall],
        "cpu_seconds_per_10k": [round(s, 3) for s in cpu_s],
        "last_to_first_10k": round(wall[-1] / wall[0], 3) if full else None,
        "last_to_first_10k_cpu": round(cpu_s[-1] / cpu_s[0], 3) if full else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_mb_per_10k": rss,
        "db_mb": round(db.stat().st_size / 2**20, 1),
        "stories": len(set(truth.values())),
        "clusters": len(set(assigned.values())),
        "founders_recorded": founders,
        "embedded": embedded,
        "pair_precision": round(both / together, 4) if together else 1.0,
        "pair_recall": round(both / related, 4) if related else 1.0,
        "edition_pairs": editions_related,
        "edition_pair_recall": round(editions_found / editions_related, 4) if editions_related else 1.0,
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark, print a table, write JSON; return the result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="articles to cluster")
    parser.add_argument("--batch", type=int, default=500, help="articles per transaction")
    parser.add_argument("--per-day", type=int, default=1500, help="simulated articles per day")
    parser.add_argument("--copy-share", type=float, default=0.4, help="share of edited copies")
    parser.add_argument("--edition-share", type=float, default=0.05, help="share of editions in another language")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--db", type=Path, help="keep the database here (default: temporary)")
    parser.add_argument("--editions", action="store_true",
                        help="run once without and once with editions in other languages; print the cost ratio")
    args = parser.parse_args(argv)
    modes = (False, True) if args.editions else (False,)
    results = {}
    for editions in modes:
        with tempfile.TemporaryDirectory() as tmp:
            db = args.db or Path(tmp) / "bench.duckdb"
            if db.exists():
                db.unlink()
            results[editions] = run(args.n, args.batch, args.per_day, args.copy_share, db, editions, args.edition_share)
    result = results[False]
    if args.editions:
        result = results[True] | {
            "without_editions": results[False],
            "editions_cost_ratio": round(results[True]["seconds"] / results[False]["seconds"], 3),
            "editions_cpu_ratio": round(results[True]["cpu_seconds"] / results[False]["cpu_seconds"], 3),
        }
    for key in ("n", "batch", "seconds", "cpu_seconds", "articles_per_second", "seconds_per_10k",
                "cpu_seconds_per_10k", "last_to_first_10k", "last_to_first_10k_cpu", "peak_rss_mb",
                "rss_mb_per_10k", "db_mb", "stories", "clusters", "founders_recorded", "embedded", "pair_precision",
                "pair_recall", "edition_pairs", "edition_pair_recall",
                "editions_cost_ratio", "editions_cpu_ratio"):
        if key in result:
            print(f"{key:<22} {result[key]}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"bench_cluster_n{args.n}{'_editions' if args.editions else ''}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {path}")
    return result


if __name__ == "__main__":
    main()
