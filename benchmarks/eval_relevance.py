"""Relevance as analysts get it: per topic precision and recall per article and per story, read
from the HTML report and the e-mail digest, and the share of dates right to the hour.

    uv run python benchmarks/eval_relevance.py [--part tuning|heldout|both] [--json FILE]
                                               [--semantic] [--set relevance|relevance2|relevance3]

Each part is served on loopback as feeds and article pages: the tuning part
(``tests/labelled/articles.yaml``, on the tuning outlets of ``tests/tuning_layouts.py``, with
dates assigned in turn: feed and page, page only, feed only, none) and the held-out part
(``tests/heldout/relevance.yaml``, or the second or third set ``relevance2.yaml`` /
``relevance3.yaml`` with ``--set relevance2`` / ``--set relevance3``, on the outlets of
``tests/heldout/layouts.py``, with its own dates), each in a
fresh database. Then the real commands run, as users run them:
``newswatch ingest``, ``newswatch report`` and ``newswatch digest send --dry-run`` (the shipped
topics, entities and digest of ``sources.yaml``; the digest's ``max_items`` is lifted so that
no story is cut for volume). Figures are read back from the stored matches (per article) and
from the rendered report and digest (per story: a story counts for a topic when one of its
articles is listed in that topic's section). ``--semantic`` also measures matching by meaning
on the stored texts: its effect on F1 and its speed (articles/s). Held-out figures are to be
reported, never tuned on.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from lxml import html as lxml_html

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
TUNING = REPO / "tests" / "labelled" / "articles.yaml"
HELDOUT = REPO / "tests" / "heldout"
HELDOUT_SETS = ("relevance", "relevance2", "relevance3")  # tests/heldout/<name>.yaml, written by different authors
DIGEST = "morning-brief"
HOUR = timedelta(hours=1)

Render = Callable[..., str]


def _module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def _moment(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def tuning_items(now: datetime) -> tuple[list[dict], Render]:
    """The labelled set as served items: each its own story, outlets and date styles in turn."""
    layouts = _module(REPO / "tests" / "tuning_layouts.py", "tuning_layouts")
    items = []
    for n, article in enumerate(yaml.safe_load(TUNING.read_text(encoding="utf-8"))):
        moment = (now - timedelta(hours=2 + n % 20, minutes=7 * n % 60)).replace(second=0, microsecond=0)
        style = n % 4  # 0: feed and page state it, 1: page only, 2: feed only, 3: neither
        outlet = layouts.OUTLETS[n % len(layouts.OUTLETS)]
        items.append({
            "id": article["id"], "lang": article["lang"], "title": article["title"],
            "paragraphs": [p for p in article["body"].split("\n") if p.strip()],
            "topics": article["topics"], "story": article["id"],
            "class": article.get("class", "positive" if article["topics"] else "negative"),
            "outlet": outlet,
            "feed_published": moment if style in (0, 2) else None,
            "page_published": moment if style in (0, 1) and outlet not in layouts.UNDATED else None,
        })
    return items, layouts.render_page


def heldout_items(path: Path) -> tuple[list[dict], Render]:
    """A held-out set as served items (read only here, to be served and scored)."""
    layouts = _module(HELDOUT / "layouts.py", "heldout_layouts")
    items = []
    for entry in yaml.safe_load(path.read_text(encoding="utf-8")):
        items.append({
            "id": entry["id"], "lang": entry["lang"], "title": entry["title"],
            "paragraphs": [p.strip() for p in entry["body"].split("\n\n") if p.strip()],
            "topics": entry["topics"], "story": entry["story"], "outlet": entry["outlet"],
            "class": entry.get("class", "positive" if entry["topics"] else "negative"),
            "feed_published": _moment(entry.get("feed_published")),
            "page_published": _moment(entry.get("page_published")),
        })
    return items, layouts.render_page


# -- serving --------------------------------------------------------------------------------

class Site:
    """Feeds (one per outlet and language) and article pages on a loopback HTTP server."""

    def __init__(self, items: list[dict], render: Render) -> None:
        self.items, self.render = items, render
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        for item in items:
            item["url"] = f"{self.base}/{item['outlet']}/{item['lang']}/{item['id']}"
        self.pages = {urlsplit(i["url"]).path: i for i in items}
        self.feeds: dict[str, list[dict]] = {}
        for item in items:
            self.feeds.setdefault(f"/{item['outlet']}/{item['lang']}/rss.xml", []).append(item)

    def _handler(self):
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                body, kind = site.respond(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", kind)
                payload = (body or "not found").encode("utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        return Handler

    def respond(self, path: str) -> tuple[str | None, str]:
        if path in self.feeds:
            return self.rss(self.feeds[path]), "application/rss+xml"
        item = self.pages.get(path)
        if item is None:
            return None, "text/plain"
        page = self.render(item["outlet"], title=item["title"], paragraphs=item["paragraphs"],
                           lang=item["lang"], published=item["page_published"], url=item["url"])
        return page, "text/html; charset=utf-8"

    @staticmethod
    def rss(items: list[dict]) -> str:
        entries = "".join(
            f"<item><title>{escape(i['title'])}</title><link>{escape(i['url'])}</link>"
            f"<guid>{escape(i['url'])}</guid>"
            + (f"<pubDate>{format_datetime(i['feed_published'])}</pubDate>" if i["feed_published"] else "")
            + f"<description>{escape(i['paragraphs'][0][:200])}</description></item>"
            for i in items
        )
        return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>feed</title>{entries}</channel></rss>'

    def __enter__(self) -> Site:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- running the commands -------------------------------------------------------------------

def write_sources(site: Site, folder: Path, semantic: bool) -> Path:
    """The shipped sources.yaml with this site's feeds, a fresh database and the outbox here."""
    data = yaml.safe_load((REPO / "sources.yaml").read_text(encoding="utf-8"))
    settings = data["settings"]
    settings["database"] = str(folder / "eval.duckdb")
    settings["semantic"] = semantic
    settings["http"].update({"allow_hosts": ["127.0.0.1"], "per_host_delay": 0, "per_host_concurrency": 8,
                             "respect_robots": False, "retries": 0})
    settings["mail"] = {"sender": "newswatch <newswatch@example.org>", "transport": "outbox",
                        "outbox_dir": str(folder / "outbox")}
    settings["feeds_out"] = {"enabled": False}
    data.pop("channels", None)
    data.pop("alerts", None)
    data["feeds"] = [{"name": path.strip("/").rsplit("/", 1)[0].replace("/", " "), "url": site.base + path,
                      "language": items[0]["lang"]} for path, items in sorted(site.feeds.items())]
    for digest in data["digests"]:
        digest["max_items"] = 10_000
    path = folder / "sources.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def newswatch(sources: Path, *args: str) -> str:
    """Run one ``newswatch`` command as users do; its output."""
    result = subprocess.run([sys.executable, "-m", "newswatch", "--quiet", *args, "--sources", str(sources)],
                            cwd=sources.parent, capture_output=True, text=True, timeout=3600,
                            env={**os.environ, "NEWSWATCH_SOURCES": str(sources)})
    if result.returncode not in (0, 4):
        raise SystemExit(f"newswatch {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout


def listed(html_file: Path, topics: list[str]) -> dict[str, set[str]]:
    """Topic -> URLs of the items listed in a rendered report or digest: those in the topic's
    section, and those listed elsewhere that say they are "also about" it (a digest lists a
    story once)."""
    tree = lxml_html.fromstring(html_file.read_bytes())
    out: dict[str, set[str]] = {}
    topic = None
    for element in tree.iter("h2", "div"):
        if element.tag == "h2":
            topic = " ".join(element.text_content().split()).rsplit(" (", 1)[0]
            continue
        if topic is None or "item" not in (element.get("class") or "").split():
            continue
        link = next((a for a in element.iter("a") if "item-title" in (a.get("class") or "")), None)
        if link is None:
            continue
        text = " ".join(element.text_content().split())
        also = text.split("also about ", 1)[1] if "also about " in text else ""
        for name in [topic, *(t for t in topics if t in also)]:
            out.setdefault(name, set()).add(link.get("href"))
    return out


# -- scoring --------------------------------------------------------------------------------

def prf(expected: set[str], got: set[str]) -> dict:
    tp, fp, fn = len(expected & got), len(got - expected), len(expected - got)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": round(precision, 3), "recall": round(recall, 3),
            "f1": round(f1, 3)}


