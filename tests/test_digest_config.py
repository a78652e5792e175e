"""Digest subscriptions in sources.yaml: validation with file:line: field messages, schedules."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import REPO

from newswatch.config import DigestSchedule, load_config
from newswatch.errors import ConfigError

HEAD = """\
settings:
  mail:
    sender: "newswatch <alerts@example.org>"
    transport: smtp
    smtp: {host: smtp.example.org, username: newswatch, password_env: NEWSWATCH_SMTP_PASSWORD}
feeds:
  - {name: Daily, url: "https://daily.example.org/rss", language: en}
topics:
  - {name: CSTO, terms: {en: [CSTO]}}
  - {name: peace accord, terms: {en: [peace treaty]}}
digests:
"""


def problems(tmp_path: Path, text: str) -> list[str]:
    """The configuration problems of ``text``, with the file name stripped."""
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as failure:
        load_config(path)
    return [problem.removeprefix(f"{path}:") for problem in failure.value.problems]


def test_repository_sources_has_a_valid_example_digest():
    config = load_config(REPO / "sources.yaml")
    [digest] = config.digests
    assert digest.name == "morning-brief" and set(digest.topics) <= {t.name for t in config.topics}
    assert digest.schedule.cron_expression == "30 7 * * *" and digest.schedule.timezone == "Asia/Yerevan"
    assert config.settings.mail.smtp.password_env == "NEWSWATCH_SMTP_PASSWORD"


def test_valid_digest(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text(HEAD + """\
  - name: brief
    recipients: ["Desk <Desk@Example.ORG>", ops@example.org]
    topics: [CSTO]
    schedule: {weekly: "fri 17:45", timezone: Europe/Moscow}
    min_score: 2
    max_items: 5
""", encoding="utf-8")
    digest = load_config(path).digest("brief")
    assert digest.recipients == ("Desk <Desk@example.org>", "ops@example.org")  # domain normalised
    assert (digest.max_items, digest.min_score, digest.send_empty) == (5, 2, False)
    assert digest.send_updates is None  # settings.clusters.send_updates decides
    assert digest.schedule.cron_expression == "45 17 * * 5"


def test_every_problem_names_line_and_field(tmp_path):
    found = problems(tmp_path, HEAD + """\
  - name: brief
    recipients: [not-an-address, "Evil <a@example.org>\\nBcc: b@example.org"]
    topics: [CSTO]
    schedule: {daily: "7:75", timezone: Mars/Olympus_Mons}
  - name: weekly
    recipients: [a@example.org]
    topics: [CSTO]
    schedule: {cron: "0 7 * * 1-5", daily: "07:00"}
    max_items: 0
  - name: cron
    recipients: [a@example.org]
    topics: [CSTO]
    schedule: {cron: "61 7 * * *"}
  - name: nobody
    recipients: []
    topics: [CSTO]
    schedule: {daily: "07:00"}
""")
    assert found == [
        "13: digests[0].recipients[0] (name: brief): Value error, not a valid e-mail address:"
        " An email address must have an @-sign.",
        "13: digests[0].recipients[1] (name: brief): Value error, control characters (such as line"
        " breaks) are not allowed",
        "15: digests[0].schedule.daily (name: brief): Value error, expected a time as HH:MM, got '7:75'",
        "15: digests[0].schedule.timezone (name: brief): Value error, unknown time zone"
        " 'Mars/Olympus_Mons' (use an IANA name such as Asia/Yerevan)",
        "19: digests[1].schedule (name: weekly): Value error, give exactly one of daily, weekly or cron",
        "20: digests[1].max_items (name: weekly): Input should be greater than or equal to 1",
        "24: digests[2].schedule.cron (name: cron): Value error, invalid cron expression '61 7 * * *':"
        " Bad minute",
        "26: digests[3].recipients (name: nobody): Value error, the list is empty",
    ]


def test_topics_must_exist_and_names_be_unique(tmp_path):
    found = problems(tmp_path, HEAD + """\
  - name: brief
    recipients: [a@example.org]
    topics: [CSTO, peacekeeping]
    schedule: {daily: "07:00"}
  - name: Brief
    recipients: [a@example.org]
    topics: [peace accord]
    schedule: {daily: "07:00"}
