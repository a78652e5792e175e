"""Schedules that fire: `newswatch serve` alone, and a Prefect server + `prefect deploy` + a polling
worker, each left to its clock with one-minute cron schedules, a local news site and a real SMTP
server. Both set-ups start together (module fixture) so that their minutes overlap."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import httpx
import pytest
import yaml
from conftest import REPO, Article, NewsSite, article_html
from digest_helpers import CSTO_EN, WINE, digest_entry, digest_sources
from proc_tree import alive, descendants
from pytest_httpserver import HTTPServer
from smtp_sink import SmtpServer, free_port
from waiting import DEADLINE, wait_for
from werkzeug import Request, Response

pytestmark = [pytest.mark.slow, pytest.mark.clock, pytest.mark.timeout(1500)]
EVERY_MINUTE = "* * * * *"
SLOW_PAGE = Article("slow-csto", "CSTO: Yerevan asks the alliance for answers",
                    "Armenia asked the CSTO again why it did not help. " * 12)
STUCK_PAGE = Article("stuck", "Tbilisi metro extends its night service",
                     "The Tbilisi metro will run until two in the morning on weekends. " * 12)


def flow_runs(api_url: str, deployment: str, state: str | None = None) -> list[dict]:
    """Flow runs of ``deployment`` (by name), optionally in one state type, from the Prefect REST API."""
    body: dict = {"deployments": {"name": {"any_": [deployment]}}, "sort": "START_TIME_ASC"}
    if state:
        body["flow_runs"] = {"state": {"type": {"any_": [state]}}}
    try:
        response = httpx.post(f"{api_url}/flow_runs/filter", json=body, timeout=30)
    except httpx.HTTPError:
        return []
    return response.json() if response.status_code == 200 else []


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = DEADLINE) -> int:
    """Send ``sig`` to ``process`` and wait for its exit code (generously: a worker or runner
    first waits for, or cancels, the flow runs in flight, which takes minutes on a loaded machine)."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"{process.args[:4]} did not stop within {timeout}s of signal {sig}")


@dataclass
class Stack:
    """One scheduled set-up: its news site, SMTP server, sources and database, and processes."""

    name: str
    tmp: Path
    site: NewsSite
    smtp: SmtpServer
    sources: Path = field(init=False)
    database: Path = field(init=False)
    api_url: str = ""
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    published_at: datetime | None = None
    slow_page: threading.Event | None = None
    stuck_page: threading.Event = field(default_factory=threading.Event)
    stuck_asked: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.database = self.tmp / "data" / "newswatch.duckdb"

    def log(self, process: str) -> str:
        """What ``process`` printed so far."""
        return (self.tmp / f"{process}.log").read_text(encoding="utf-8", errors="replace")

    def start(self, key: str, command: list[str], env: dict[str, str], cwd: Path = REPO) -> subprocess.Popen:
        """Start ``command`` with its output in ``<key>.log``."""
        with open(self.tmp / f"{key}.log", "wb") as out:
            process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL)
        self.processes[key] = process
        return process

    def completed(self, deployment: str) -> list[dict]:
        """Completed runs of ``deployment`` that its schedule created (not started by hand)."""
        return [run for run in flow_runs(self.api_url, deployment, "COMPLETED") if run["auto_scheduled"]]


def client_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The environment of a fresh shell: no Prefect API set, a Prefect home of its own."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PREFECT_", "NEWSWATCH_"))}
    env.update({"PREFECT_HOME": str(tmp / "prefect-client"), "DO_NOT_TRACK": "1", **extra})
    return env


def make_stack(name: str, tmp: Path, site: NewsSite, slow_page: threading.Event | None) -> Stack:
    """A feed at /<name>/rss.xml with one CSTO story, an SMTP server, and sources.yaml with
    every schedule (ingest, report, the digest) set to every minute."""
    smtp = SmtpServer().start()
    stack = Stack(name, tmp, site, smtp, slow_page=slow_page)
    articles = [CSTO_EN]
    if slow_page is not None:  # the first ingest waits on this page until the test releases it
        def slow(request: Request) -> Response:
            slow_page.wait(DEADLINE)
            return Response(article_html(SLOW_PAGE), content_type="text/html; charset=utf-8")
        site.route(f"/news/{SLOW_PAGE.slug}", slow)
        articles.append(SLOW_PAGE)
        def stuck(request: Request) -> Response:  # an ingest in flight when serve is stopped
            stack.stuck_asked.set()
            stack.stuck_page.wait(DEADLINE)
            return Response(article_html(STUCK_PAGE), content_type="text/html; charset=utf-8")
        site.route(f"/news/{STUCK_PAGE.slug}", stuck)
    feed = site.add_feed(f"/{name}/rss.xml", articles)
    stack.sources = digest_sources(
        tmp,
        [{"name": "Daily", "url": feed, "language": "en"}],
        [digest_entry(name="morning-brief", schedule={"cron": EVERY_MINUTE, "timezone": "UTC"})],
        {"sender": "newswatch <alerts@example.org>", "transport": "smtp",
         "smtp": {"host": "127.0.0.1", "port": smtp.port, "security": "none"}},
        database=str(stack.database),
        lock_timeout=DEADLINE,
        http={"timeout": 600, "total_timeout": DEADLINE},  # 600: the largest per-read timeout allowed
        schedules={"ingest": EVERY_MINUTE, "report": EVERY_MINUTE, "timezone": "Asia/Yerevan"},
        prefect={"port": free_port()},
    )
    return stack


