"""sources.yaml validation: the shipped file is valid; mistakes name file, line and field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from newswatch.config import load_config
from newswatch.errors import ConfigError

VALID_FEED = "  - {name: A, url: 'https://a.example/feed', language: en}\n"
VALID_TOPIC = "topics:\n  - name: CSTO\n    terms: {en: [CSTO]}\n"


def test_shipped_sources_file_is_valid():
    config = load_config(REPO / "sources.yaml")
    assert {t.name for t in config.topics} >= {"peace accord", "CSTO", "peacekeeping mandate"}
    assert len(config.enabled_feeds) >= 12
    assert {f.language for f in config.feeds} >= {"en", "ru", "hy", "az", "ka"}
    for topic in config.topics:
        assert {"en", "ru"} <= set(topic.terms), topic.name


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [p.replace(str(path), "F") for p in caught.value.problems]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("feeds:\n" + VALID_FEED + "  - {name: B, url: 'not a url', language: en}\n" + VALID_TOPIC,
         "F:3: feeds[1].url (name: B): Input should be a valid URL"),
        ("feeds:\n  - name: B\n    url: https://b.example/rss\n    langauge: en\n" + VALID_TOPIC,
         "F:4: feeds[0].langauge (name: B): unknown field (check the spelling)"),
        ("feeds:\n  - name: B\n    url: https://b.example/rss\n" + VALID_TOPIC,
         "F:2: feeds[0].language (name: B): required field is missing"),
        ("feeds:\n" + VALID_FEED + VALID_FEED + VALID_TOPIC,
         "F:3: feeds[1].name: duplicate name 'A' (first used on line 2)"),
        ("feeds:\n" + VALID_FEED + "topics:\n  - name: CSTO\n    terms: {en: []}\n",
         "F:4: topics[0] (name: CSTO): Value error, a topic needs at least one term"),
        ("settings:\n  http:\n    timeout: 0\nfeeds:\n" + VALID_FEED + VALID_TOPIC,
         "F:3: settings.http.timeout: Input should be greater than 0"),
        ("feeds:\n" + VALID_FEED + VALID_TOPIC + "topics: []\n",
         "F:6: topics: duplicate key"),
        ("feeds:\n  - {name: A, url: [\n" + VALID_TOPIC,
         "F:4:3: YAML syntax error"),
        ("", "F:1: the file is empty"),
        ("settings:\n  extract:\n    workers: -1\nfeeds:\n" + VALID_FEED + VALID_TOPIC,
         "F:3: settings.extract.workers: Input should be greater than or equal to 0"),
        ("settings:\n  runner:\n    kind: spark\nfeeds:\n" + VALID_FEED + VALID_TOPIC,
         "F:3: settings.runner.kind: Input should be 'threads' or 'dask'"),
        ("settings:\n  runner:\n    dask_address: tcp://scheduler:8786\nfeeds:\n" + VALID_FEED + VALID_TOPIC,
         "F:2: settings.runner: Value error, dask_address is set: set kind: dask as well"),
        ("settings:\n  runner:\n    kind: dask\n    dask_address: scheduler 8786\nfeeds:\n" + VALID_FEED + VALID_TOPIC,
         "F:4: settings.runner.dask_address: String should match pattern"),
        ("settings:\n  schedules:\n    ingest: '*/30 * * *'\nfeeds:\n" + VALID_FEED + VALID_TOPIC,
         "F:3: settings.schedules.ingest: Value error, invalid cron expression '*/30 * * *'"),
        ("settings:\n  schedules:\n    report: '0 25 * * *'\nfeeds:\n" + VALID_FEED + VALID_TOPIC,
         "F:3: settings.schedules.report: Value error, invalid cron expression '0 25 * * *'"),
        ("settings:\n  schedules:\n    timezone: Asia/Erevan\nfeeds:\n" + VALID_FEED + VALID_TOPIC,
         "F:3: settings.schedules.timezone: Value error, unknown time zone 'Asia/Erevan'"),
        ("feeds:\n  - name: B\n    url: https://b.example/rss\n    language: en\n    timezone: Asia/Bakuu\n" + VALID_TOPIC,
         "F:5: feeds[0].timezone (name: B): Value error, unknown time zone 'Asia/Bakuu'"),
        ("settings:\n  prefect:\n    port: 70000\nfeeds:\n" + VALID_FEED + VALID_TOPIC,
         "F:3: settings.prefect.port: Input should be less than or equal to 65535"),
    ],
)
def test_mistakes_are_reported_with_line_and_field(tmp_path, text, expected):
    found = problems(tmp_path, text)
    assert any(p.startswith(expected) for p in found), found


def test_all_problems_are_reported_at_once(tmp_path):
    found = problems(tmp_path, "feeds:\n  - {name: A, url: x, language: english}\n" + VALID_TOPIC)
    assert [p.split(":")[1] for p in found] == ["2", "2"]
    assert any("feeds[0].url" in p for p in found) and any("feeds[0].language" in p for p in found)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")


def test_database_override(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSWATCH_DB", str(tmp_path / "x.duckdb"))
    assert load_config(REPO / "sources.yaml").settings.database == tmp_path / "x.duckdb"
    assert load_config(REPO / "sources.yaml", tmp_path / "y.duckdb").settings.database == tmp_path / "y.duckdb"


def test_sources_validate_rejects_a_bad_schedule_with_file_line_and_field(tmp_path):
    bad = tmp_path / "sources.yaml"
    bad.write_text("settings:\n  schedules:\n    ingest: every 30 minutes\n    timezone: Mars/Base\nfeeds:\n"
                   + VALID_FEED + VALID_TOPIC)
    result = subprocess.run([sys.executable, "-m", "newswatch", "sources", "validate", "--sources", str(bad)],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"{bad}:3: settings.schedules.ingest: Value error, invalid cron expression" in result.stderr
    assert f"{bad}:4: settings.schedules.timezone: Value error, unknown time zone 'Mars/Base'" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_rejects_bad_file_before_running_anything(tmp_path):
    bad = tmp_path / "sources.yaml"
    bad.write_text("feeds:\n  - {name: A, url: 'https://a.example/f', language: en, enabled: maybe}\n" + VALID_TOPIC)
    db = tmp_path / "data" / "x.duckdb"
    result = subprocess.run(
        [sys.executable, "-m", "newswatch", "run", "--sources", str(bad), "--db", str(db)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert result.returncode == 2
    assert f"{bad}:2: feeds[0].enabled (name: A): Input should be a valid boolean" in result.stderr
    assert not db.parent.exists()  # nothing ran, nothing was created


@pytest.mark.parametrize(("acronyms", "expected"), [
    ("      CSTO: Collective Treaty Organisation\n",
     "F:6: topics[0].acronyms (name: CSTO): Value error, topic 'CSTO': acronym 'CSTO': 'Collective Treaty"
     " Organisation' does not spell it"),
    ("      NATO: North Atlantic Treaty Organization\n",
     "F:6: topics[0].acronyms (name: CSTO): Value error, topic 'CSTO': acronym 'NATO' is not one of the topic's terms"),
    ("      CSTO: Collective Security Treaty Organi*zation\n",
     "F:6: topics[0].acronyms (name: CSTO): Value error, topic 'CSTO': 'Organi*zation' is not a word"),
])
def test_acronym_mistakes_are_reported_with_line_and_field(tmp_path, acronyms, expected):
    text = "feeds:\n" + VALID_FEED + VALID_TOPIC + "    acronyms:\n" + acronyms
    found = problems(tmp_path, text)
    assert any(p.startswith(expected) for p in found), found
