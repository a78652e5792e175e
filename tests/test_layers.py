"""Layers: storage depends on records and configuration values only; code outside storage uses
``Database``; loading the configuration and the light commands import nothing heavy."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest
from conftest import REPO
from digest_helpers import CSTO_EN, Newsroom, digest_entry, mail_settings

HEAVY = ("scipy", "datasketch", "duckdb", "trafilatura", "prefect")
# What storage/ may import from newswatch/: the records, configuration values, and the errors
# it raises (StorageError).
STORAGE_MAY_IMPORT = {"newswatch.models", "newswatch.config", "newswatch.errors"}


PACKAGES = ("newswatch", "storage", "flows")


def imports_of(source: str) -> set[str]:
    """Every module ``source`` imports, at any depth (``from storage import db`` is ``storage.db``)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module in PACKAGES:
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_imports_of_sees_every_form():
    source = "import duckdb\nfrom storage import clusters\nfrom newswatch.cluster import X\ndef f():\n    import flows.ingest\n"
    assert imports_of(source) == {"duckdb", "storage.clusters", "newswatch.cluster", "flows.ingest"}


def loaded_by(*args: str, cwd=REPO, env: dict[str, str] | None = None) -> set[str]:
    """Top-level packages imported by ``python -X importtime <args>`` (run from ``cwd``, by
    default the checkout, with the repository's sources.yaml unless ``env`` says otherwise)."""
    return importing(*args, cwd=cwd, env=env)[0]


def importing(*args: str, cwd=REPO, env: dict[str, str] | None = None) -> tuple[set[str], str]:
    """:func:`loaded_by`, and what the command printed on stdout."""
    env = {**os.environ, "NEWSWATCH_SOURCES": str(REPO / "sources.yaml"), **(env or {})}
    env.pop("PREFECT_API_URL", None)  # a command that wanted Prefect would start an API of its own
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line.split("|")[-1] for line in done.stderr.splitlines() if line.startswith("import time:")]
    return {line.strip().split(".")[0] for line in lines[1:]}, done.stdout


def test_storage_imports_only_records_configuration_and_errors():
    for path in sorted((REPO / "storage").glob("*.py")):
        ours = {name for name in imports_of(path.read_text(encoding="utf-8")) if name.split(".")[0] in ("newswatch", "flows")}
        assert ours <= STORAGE_MAY_IMPORT, f"storage/{path.name} imports {sorted(ours - STORAGE_MAY_IMPORT)}"


def test_outside_storage_only_the_database_module_is_used():
    for folder in ("newswatch", "flows"):
        for path in sorted((REPO / folder).glob("*.py")):
            imported = imports_of(path.read_text(encoding="utf-8"))
            inner = {name for name in imported if name.startswith("storage.") and name != "storage.db"}
            assert not inner, f"{folder}/{path.name} imports {sorted(inner)}: use Database methods"


def test_clustering_is_pure():
    imported = imports_of((REPO / "newswatch" / "cluster.py").read_text(encoding="utf-8"))
    assert not {name.split(".")[0] for name in imported} & {"storage", "duckdb"}


@pytest.mark.parametrize(
    "args",
    [("-c", "import newswatch.config"), ("-c", "import newswatch.cli"),
     ("-m", "newswatch", "--help"), ("-m", "newswatch", "sources", "validate")],
    ids=["config", "cli", "--help", "sources validate"],
)
def test_configuration_and_light_commands_import_nothing_heavy(args):
    assert not loaded_by(*args) & set(HEAVY)


def test_importing_the_flows_changes_nothing():
    script = (
        "import logging, os; before = dict(os.environ)\n"
        "import flows.digest, flows.ingest, flows.report, flows.serve\n"
        "assert dict(os.environ) == before, 'environment changed'\n"
        "assert logging.getLogger('newswatch').level == logging.NOTSET, 'newswatch log level set'\n"
        "assert not logging.getLogger('prefect.task_runs').filters, 'logging filter added'\n"
        "from flows import configure_logging; configure_logging(); configure_logging()\n"
        "assert logging.getLogger('newswatch').level == logging.INFO\n"
        "assert len(logging.getLogger('prefect.task_runs').filters) == 1\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def test_report_and_digest_send_run_without_prefect(site, tmp_path):
    """`report` and `digest send` run the flows' plain functions in their own process: they
    write the same files and keep the digest's exactly-once record, and never import Prefect."""
    room = Newsroom(site, tmp_path)
    room.publish("en", CSTO_EN)
    config = room.config([digest_entry()], mail_settings(outbox_dir=str(tmp_path / "outbox")))
    room.ingest(config)
    env = {"NEWSWATCH_SOURCES": str(tmp_path / "sources.yaml"), "PREFECT_HOME": str(tmp_path / "prefect")}
    newswatch = ("-m", "newswatch")

    loaded, printed = importing(*newswatch, "report", "--out", str(tmp_path / "reports"), cwd=tmp_path, env=env)
    assert "prefect" not in loaded
    assert "report: 1 matches" in printed
    [html] = (tmp_path / "reports").glob("report-*.html")
    assert "CSTO summit" in html.read_text(encoding="utf-8")

    loaded, printed = importing(*newswatch, "digest", "send", cwd=tmp_path, env=env)
    assert "prefect" not in loaded
    assert "brief: sent, 1 stories listed" in printed
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
    assert list(tmp_path.glob("**/feeds/*.xml")), "the Atom feeds are written after a digest is sent"
    _, printed = importing(*newswatch, "digest", "send", cwd=tmp_path, env=env)
    assert "brief: empty, 0 stories listed" in printed  # sent once: nothing new to send
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1

    # without Prefect's console, newswatch's own log lines still follow --verbose / --quiet
    env = {**os.environ, **env}
    env.pop("PREFECT_API_URL", None)
    for flag, shown in (("--verbose", True), ("--quiet", False), (None, False)):
        done = subprocess.run([sys.executable, *newswatch, *([flag] if flag else []), "digest", "send"],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        assert ("| INFO    | newswatch.digest - digest brief: nothing new" in done.stderr) is shown, (flag, done.stderr)