def start_serve(stack: Stack) -> None:
    """`newswatch serve` as an operator starts it: no PREFECT_API_URL, nothing else running."""
    stack.start("serve", [sys.executable, "-m", "newswatch", "serve", "--sources", str(stack.sources)],
                client_env(stack.tmp), cwd=stack.tmp)
    state = stack.database.parent / "prefect" / "server.json"
    serve = stack.processes["serve"]

    def api_url() -> str | None:
        assert serve.poll() is None, f"serve exited with {serve.returncode}:\n{stack.log('serve')}"
        return state.exists() and json.loads(state.read_text())["api_url"]

    stack.api_url = wait_for(api_url, "serve's local Prefect server to be up")


def start_server_and_worker(stack: Stack) -> None:
    """README "Scaling out": prefect server start, work pool, deploy --all (a copy of prefect.yaml
    with one-minute schedules), and a polling worker."""
    port = free_port()
    stack.api_url = f"http://127.0.0.1:{port}/api"
    server_env = client_env(stack.tmp, PREFECT_HOME=str(stack.tmp / "prefect-server"),
                            PREFECT_SERVER_ANALYTICS_ENABLED="false")
    stack.start("server", [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                           "--port", str(port)], server_env)
    wait_for(lambda: _healthy(stack.api_url), "prefect server start to answer")
    env = client_env(stack.tmp, PREFECT_API_URL=stack.api_url)
    pool = "newswatch-e2e"
    project = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    for deployment in project["deployments"]:
        deployment["work_pool"] = {**deployment["work_pool"], "name": pool}
        deployment["parameters"] = {**deployment["parameters"], "sources": str(stack.sources),
                                    "database": str(stack.database)}
        deployment["schedules"] = [{"cron": EVERY_MINUTE, "timezone": "UTC"}]
    project_file = stack.tmp / "prefect.yaml"
    project_file.write_text(yaml.safe_dump(project, sort_keys=False), encoding="utf-8")
    for command in (["work-pool", "create", pool, "--type", "process"],
                    ["--no-prompt", "deploy", "--all", "--prefect-file", str(project_file)]):
        done = subprocess.run([sys.executable, "-m", "prefect", *command], env=env, cwd=REPO,
                              capture_output=True, text=True, timeout=DEADLINE)
        assert done.returncode == 0, f"prefect {' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    stack.start("worker", [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool],
                {**env, "NEWSWATCH_HOME": str(REPO)}, cwd=stack.tmp)


def _healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def stacks(tmp_path_factory) -> Iterator[dict[str, Stack]]:
    """Both set-ups, started at once; every process stopped at the end."""
    http = HTTPServer(host="127.0.0.1", port=0, threaded=True)  # a waiting page must not hold up the others
    http.start()
    site = NewsSite(http)
    slow_page = threading.Event()
    built = {
        "serve": make_stack("serve", tmp_path_factory.mktemp("serve"), site, slow_page),
        "worker": make_stack("worker", tmp_path_factory.mktemp("worker"), site, None),
    }
    try:
        start_serve(built["serve"])
        start_server_and_worker(built["worker"])
        yield built
    finally:
        slow_page.set()
        for stack in built.values():
            stack.stuck_page.set()
            for process in reversed(list(stack.processes.values())):
                if process.poll() is None:
                    process.kill()
                    process.wait()
            stack.smtp.stop()
        http.stop()


def publish_more(stack: Stack) -> None:
    """A second, unrelated article in the feed: the next scheduled ingest must store it."""
    stack.site.add_feed(f"/{stack.name}/rss.xml", [CSTO_EN, WINE])
    stack.published_at = datetime.now(UTC)


def started_after(run: dict, moment: datetime) -> bool:
    """Whether a flow run (REST JSON) started after ``moment``."""
    return run["start_time"] is not None and datetime.fromisoformat(run["start_time"]) > moment