def score_part(items: list[dict], topics: list[str], matched: dict[str, set[str]],
               report: dict[str, set[str]], digest: dict[str, set[str]], digest_topics: list[str]) -> dict:
    by_url = {i["url"]: i for i in items}
    figures: dict[str, dict] = {}
    for topic in topics:
        want_articles = {i["url"] for i in items if topic in i["topics"]}
        got_articles = {url for url, found in matched.items() if topic in found}
        want_stories = {i["story"] for i in items if topic in i["topics"]}
        row = {"articles": prf(want_articles, got_articles),
               "report": prf(want_stories, {by_url[u]["story"] for u in report.get(topic, ()) if u in by_url})}
        if topic in digest_topics:
            row["digest"] = prf(want_stories, {by_url[u]["story"] for u in digest.get(topic, ()) if u in by_url})
        figures[topic] = row
    return figures


def score_classes(items: list[dict], matched: dict[str, set[str]]) -> dict[str, dict]:
    """Per class of item: how many, how many matched a topic they are not about (false alarms)
    and how many missed a topic they are about."""
    out: dict[str, dict] = {}
    for item in items:
        got, want = matched.get(item["url"], set()), set(item["topics"])
        row = out.setdefault(item["class"], {"items": 0, "false_alarms": 0, "misses": 0})
        row["items"] += 1
        row["false_alarms"] += bool(got - want)
        row["misses"] += bool(want - got)
    return dict(sorted(out.items()))


