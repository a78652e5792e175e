"""channels:, alerts:, settings.feeds_out and settings.spikes in sources.yaml: file:line: field messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from newswatch.config import ConfigError, load_config

HEAD = """\
settings:
  mail: {sender: "newswatch <alerts@example.org>", transport: outbox}
feeds:
  - {name: Daily, url: "https://daily.example.org/rss", language: en}
topics:
  - {name: CSTO, terms: {en: [CSTO]}}
  - {name: peace accord, terms: {en: [peace treaty]}}
"""
CHANNELS = """\
channels:
  - name: desk-slack
    url_env: NEWSWATCH_SLACK_URL
  - name: desk-telegram
    url_block: newswatch-telegram
  - name: desk-mail
    email: ["Desk <desk@example.org>"]
"""


def load(tmp_path: Path, text: str):
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def problems(tmp_path: Path, text: str) -> list[str]:
    """The configuration problems of ``text``, with the file name stripped."""
    with pytest.raises(ConfigError) as failure:
        load(tmp_path, text)
    return [problem.removeprefix(f"{tmp_path / 'sources.yaml'}:") for problem in failure.value.problems]


def test_valid_channels_and_alerts(tmp_path):
    config = load(tmp_path, HEAD + CHANNELS + """\
alerts:
  - name: csto-now
    topics: [CSTO]
    channels: [desk-slack, desk-mail]
    min_score: 4
    spikes: true
""")
    [alert] = config.alerts
    assert alert.channels == ("desk-slack", "desk-mail") and alert.min_score == 4
    assert (alert.stories, alert.spikes, alert.max_per_run, alert.send_updates) == (True, True, 10, None)
    assert config.channels[2].email == ("Desk <desk@example.org>",)
    assert config.settings.feeds_out.dir == Path("feeds") and config.settings.spikes.window_hours == 6


def test_literal_channel_url_is_rejected_with_its_line(tmp_path):
    text = HEAD + CHANNELS.replace("url_env: NEWSWATCH_SLACK_URL", "url: slack://T000/B000/XXXXXXXX")
    assert problems(tmp_path, text) == [
        "10: channels[0].url (name: desk-slack): do not write channel URLs in sources.yaml (Apprise URLs carry"
        " credentials); name an environment variable (url_env) or a Prefect Secret block (url_block)",
    ]


def test_channel_and_alert_mistakes(tmp_path):
    text = HEAD + CHANNELS.replace("email: [\"Desk <desk@example.org>\"]", "url_env: 'not a name'") + """\
  - name: desk-slack
    url_env: X
    email: [a@example.org]
alerts:
  - name: a
    topics: [CSTO, Lachin]
    channels: [desk-slack, nowhere]
  - name: b
    topics: [CSTO]
    channels: [desk-slack]
    stories: false
"""
    found = problems(tmp_path, text)
    assert "14: channels[2].url_env (name: desk-mail): Value error, 'not a name' is not an environment variable" \
           " name (letters, digits, _)" in found
    assert "15: channels[3] (name: desk-slack): Value error, give exactly one of url_env, url_block or email" in found
    assert "22: alerts[1] (name: b): Value error, stories and spikes are both false: the alert would send nothing" in found
    assert len(found) == 3  # cross-checks wait until each entry is valid
    fixed = text.replace("url_env: 'not a name'", "url_env: DESK").replace("    email: [a@example.org]\n", "")
    fixed = fixed.replace("    stories: false\n", "")
    assert problems(tmp_path, fixed) == [
        "15: channels[3].name (name: desk-slack): duplicate name 'desk-slack'",
        "19: alerts[0].topics[1] (name: a): unknown topic 'Lachin' (known: CSTO, peace accord)",
        "20: alerts[0].channels[1] (name: a): unknown channel 'nowhere' (known: desk-mail, desk-slack, desk-telegram)",
    ]


def test_email_channel_needs_mail(tmp_path):
    text = (HEAD + CHANNELS).replace('  mail: {sender: "newswatch <alerts@example.org>", transport: outbox}\n', "  {}\n")
    text = text.replace("settings:\n  {}\n", "")
    assert problems(tmp_path, text) == [
        "12: channels[2].email (name: desk-mail): e-mail channels need a settings.mail section (sender, transport)"
    ]
