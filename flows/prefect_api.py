"""Which Prefect API newswatch talks to, and the local Prefect server it runs when there is none.

* ``PREFECT_API_URL`` (environment or Prefect profile) set: that server, as it is.
* Otherwise ``newswatch serve`` starts a persistent local Prefect server (API, UI, scheduler)
  on ``settings.prefect.host:port``, keeping its state under ``settings.prefect.home``
  (``<data dir>/prefect``), and supervises it (restarted if it dies).
* Other commands reuse that server while ``serve`` runs (found through ``server.json`` in the
  same folder), or start a temporary API of their own for the command (no UI, no scheduler)
  that records its runs in the same history database.

Every server process started here dies with the process that started it
(:func:`newswatch.lifeline.die_with_parent`). Nothing here imports Prefect at module level.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from newswatch.errors import PrefectServerError
from newswatch.prefect_env import UI_ENV

log = logging.getLogger("newswatch.prefect")
STATE_FILE = "server.json"
BLOCKS_FILE = "blocks-registered"
"""In a server's home: the Prefect version whose block types a start of that server registered."""
STARTUP_TIMEOUT = float(os.environ.get("NEWSWATCH_PREFECT_STARTUP_TIMEOUT", "300"))
"""Seconds a server start may take: a first start migrates its database (slow on a busy machine)."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_in_use(host: str, port: int) -> bool:
    """Whether something accepts connections on ``host:port``."""
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


def healthy(api_url: str, timeout: float = 3.0) -> bool:
    """Whether the Prefect API at ``api_url`` answers its health check."""
    try:
        return httpx.get(f"{api_url}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class LocalServer:
    """A Prefect server process on this machine, with its state (SQLite) in ``home``.

    ``scheduler=False`` gives a temporary API for one command: no UI, no background services.
    """

    home: Path
    host: str = "127.0.0.1"
    port: int = 4200
    scheduler: bool = True
    process: subprocess.Popen | None = field(default=None, init=False, repr=False)

    @property
    def api_url(self) -> str:
        """The API's URL, as ``PREFECT_API_URL`` wants it."""
        return f"http://{self.host}:{self.port}/api"

    @property
    def ui_url(self) -> str:
        """Where the Prefect UI is (``scheduler=True`` servers only)."""
        return f"http://{self.host}:{self.port}/"

    def environment(self) -> dict[str, str]:
        """The server process's environment: its own home, database, address, quiet and private."""
        env = {key: value for key, value in os.environ.items() if key not in ("PREFECT_API_URL", "PREFECT_PROFILE")}
        env.setdefault("PREFECT_SERVER_DATABASE_CONNECTION_URL", f"sqlite+aiosqlite:///{self.home / 'prefect.db'}")
        env.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        env.update({
            "PREFECT_HOME": str(self.home),
            "PREFECT_SERVER_API_HOST": self.host,
            "PREFECT_SERVER_API_PORT": str(self.port),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT__SERVER_FINAL": "1",
        })
        if not self.scheduler:
            env.update({"PREFECT__SERVER_EPHEMERAL": "1", "PREFECT_UI_ENABLED": "0"})
            if self._blocks_registered():  # skip loading every installed collection to find none is new
                env.update({"PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false",
                            "PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false"})
        return env

    def _blocks_registered(self) -> bool:
        """Whether a start with this home already registered this Prefect version's block types."""
        import prefect

        try:
            return (self.home / BLOCKS_FILE).read_text(encoding="ascii").strip() == prefect.__version__
        except (OSError, UnicodeDecodeError):
            return False

    def start(self, meanwhile: Callable[[], object] | None = None) -> None:
        """Start the server process and wait until its API answers (or raise PrefectServerError);
        ``meanwhile`` is called once the process runs, before waiting, so that its work (e.g. the
        caller's imports) overlaps the server's start."""
        import prefect  # only to locate the package; its import is paid by the flows anyway

        self.home.mkdir(parents=True, exist_ok=True)
        # uvicorn, run by a bootstrap that first asks to die with this process (no preexec_fn:
        # that is unsafe in a process with threads, and restarts come from the supervisor thread)
        bootstrap = (
            "import runpy, sys; from newswatch.lifeline import die_with_parent; "
            f"die_with_parent(parent={os.getpid()}); sys.argv[0] = 'uvicorn'; "
            "runpy.run_module('uvicorn', run_name='__main__', alter_sys=True)"
        )
        command = [
            sys.executable, "-c", bootstrap, "--app-dir", str(Path(prefect.__file__).parent.parent),
            "--factory", "prefect.server.api.server:create_app", "--host", self.host,
            "--port", str(self.port), "--log-level", "warning", "--lifespan", "on",
        ]
        env = self.environment()
        with open(self.home / "server.log", "ab") as log_file:
            self.process = subprocess.Popen(
                command, env=env, stdin=subprocess.DEVNULL, stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        if meanwhile is not None:
            meanwhile()
        self._wait_healthy()
        if env.get("PREFECT_SERVER_REGISTER_BLOCKS_ON_START") != "false":  # it registered them at start
            (self.home / BLOCKS_FILE).write_text(prefect.__version__, encoding="ascii")

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PrefectServerError(
                    f"the local Prefect server exited with code {self.process.returncode} at start"
                    f" (see {self.home / 'server.log'})"
                )
            if healthy(self.api_url, timeout=2.0):
                return
            time.sleep(0.2)
        self.stop()
        raise PrefectServerError(
            f"the local Prefect server did not answer within {STARTUP_TIMEOUT:g}s (see {self.home / 'server.log'})"
        )

    def stop(self) -> None:
        """Stop the server process (SIGTERM, then SIGKILL after 20 s)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class SupervisedServer:
    """A scheduling :class:`LocalServer` that is restarted when it dies, and advertised in
    ``home/server.json`` for other newswatch commands while it runs."""

    server: LocalServer
    _stopping: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def state_file(self) -> Path:
        """``server.json``: the running server's URL and process id."""
        return self.server.home / STATE_FILE

    def start(self) -> None:
        """Start the server, advertise it and watch it from a background thread."""
        if port_in_use(self.server.host, self.server.port):
            raise PrefectServerError(
                f"{self.server.host}:{self.server.port} is already in use: set settings.prefect.port to a free"
                " port, or PREFECT_API_URL to use the Prefect server that listens there"
            )
        self.server.start()
        self._advertise()
        threading.Thread(target=self._watch, name="prefect-server-supervisor", daemon=True).start()

    def _advertise(self) -> None:
        assert self.server.process is not None
        state = {"api_url": self.server.api_url, "pid": self.server.process.pid, "owner": os.getpid()}
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(state))
        temporary.replace(self.state_file)

    def _watch(self) -> None:
        delay = 1.0
        while not self._stopping.is_set():
            process = self.server.process
            if process is not None and process.poll() is None:
                self._stopping.wait(1.0)
                continue
            if self._stopping.is_set():
                return
            log.error("the local Prefect server stopped (exit code %s); restarting it in %.0fs",
                      process.returncode if process else "?", delay)
            if self._stopping.wait(delay):
                return
            with self._lock:  # stop() waits for a restart in progress, then stops what it started
                if self._stopping.is_set():
                    return
                try:
                    self.server.start()
                    self._advertise()
                    log.warning("the local Prefect server is back at %s", self.server.api_url)
                    delay = 1.0
                except PrefectServerError as err:
                    log.error("%s", err)
                    delay = min(delay * 2, 60.0)

    def stop(self) -> None:
        """Stop watching, withdraw ``server.json`` and stop the server."""
        self._stopping.set()
        with self._lock:
            self.state_file.unlink(missing_ok=True)
            self.server.stop()


