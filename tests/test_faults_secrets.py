"""Secrets in feed URLs (``user:password@``, ``?token=``) are never shown, logged, stored as an
error or e-mailed: one rule (``newswatch.redact``) for every place a URL or an error goes."""

from __future__ import annotations

import logging

import pytest
from conftest import Article
from digest_helpers import digest_entry, digest_sources, mail_settings
from typer.testing import CliRunner
from werkzeug import Response

from newswatch.cli import app
from newswatch.config import load_config
from newswatch.digest import run_digest
from newswatch.pipeline import ingest
from newswatch.reports import report, report_window
from newswatch.redact import redact_text, redact_url
from storage.db import open_database

SECRETS = ("s3cretpw", "t0kenvalue", "k3yvalue", "acc3ss", "b4rer")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://user:s3cretpw@host/feed", "https://user:***@host/feed"),
        ("https://user:s3cret:pw@host:8443/feed", "https://user:***@host:8443/feed"),
        ("https://b4rer@host/feed", "https://***@host/feed"),
        ("http://h/f?token=t0kenvalue&id=3", "http://h/f?token=***&id=3"),
        ("http://h/f?id=3&api_key=k3yvalue#access_token=acc3ss", "http://h/f?id=3&api_key=***#access_token=***"),
        ("http://h/f?API_KEY=k3yvalue&apikey=k3yvalue&key=k3yvalue", "http://h/f?API_KEY=***&apikey=***&key=***"),
        ("redirect loop: https://u:s3cretpw@a/x -> https://a/y?access_token=acc3ss",
         "redirect loop: https://u:***@a/x -> https://a/y?access_token=***"),
        ("HTTP 404", "HTTP 404"),
        ("https://host/feed?id=3&side=left", "https://host/feed?id=3&side=left"),
    ],
)
def test_the_redaction_rule(text, shown):
    assert redact_text(text) == shown == redact_url(text)


def _locked_feed(site) -> str:
    """A feed behind credentials and a token whose server redirects in a loop: the error names
    the URLs, with their secrets."""
    site.route("/locked.xml", lambda request: Response(status=302, headers={"Location": "/locked2.xml?token=t0kenvalue"}))
    site.route("/locked2.xml", lambda request: Response(status=302, headers={"Location": "/locked2.xml?token=t0kenvalue"}))
    return site.url.replace("http://", "http://reader:s3cretpw@") + "/locked.xml?api_key=k3yvalue"


def test_credentials_never_reach_reports_status_list_logs_or_the_digest(site, tmp_path, caplog):
    story = Article("csto", "CSTO summit opens in Yerevan", "The CSTO summit opened in Yerevan on Monday.\n" * 5)
    feeds = [
        {"name": "Daily", "url": site.add_feed("/rss.xml", [story]), "language": "en"},
        {"name": "Locked", "url": _locked_feed(site), "language": "en"},
    ]
    sources = digest_sources(tmp_path, feeds, [digest_entry()], mail_settings())
    config = load_config(sources)
    caplog.set_level(logging.INFO)
    with open_database(config.settings.database) as db:
        stats = ingest(config, db)
        _, html_path, text_path = report(config, db, *report_window(24), tmp_path / "out")
        result = run_digest(config, db, config.digest("brief"), None, dry_run_dir=tmp_path / "outbox")
        stored = " ".join(str(row) for row in db.con.execute("SELECT last_error FROM feeds").fetchall())
    assert stats.failures["Locked"].startswith(f"redirect loop: {site.url.replace('http://', 'http://reader:***@')}/locked.xml?api_key=***")
    runner = CliRunner()
    status = runner.invoke(app, ["sources", "status", "--sources", str(sources)], env={"COLUMNS": "250"})
    listed = runner.invoke(app, ["sources", "list", "--sources", str(sources)], env={"COLUMNS": "250"})
    assert status.exit_code == 0 and listed.exit_code == 0, status.output + listed.output
    shown = {
        "html report": html_path.read_text(encoding="utf-8"),
        "text report": text_path.read_text(encoding="utf-8"),
        "digest": open(result.files[0], encoding="utf-8").read(),
        "digest html": open(result.files[1], encoding="utf-8").read(),
        "sources status": status.output,
        "sources list": listed.output,
        "logs": caplog.text,
        "database": stored,
    }
    for where, text in shown.items():
        assert not [secret for secret in SECRETS if secret in text], where
    for where in ("html report", "text report", "sources status", "logs", "database"):
        assert "reader:***@" in shown[where], where
    assert "reader:***@" in shown["sources list"] and "api_key=***" in shown["sources list"]



def test_configuration_errors_echoing_a_url_redact_it(tmp_path):
    from conftest import write_sources

    sources = write_sources(tmp_path, [{"name": "Daily", "url": "https://a.example/rss", "language": "en"}],
                            http={"allow_hosts": ["https://admin:s3cretpw@intranet.example/?token=t0kenvalue"]})
    result = CliRunner().invoke(app, ["sources", "validate", "--sources", str(sources)], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and "does not appear to be an IPv4 or IPv6 network" in result.output
    assert "admin:***@intranet.example" in result.output
    assert not [secret for secret in SECRETS if secret in result.output]
