"""The analyst's workspace under test: a newsroom ingested from a local news site, and
``newswatch web`` started as a real process on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from conftest import REPO, Article
from digest_helpers import (
    CSTO_EN,
    CSTO_HY,
    PEACE_KA,
    PEACE_RU,
    WINE,
    Newsroom,
    paragraphs,
)

from newswatch.config import Config

HOSTILE = Article(
    "hostile", "<script>alert('title')</script> CSTO drills <img src=x onerror=alert(1)>",
    paragraphs("The CSTO held drills near Yerevan <script>alert('body')</script> and Armenia stayed away.",
               "Observers said the CSTO exercise was a signal to Armenia."),
)
# another outlet's edited copy: one story with two outlets
CSTO_COPY = Article("csto-copy", CSTO_EN.title, CSTO_EN.body + "\n" + paragraphs("Moscow declined to comment on the summit."))


def fill_newsroom(room: Newsroom, ingest: bool = True) -> Config:
    """Publish articles in four languages (a CSTO story carried by two outlets, a hostile
    title) and, with ``ingest``, ingest them once; return the configuration."""
    room.publish("en", CSTO_EN, WINE, HOSTILE)
    room.publish("ru", PEACE_RU, CSTO_COPY)
    room.publish("hy", CSTO_HY)
    room.publish("ka", PEACE_KA)
    config = room.config([])
    if ingest:
        room.ingest(config)
    return config


def newswatch(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run a ``newswatch`` command as a user does (Prefect in local ephemeral mode)."""
    env = {**os.environ, "PREFECT_HOME": str(cwd / ".prefect")}
    env.pop("PREFECT_API_URL", None)
    return subprocess.run([sys.executable, "-m", "newswatch", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(url: str, proc: subprocess.Popen, deadline: float = 60.0) -> None:
    """Poll ``url`` until the server answers (any status), or fail with its output."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"newswatch web exited {proc.returncode}: {proc.stderr.read()[-3000:]}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.1)  # polling interval while the server starts
    raise AssertionError(f"newswatch web did not answer at {url} within {deadline} s")


@contextmanager
def web_server(sources: Path, cwd: Path, env_extra: dict[str, str] | None = None,
               db: Path | None = None) -> Iterator[str]:
    """``newswatch web`` on a free loopback port until the block ends; yields its base URL."""
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(cwd / ".prefect"), **(env_extra or {})}
    args = [sys.executable, "-m", "newswatch", "web", "--port", str(port), "--sources", str(sources)]
    proc = subprocess.Popen(args + (["--db", str(db)] if db else []), cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url + "/static/web.css", proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


__all__ = ["CSTO_COPY", "HOSTILE", "REPO", "fill_newsroom", "free_port", "newswatch", "web_server"]
