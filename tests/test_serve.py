"""`newswatch serve` deployments carry the schedules from sources.yaml."""

from __future__ import annotations

from conftest import REPO

from newswatch.config import load_config


def test_deployments_use_configured_cron_and_time_zone(tmp_path):
    from flows.serve import deployments

    config = load_config(REPO / "sources.yaml")
    built = {d.name: d for d in deployments(config, REPO / "sources.yaml", tmp_path / "x.duckdb")}
    assert set(built) == {"ingest-scheduled", "report-scheduled", *(digest.name for digest in config.digests)}
    ingest = built["ingest-scheduled"].schedules[0].schedule
    report = built["report-scheduled"].schedules[0].schedule
    assert (ingest.cron, ingest.timezone) == (config.settings.schedules.ingest, config.settings.schedules.timezone)
    assert report.cron == config.settings.schedules.report
    params = built["ingest-scheduled"].parameters
    assert params == {"sources": str((REPO / "sources.yaml").resolve()), "database": str(tmp_path / "x.duckdb")}