def score_dates(items: list[dict], stored: dict[str, tuple[datetime | None, datetime]]) -> dict:
    """Share of items whose stored date is right to the hour (the feed's, else the page's, else
    the time first seen), among those whose feed or page states one and among the others."""
    stated = right_stated = unstated = right_unstated = 0
    wrong: list[str] = []
    for item in items:
        published, found = stored.get(item["url"], (None, None))
        if found is None:
            continue
        expected = item["feed_published"] or item["page_published"]
        if expected is not None:
            stated += 1
            ok = published is not None and abs(published - expected) < HOUR
            right_stated += ok
        else:
            unstated += 1
            ok = published is None or abs(published - found) < HOUR
            right_unstated += ok
        if not ok:
            wrong.append(item["id"])
    return {"stated": stated, "stated_right": right_stated, "unstated": unstated,
            "unstated_right": right_unstated, "wrong": wrong}


def semantic_effect(db_path: Path, items: list[dict], topics: list[str]) -> dict:
    """F1 per topic by keywords alone and with meaning, on the stored texts, and the speed."""
    import duckdb

    from newswatch.config import load_config
    from newswatch.match import compile_topics

    config = load_config(REPO / "sources.yaml")
    con = duckdb.connect(str(db_path), read_only=True)
    rows = con.execute("SELECT url, title, coalesce(text, summary), language FROM articles").fetchall()
    con.close()
    urls = {i["url"] for i in items}
    rows = [r for r in rows if r[0] in urls]
    want = {t: {i["url"] for i in items if t in i["topics"]} for t in topics}
    out = {}
    for mode, semantic in (("keywords", False), ("keywords+semantic", True)):
        matcher = compile_topics(list(config.topics), dict(config.entities), semantic=semantic)
        matcher.match("warm up", "the model loads once", "en")
        start = time.perf_counter()
        got = {r[0]: {m.topic for m in matcher.match(r[1], r[2], r[3])} for r in rows}
        seconds = time.perf_counter() - start
        out[mode] = {"articles_per_s": round(len(rows) / seconds, 1),
                     "f1": {t: prf(want[t], {u for u, found in got.items() if t in found})["f1"] for t in topics}}
    return out


