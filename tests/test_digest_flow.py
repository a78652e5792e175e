"""The ``digest`` Prefect flow and the ``newswatch digest`` commands, against a temporary Prefect
API, a real SMTP server on loopback requiring login, and a password in a Prefect Secret block."""

from __future__ import annotations

import pytest
from digest_helpers import CSTO_EN, CSTO_HY, PEACE_KA, PEACE_RU, Newsroom, digest_entry, mail_settings
from smtp_sink import SmtpServer, password_checker
from typer.testing import CliRunner

from newswatch.cli import app
from newswatch.errors import DeliveryError

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]


@pytest.fixture
def smtp():
    server = SmtpServer(auth_required=True, auth_require_tls=False,
                        authenticator=password_checker("newswatch", "block-s3cret")).start()
    yield server
    server.stop()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_digest_flow_logs_in_with_a_secret_block_and_sends_once(site, tmp_path, smtp):
    from prefect.blocks.system import Secret

    from flows.digest import digest_flow

    Secret(value="block-s3cret").save("newswatch-test-smtp", overwrite=True)
    room = Newsroom(site, tmp_path)
    room.publish("en", CSTO_EN)
    room.publish("ru", PEACE_RU)
    room.publish("hy", CSTO_HY)
    mail = mail_settings(transport="smtp", smtp={
        "host": "127.0.0.1", "port": smtp.port, "security": "none", "username": "newswatch",
        "password_block": "newswatch-test-smtp", "timeout": 30})
    config = room.config([digest_entry()], mail)
    room.ingest(config)
    sources = str(tmp_path / "sources.yaml")

    smtp.stop()
    with pytest.raises(DeliveryError, match="cannot connect"):
        digest_flow(digest="brief", sources=sources)
    smtp.start()
    result = digest_flow(digest="brief", sources=sources)
    assert result["status"] == "sent" and result["listed"] == 3
    assert digest_flow(digest="brief", sources=sources)["status"] == "empty"
    [received] = smtp.received
    assert received.message["Message-ID"] == result["message_id"]
    assert received.message["Subject"] == "Caucasus brief: 3 new (peace accord 1, CSTO 2)"

    # `digest send` runs without a flow, but reads the block from the same Prefect API to log in
    room.publish("ka", PEACE_KA)
    room.ingest(room.config([digest_entry()], mail))
    sent = CliRunner().invoke(app, ["digest", "send", "brief", "--sources", sources])
    assert sent.exit_code == 0, sent.output
    assert "brief: sent, 1 stories listed" in sent.output
    assert len(smtp.received) == 2


def test_digest_commands(site, tmp_path, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)  # captured output is not a terminal: tables are not cut
    room = Newsroom(site, tmp_path)
    room.publish("en", CSTO_EN)
    config = room.config([digest_entry()], mail_settings(outbox_dir=str(tmp_path / "outbox")))
    room.ingest(config)
    sources = ["--sources", str(tmp_path / "sources.yaml")]
    runner = CliRunner()

    dry = runner.invoke(app, ["digest", "send", "--dry-run", "--outbox", str(tmp_path / "dry"), *sources])
    assert dry.exit_code == 0, dry.output
    assert "brief: dry-run, 1 stories listed" in dry.output
    assert len(list((tmp_path / "dry").glob("*.eml"))) == 1 and not (tmp_path / "outbox").exists()

    sent = runner.invoke(app, ["digest", "send", "brief", *sources])
    assert sent.exit_code == 0, sent.output
    assert "brief: sent, 1 stories listed" in sent.output
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1

    unknown = runner.invoke(app, ["digest", "send", "nope", *sources])
    assert unknown.exit_code == 2 and "no digest named 'nope'" in unknown.output

    history = runner.invoke(app, ["digest", "history", *sources])
    assert history.exit_code == 0 and "sent" in history.output and "brief" in history.output
    listing = runner.invoke(app, ["digest", "list", *sources])
    assert listing.exit_code == 0 and "30 7 * * * (Asia/Yerevan)" in listing.output
    assert "(1 stories)" in listing.output
