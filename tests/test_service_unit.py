"""The systemd unit in README ("As a service") is complete, runs the production install, and
what it runs is what the development install runs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO

from newswatch.config import load_config


def readme_unit() -> str:
    """The ini block of README's "As a service (systemd)" section."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### As a service (systemd)"):]
    return section[section.index("```ini\n") + len("```ini\n"):section.index("\n```", section.index("```ini"))]


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """A unit file as {section: {key: [values]}} (systemd allows repeated keys)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"key outside a section: {line!r}"
        key, sep, value = line.partition("=")
        assert sep, f"not key=value: {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_unit_is_complete_and_runs_the_production_install():
    unit = parse_unit(readme_unit())
    assert set(unit) == {"Unit", "Service", "Install"}
    service = unit["Service"]
    for key in ("User", "WorkingDirectory", "Environment", "ExecStart", "Restart"):
        assert service.get(key), f"[Service] {key} missing"
    (exec_start,) = service["ExecStart"]
    assert exec_start.endswith("uv run --frozen --no-dev newswatch serve"), exec_start
    assert Path(exec_start.split()[0]).is_absolute(), "systemd needs an absolute ExecStart path"
    assert service["Restart"] == ["on-failure"]
    assert service["KillSignal"] == ["SIGTERM"], "serve stops gracefully on SIGTERM"
    assert service["KillMode"] == ["mixed"], "SIGTERM to serve alone: it stops its runs and server in order"
    assert service["RestartPreventExitStatus"] == ["2"], "a broken sources.yaml is not restarted in a loop"
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]
    assert any(value.startswith("NEWSWATCH_SOURCES=") for value in service["Environment"])


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_unit_passes_systemd_analyze_verify(tmp_path):
    unit = tmp_path / "newswatch.service"
    # verify checks that the binaries exist: point ExecStart at this machine's uv
    uv = shutil.which("uv") or "/usr/bin/true"
    unit.write_text(readme_unit().replace("/usr/local/bin/uv", uv), encoding="utf-8")
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    problems = [line for line in done.stderr.splitlines() if "newswatch.service" in line and "User" not in line]
    assert not problems, done.stderr


def test_shipped_sources_do_not_use_the_semantic_extra():
    """`uv sync --no-dev` lacks the semantic model: the shipped configuration must not need it,
    so a server install matches exactly like a development one."""
    config = load_config(REPO / "sources.yaml")
    assert config.settings.semantic is False
    assert any(topic.semantic for topic in config.topics)  # the examples stay, for those who opt in
