"""prefect.yaml (README "Scaling out"): its structure, and a real deploy + worker run on a Prefect server."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
import yaml
from conftest import REPO, sample_articles, write_sources
from cronsim import CronSim

from newswatch.config import load_config
from newswatch.prefect_env import PREFECT_DEFAULTS

POOL = "newswatch"
PREFECT = [sys.executable, "-m", "prefect"]


def _project() -> dict:
    return yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))


def _deployments() -> dict[str, dict]:
    return {deployment["name"]: deployment for deployment in _project()["deployments"]}


def test_every_deployment_runs_a_real_flow_with_valid_parameters():
    from prefect.flows import Flow, load_flow_from_entrypoint

    flow_names = {}
    for name, deployment in _deployments().items():
        flow = load_flow_from_entrypoint(str(REPO / deployment["entrypoint"]))
        assert isinstance(flow, Flow), name
        inspect.signature(flow.fn).bind(**deployment["parameters"])  # required ones given, no unknown ones
        flow_names[name] = flow.name
        assert deployment["work_pool"]["name"] == POOL, name
        for schedule in deployment["schedules"]:
            CronSim(schedule["cron"], datetime.now())
    assert flow_names == {"ingest-scheduled": "ingest", "report-scheduled": "report", "morning-brief": "digest"}


def test_schedules_and_names_match_newswatch_serve():
    from flows.serve import deployments as served

    config = load_config(REPO / "sources.yaml")
    deployments = _deployments()
    # the same deployments as `newswatch serve`: ingest, report and one per shipped digest
    assert set(deployments) == {d.name for d in served(config, REPO / "sources.yaml", None)}
    shipped = config.settings.schedules  # what `newswatch serve` uses with the shipped sources.yaml
    schedules = {name: [(s["cron"], s["timezone"]) for s in d["schedules"]] for name, d in deployments.items()}
    assert schedules.pop("ingest-scheduled") == [(shipped.ingest, shipped.timezone)]
    assert schedules.pop("report-scheduled") == [(shipped.report, shipped.timezone)]
    for name, digest_schedules in schedules.items():
        digest = config.digest(deployments[name]["parameters"]["digest"])
        assert digest_schedules == [(digest.schedule.cron_expression, digest.schedule.timezone)]


def test_one_ingest_at_a_time_in_the_checkout_of_the_worker_host():
    project = _project()
    ingest = _deployments()["ingest-scheduled"]
    assert ingest["concurrency_limit"]["limit"] == 1
    assert project["pull"] == [
        {"prefect.deployments.steps.set_working_directory": {"directory": "{{ $NEWSWATCH_HOME }}"}}
    ]
    env = project["definitions"]["work_pool"]["job_variables"]["env"]
    client_side = {key: value for key, value in PREFECT_DEFAULTS.items() if "SERVER" not in key}
    client_side.pop("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW")  # runs from a worker are always in a flow
    assert client_side.items() <= env.items()


def _pool_filter():
    from prefect.client.schemas.filters import WorkPoolFilter, WorkPoolFilterName

    return WorkPoolFilter(name=WorkPoolFilterName(any_=[POOL]))


def _prefect(*args: str, env: dict[str, str], cwd: Path = REPO, timeout: float = 600) -> str:
    done = subprocess.run([*PREFECT, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_deploy_and_run_ingest_on_a_process_worker(prefect_server, site, tmp_path):
    """The README steps against a real Prefect API: work pool, deploy --all, deployment run, worker."""
    from prefect import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.settings import PREFECT_API_URL

    sources = write_sources(tmp_path, [
        {"name": "Daily", "url": site.add_feed("/rss.xml", sample_articles()), "language": "en"},
        {"name": "Gone", "url": site.url + "/gone.xml", "language": "en"},
    ])
    database = tmp_path / "worker.duckdb"
    # NEWSWATCH_HOME is set on the worker only: set when deploying, Prefect would substitute it then;
    # newswatch's Prefect settings (set in this process) come from the pool's env, as on a fresh host
    # (DO_NOT_TRACK stays: no Prefect analytics from these processes either)
    fresh = {"NEWSWATCH_HOME", *(key for key in PREFECT_DEFAULTS if key.startswith("PREFECT_"))}
    env = {key: value for key, value in os.environ.items() if key not in fresh}
    env["PREFECT_API_URL"] = PREFECT_API_URL.value()
    worker_env = {**env, "NEWSWATCH_HOME": str(REPO)}

    _prefect("work-pool", "create", POOL, "--type", "process", "--overwrite", env=env)
    _prefect("--no-prompt", "deploy", "--all", env=env)
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("ingest/ingest-scheduled")
        # no scheduled run may reach the worker below (it would fetch the real feeds); pausing deletes them
        for schedule in (s for d in client.read_deployments(work_pool_filter=_pool_filter()) for s in d.schedules):
            client.update_deployment_schedule(schedule.deployment_id, schedule.id, active=False)
    assert deployment.global_concurrency_limit.limit == 1
    assert deployment.concurrency_options.collision_strategy == "CANCEL_NEW"
    shipped = load_config(REPO / "sources.yaml").settings.schedules
    assert [(s.schedule.cron, s.schedule.timezone) for s in deployment.schedules] == [(shipped.ingest, shipped.timezone)]
    assert deployment.pull_steps == _project()["pull"]  # {{ $NEWSWATCH_HOME }} is left for the worker

    started = _prefect(
        "deployment", "run", "ingest/ingest-scheduled",
        "--param", f"sources={sources}", "--param", f"database={database}", env=env,
    )
    flow_run_id = re.search(r"UUID: ([0-9a-f-]{36})", started).group(1)
    # started elsewhere: only the pull step (cd $NEWSWATCH_HOME) lets it find flows/ingest.py
    _prefect("worker", "start", "--pool", POOL, "--run-once", "--prefetch-seconds", "0",
             env=worker_env, cwd=tmp_path, timeout=900)

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(flow_run_id)
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    assert flow_run.state.is_completed(), flow_run.state
    # the pool's env (PREFECT_LOGGING_EXTRA_LOGGERS) brings newswatch's own log lines to the server
    assert ("newswatch.pipeline", "feed Gone failed: HTTP 404") in {(log.name, log.message) for log in logs}
    assert flow_run.parameters == {"sources": str(sources), "database": str(database)}
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM articles").fetchone() == (3,)