def evaluate(name: str, items: list[dict], render: Render, semantic: bool) -> dict:
    """Serve ``items``, run ingest, report and digest, and score what they show."""
    import duckdb

    with tempfile.TemporaryDirectory(prefix=f"eval-{name}-") as tmp, Site(items, render) as site:
        folder = Path(tmp)
        sources = write_sources(site, folder, semantic=False)
        started = time.perf_counter()
        newswatch(sources, "ingest")
        ingest_s = time.perf_counter() - started
        newswatch(sources, "report", "--hours", "48", "--out", str(folder / "reports"))
        newswatch(sources, "digest", "send", DIGEST, "--dry-run", "--outbox", str(folder / "outbox"))
        con = duckdb.connect(str(folder / "eval.duckdb"), read_only=True)
        matched: dict[str, set[str]] = {}
        for url, topic in con.execute("SELECT a.url, m.topic FROM matches m JOIN articles a ON a.id = m.article_id").fetchall():
            matched.setdefault(url, set()).add(topic)
        stored = {url: (published, found) for url, published, found in
                  con.execute("SELECT url, published_at, discovered_at FROM articles").fetchall()}
        con.close()
        config = yaml.safe_load(sources.read_text(encoding="utf-8"))
        topics = [t["name"] for t in config["topics"]]
        digest_topics = next(d["topics"] for d in config["digests"] if d["name"] == DIGEST)
        report = listed(next((folder / "reports").glob("*.html")), topics)
        digests = sorted((folder / "outbox").glob("*.html"))
        digest = listed(digests[0], topics) if digests else {}
        result = {
            "items": len(items), "stored": len(stored), "ingest_s": round(ingest_s, 1),
            "topics": score_part(items, topics, matched, report, digest, digest_topics),
            "dates": score_dates(items, stored),
            "classes": score_classes(items, matched),
        }
        if semantic:
            result["semantic"] = semantic_effect(folder / "eval.duckdb", items, topics)
        return result


def table(name: str, result: dict) -> str:
    lines = [f"== {name}: {result['items']} articles, {result['stored']} stored, ingest {result['ingest_s']} s",
             f"{'topic':<22}{'view':<10}{'tp':>4}{'fp':>4}{'fn':>4}{'precision':>11}{'recall':>8}{'F1':>7}"]
    for topic, views in result["topics"].items():
        for view, f in views.items():
            unit = "articles" if view == "articles" else f"stories ({view})"
            lines.append(f"{topic:<22}{unit:<10}{f['tp']:>4}{f['fp']:>4}{f['fn']:>4}"
                         f"{f['precision']:>11.3f}{f['recall']:>8.3f}{f['f1']:>7.3f}")
    d = result["dates"]
    lines.append(f"dates right to the hour: {d['stated_right']}/{d['stated']} where the feed or page states one, "
                 f"{d['unstated_right']}/{d['unstated']} first-seen where none does")
    lines.append("per class (articles): " + "; ".join(
        f"{name} {c['items']} ({c['false_alarms']} false alarms, {c['misses']} missed)"
        for name, c in result["classes"].items()))
    if "semantic" in result:
        for mode, s in result["semantic"].items():
            lines.append(f"{mode:<20} {s['articles_per_s']:>8} articles/s  F1 "
                         + ", ".join(f"{t} {v:.3f}" for t, v in s["f1"].items()))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("tuning", "heldout", "both"), default="both")
    parser.add_argument("--semantic", action="store_true", help="also measure matching by meaning (effect, speed)")
    parser.add_argument("--set", choices=HELDOUT_SETS, default="relevance",
                        help="which held-out file the held-out part reads (tests/heldout/SET.yaml)")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    heldout = HELDOUT / f"{args.set}.yaml"
    now = datetime.now(UTC)
    parts = {}
    if args.part in ("tuning", "both"):
        parts["tuning"] = tuning_items(now)
    if args.part in ("heldout", "both"):
        if heldout.exists():
            parts["heldout"] = heldout_items(heldout)
        else:
            print(f"no held-out set at {heldout.relative_to(REPO)}: tuning part only")
    results = {}
    for name, (items, render) in parts.items():
        results[name] = evaluate(name, items, render, args.semantic)
        print(table(name, results[name]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