def running_server(home: Path) -> str | None:
    """The API URL of the server a running ``newswatch serve`` advertises in ``home``, if it answers."""
    try:
        state = json.loads((home / STATE_FILE).read_text())
        os.kill(int(state["owner"]), 0)
    except PermissionError:  # serve runs as another user (a systemd service): it is alive
        pass
    except (OSError, ValueError, KeyError, TypeError):
        return None
    url = state.get("api_url")
    return url if isinstance(url, str) and healthy(url) else None


def configured_api_url() -> str | None:
    """``PREFECT_API_URL`` from the environment or the active Prefect profile, if any."""
    from prefect.settings import get_current_settings

    return get_current_settings().api.url


@contextmanager
def use_api(url: str) -> Iterator[str]:
    """Run the enclosed Prefect calls (and child processes) against the API at ``url``."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    previous = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = url
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield url
    finally:
        if previous is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = previous


@contextmanager
def command_api(home: Path, meanwhile: Callable[[], object] = lambda: None) -> Iterator[str]:
    """The API for one command: the configured one, that of a running ``newswatch serve``, or a
    temporary local server for the duration of the command. ``meanwhile`` is called once before
    the command's block runs (while a temporary server starts)."""
    url = configured_api_url() or running_server(home)
    if url:
        os.environ[UI_ENV] = "1"
        meanwhile()
        with use_api(url):
            yield url
        return
    for attempt in range(3):  # a free port can be taken before the server binds it
        server = LocalServer(home, port=free_port(), scheduler=False)
        try:
            server.start(meanwhile)
            meanwhile = lambda: None  # noqa: E731 - done once, whichever attempt succeeds
            break
        except PrefectServerError:
            if attempt == 2:
                raise
    try:
        with use_api(server.api_url):
            try:
                yield server.api_url
            finally:
                drain_prefect_clients()
    finally:
        server.stop()


def drain_prefect_clients() -> None:
    """Send the logs and events still queued in this process to the API (before it stops)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    try:
        APILogWorker.instance().drain()
    except RuntimeError:  # never started
        pass
    EventsWorker.drain_all()