""")
    assert found == [
        "14: digests[0].topics[1] (name: brief): unknown topic 'peacekeeping' (known: CSTO, peace accord)",
        "16: digests[1].name (name: Brief): duplicate digest name 'Brief'",
    ]


def test_passwords_are_never_read_from_the_file(tmp_path):
    text = HEAD.replace("password_env: NEWSWATCH_SMTP_PASSWORD", "password: hunter2")
    assert problems(tmp_path, text + "  []\n") == [
        "5: settings.mail.smtp: do not write passwords in sources.yaml; name an environment variable"
        " (password_env) or a Prefect Secret block (password_block)",
    ]
    text = HEAD.replace(", password_env: NEWSWATCH_SMTP_PASSWORD", "")
    assert problems(tmp_path, text + "  []\n") == [
        "5: settings.mail.smtp: Value error, username is set: give password_env or password_block",
    ]


def test_mail_section_is_required_for_digests(tmp_path):
    text = HEAD.split("feeds:", 1)[1]
    found = problems(tmp_path, "feeds:" + text + """\
  - {name: brief, recipients: [a@example.org], topics: [CSTO], schedule: {daily: "07:00"}}
""")
    assert found == ["1: settings: digests need a settings.mail section (sender, transport)"]
    smtp_missing = HEAD.replace("    smtp: {host: smtp.example.org, username: newswatch, password_env: NEWSWATCH_SMTP_PASSWORD}\n", "")
    assert problems(tmp_path, smtp_missing + "  []\n") == [
        "2: settings.mail: Value error, transport is smtp: the smtp section (host, ...) is required",
    ]


@pytest.mark.parametrize(
    ("schedule", "cron", "next_run"),
    [
        ({"daily": "07:30", "timezone": "Asia/Yerevan"}, "30 7 * * *", "2026-03-02T07:30:00+04:00"),
        ({"weekly": "sunday 9:05"}, "5 9 * * 0", "2026-03-08T09:05:00+00:00"),
        ({"weekly": "Monday 00:00", "timezone": "Asia/Tbilisi"}, "0 0 * * 1", "2026-03-09T00:00:00+04:00"),
        ({"cron": "0 6 * * 1-5", "timezone": "Europe/Moscow"}, "0 6 * * 1-5", "2026-03-02T06:00:00+03:00"),
    ],
)
def test_schedules_become_cron_in_their_time_zone(schedule, cron, next_run):
    parsed = DigestSchedule.model_validate(schedule)
    assert parsed.cron_expression == cron
    after = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 01:00 UTC
    assert parsed.next_run(after).isoformat() == next_run


def test_serve_schedules_one_digest_deployment_per_subscription(tmp_path):
    from flows.serve import deployments

    path = tmp_path / "sources.yaml"
    path.write_text(HEAD + """\
  - {name: brief, recipients: [a@example.org], topics: [CSTO], schedule: {daily: "07:30", timezone: Asia/Yerevan}}
  - {name: weekly, recipients: [a@example.org], topics: [CSTO], schedule: {weekly: "mon 08:00"}}
""", encoding="utf-8")
    config = load_config(path)
    found = {d.name: d for d in deployments(config, path, tmp_path / "nw.duckdb")}
    assert set(found) == {"ingest-scheduled", "report-scheduled", "brief", "weekly"}
    brief = found["brief"]
    assert brief.flow_name == "digest" and brief.parameters["digest"] == "brief"
    assert brief.parameters["sources"] == str(path.resolve())
    assert (brief.schedules[0].schedule.cron, brief.schedules[0].schedule.timezone) == ("30 7 * * *", "Asia/Yerevan")
    assert found["weekly"].schedules[0].schedule.cron == "0 8 * * 1"
