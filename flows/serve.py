"""Long-running scheduler: serve the ingest, report and digest flows on their cron schedules."""

from __future__ import annotations

from pathlib import Path

from prefect import serve
from prefect.schedules import Cron

from flows.digest import digest_flow
from flows.ingest import ingest_flow
from flows.report import report_flow
from newswatch.config import Config


def deployments(config: Config, sources: Path, database: Path | None) -> list:
    """Deployments for every flow, scheduled from ``settings.schedules``; one per digest."""
    params = {"sources": str(sources.resolve())}
    if database:
        params["database"] = str(database.resolve())
    schedules = config.settings.schedules
    return [
        ingest_flow.to_deployment(
            name="ingest-scheduled",
            parameters=params,
            schedules=[Cron(schedules.ingest, timezone=schedules.timezone)],
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


def serve_forever(config: Config, sources: Path, database: Path | None) -> None:
    """Serve all deployments until interrupted (Ctrl-C)."""
    serve(*deployments(config, sources, database))