def stored_titles(database: Path) -> list[str]:
    """Titles of the stored articles, sorted."""
    with duckdb.connect(str(database), read_only=True) as con:
        return sorted(row[0] for row in con.execute("SELECT title FROM articles").fetchall())


def check_scheduled_work(stack: Stack) -> None:
    """Two scheduled ingests (the second after new items were published), scheduled digests,
    and the CSTO story mailed exactly once."""
    wait_for(lambda: stack.completed("ingest-scheduled"), f"{stack.name}: a first scheduled ingest")
    publish_more(stack)
    wait_for(lambda: [r for r in stack.completed("ingest-scheduled") if started_after(r, stack.published_at)],
             f"{stack.name}: a scheduled ingest after new items were published")
    wait_for(lambda: stack.smtp.received, f"{stack.name}: the digest e-mail")
    first_mail = datetime.now(UTC)
    wait_for(lambda: [r for r in stack.completed("morning-brief") if started_after(r, first_mail)],
             f"{stack.name}: another scheduled digest after the first e-mail")
    assert stack.completed("report-scheduled"), f"{stack.name}: no scheduled report"
    assert len(stack.smtp.received) == 1, [m.message["Subject"] for m in stack.smtp.received]
    mail = stack.smtp.received[0].message
    assert "CSTO" in mail["Subject"]
    assert CSTO_EN.title in mail.get_body(("plain",)).get_content()


def test_newswatch_serve_alone_runs_every_schedule(stacks):
    stack = stacks["serve"]
    serve = stack.processes["serve"]
    # the first ingest waits on a slow page; the next minute's ingest must be skipped, not run beside it
    wait_for(lambda: flow_runs(stack.api_url, "ingest-scheduled", "CANCELLED"),
             "serve: a scheduled ingest cancelled because the previous one is still running")
    stack.slow_page.set()
    check_scheduled_work(stack)

    # an ingest run by hand while serve runs is a flow run on serve's Prefect server (no start of
    # its own: it would fail, it is given no time for it); a report by hand runs without Prefect
    by_hand_env = client_env(stack.tmp, NEWSWATCH_PREFECT_STARTUP_TIMEOUT="0.01")
    for command in ("ingest", "report"):
        done = subprocess.run([sys.executable, "-m", "newswatch", command, "--sources", str(stack.sources)],
                              env=by_hand_env, cwd=stack.tmp, capture_output=True, text=True, timeout=DEADLINE)
        assert done.returncode == 0, done.stderr
    by_hand = {name: [run for run in httpx.post(f"{stack.api_url}/flow_runs/filter", timeout=30,
                                                 json={"flows": {"name": {"any_": [name]}}}).json()
                      if run["deployment_id"] is None]
               for name in ("ingest", "report")}
    assert by_hand["ingest"], "the hand-run ingest is in serve's history"
    assert not by_hand["report"], "the hand-run report is no Prefect flow run"

    # SIGTERM with an ingest in flight: it is cancelled (and recorded so), serve exits 0, nothing remains
    stack.site.add_feed(f"/{stack.name}/rss.xml", [CSTO_EN, WINE, STUCK_PAGE])
    wait_for(stack.stuck_asked.is_set, "serve: an ingest waiting on a page")
    running = flow_runs(stack.api_url, "ingest-scheduled", "RUNNING")
    assert len(running) == 1, running  # one ingest at a time: the one waiting on the page
    tree = descendants(serve.pid)
    assert stop(serve) == 0, stack.log("serve")
    stack.stuck_page.set()
    output = stack.log("serve")
    assert "Traceback" not in output and "Warning" not in output, output
    wait_for(lambda: not alive(tree), "every process of serve to end", deadline=300)
    history = sqlite3.connect(stack.database.parent / "prefect" / "prefect.db")
    (state,) = history.execute("SELECT state_type FROM flow_run WHERE id = ?", (running[0]["id"],)).fetchone()
    history.close()
    assert state == "CANCELLED"
    assert stored_titles(stack.database) == sorted([CSTO_EN.title, SLOW_PAGE.title, WINE.title, STUCK_PAGE.title])
    assert not (stack.database.parent / "prefect" / "server.json").exists()


def test_prefect_server_and_polling_worker_run_every_schedule(stacks):
    stack = stacks["worker"]
    check_scheduled_work(stack)
    assert stop(stack.processes["worker"]) == 0, stack.log("worker")
    # `prefect server start` stops cleanly on Ctrl-C (SIGINT); README's systemd unit says KillSignal=SIGINT
    assert stop(stack.processes["server"], signal.SIGINT) == 0, stack.log("server")
    assert stored_titles(stack.database) == sorted([CSTO_EN.title, WINE.title])
