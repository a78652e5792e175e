"""``newswatch serve``: run the ingest, report and digest flows on their cron schedules.

Prefect's scheduler lives in a Prefect *server*: without ``PREFECT_API_URL``, ``serve`` starts
and supervises a persistent local one (:mod:`flows.prefect_api`), whose UI shows the runs. A
Prefect runner in this process polls it and starts each scheduled run in a process of its own,
which dies with this process. SIGTERM or Ctrl-C stops it all gracefully: runs in flight are
cancelled (and marked so), the schedules paused until the next start.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from flows.digest import digest_flow
from flows.ingest import ingest_flow
from flows.prefect_api import LocalServer, SupervisedServer, configured_api_url, drain_prefect_clients, use_api
from flows.report import report_flow
from newswatch.config import Config
from newswatch.lifeline import ENV_FLAG
from newswatch.prefect_env import UI_ENV

log = logging.getLogger("newswatch.serve")
RUNNER_NAME = "newswatch-serve"


def deployments(config: Config, sources: Path, database: Path | None) -> list:
    """Deployments for every flow, scheduled from ``settings.schedules``; one per digest.

    Ingest runs one at a time: a scheduled ingest that finds the previous one still running is
    cancelled (``CANCEL_NEW``), and the next one picks up everything that is new.
    """
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.schedules import Cron

    params = {"sources": str(sources.resolve())}
    if database:
        params["database"] = str(database.resolve())
    schedules = config.settings.schedules
    return [
        ingest_flow.to_deployment(
            name="ingest-scheduled",
            parameters=params,
            schedules=[Cron(schedules.ingest, timezone=schedules.timezone)],
            concurrency_limit=ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW),
        ),
        report_flow.to_deployment(
            name="report-scheduled",
            parameters=params,
            schedules=[Cron(schedules.report, timezone=schedules.timezone)],
        ),
        *(
            digest_flow.to_deployment(
                name=digest.name,
                parameters={**params, "digest": digest.name},
                schedules=[Cron(digest.schedule.cron_expression, timezone=digest.schedule.timezone)],
            )
            for digest in config.digests
        ),
    ]


def _graceful_runner(name: str):
    """A Prefect runner whose SIGTERM handler cancels the runs in flight (marked Cancelled in
    Prefect) and stops polling, from its event loop, so that ``serve`` exits 0."""
    from prefect.runner import Runner

    class GracefulRunner(Runner):
        stop_task: asyncio.Task | None = None

        def handle_sigterm(self, *args: object) -> None:
            if self.stop_task is not None:  # a second SIGTERM: already stopping
                return
            self._logger.info("SIGTERM received: cancelling runs in flight, then stopping")
            if self._loop is None or not self.started:
                raise SystemExit(0)
            self._loop.call_soon_threadsafe(self._stop_soon)

        def _stop_soon(self) -> None:
            self.stop_task = self._loop.create_task(self.astop())

    return GracefulRunner(name=name)


def serve_forever(config: Config, sources: Path, database: Path | None) -> None:
    """Serve all deployments until SIGTERM or Ctrl-C, on ``PREFECT_API_URL`` or a local server."""
    supervised = None
    url = configured_api_url()
    if url is None:
        prefect = config.settings.prefect
        supervised = SupervisedServer(LocalServer(config.prefect_home, prefect.host, prefect.port))
        supervised.start()
        url = supervised.server.api_url
        log.info("Prefect UI and run history: %s (state in %s)", supervised.server.ui_url, config.prefect_home)
    else:
        log.info("using the Prefect API at %s", url)
    os.environ[ENV_FLAG] = str(os.getpid())  # flow-run processes die with this one
    # a run that does not end within Prefect's grace after SIGTERM is killed; the resource
    # tracker of its parser pool then reports the pool's semaphores, which the system frees
    os.environ["PYTHONWARNINGS"] = ",".join(
        filter(None, [os.environ.get("PYTHONWARNINGS"), "ignore:resource_tracker:UserWarning"])
    )
    os.environ[UI_ENV] = "1"  # their "View at" links lead to a UI
    try:
        with use_api(url):
            runner = _graceful_runner(RUNNER_NAME)
            for deployment in deployments(config, sources, database):
                runner.add_deployment(deployment)
            schedules = config.settings.schedules
            log.info(
                "serving: ingest %r, report %r (%s), %d digest(s); SIGTERM or Ctrl-C stops",
                schedules.ingest, schedules.report, schedules.timezone, len(config.digests),
            )
            try:
                asyncio.run(runner.start())
            except KeyboardInterrupt:
                log.info("interrupted: stopping")
            finally:
                drain_prefect_clients()
    finally:
        if supervised is not None:
            supervised.stop()
