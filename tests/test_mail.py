"""Message building and SMTP delivery against real aiosmtpd servers (plain, STARTTLS, implicit TLS)."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default

import pytest
from smtp_sink import SmtpServer, password_checker, self_signed, server_tls_context

from newswatch.config import SmtpSettings
from newswatch.errors import DeliveryError
from newswatch.mail import (
    Envelope,
    OutboxTransport,
    Outcome,
    SmtpTransport,
    build_message,
    new_message_id,
    smtp_password,
)

SENDER = "Ньюсвотч <alerts@example.org>"


def sample_message(subject: str = "Дайджест: ОДКБ 2, ՀԱՊԿ 1, სამშვიდობო 1") -> tuple[bytes, Envelope]:
    message_id = new_message_id(SENDER, "brief.20260101T070000")
    message = build_message(
        sender=SENDER,
        recipients=["Аналитик <analyst@example.org>"],
        subject=subject,
        text="Мирный договор — խաղաղության պայմանագիր — სამშვიდობო ხელშეკრულება\n" + "x" * 200,
        html="<p>Мирный <mark>договор</mark></p>",
        message_id=message_id,
        date=datetime(2026, 1, 1, 7, 0, tzinfo=UTC),
        list_id="Brief <brief.digest.example.org>",
        unsubscribe="https://example.org/unsubscribe?d=brief",
        headers={"X-Newswatch-Digest": "brief"},
    )
    return message.as_bytes(), Envelope(SENDER, ("Аналитик <analyst@example.org>",), message_id)


def test_message_is_7bit_multipart_with_encoded_utf8_headers():
    raw, envelope = sample_message()
    assert max(raw) < 128 and b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    assert b"=?utf-8?" in raw  # RFC 2047 encoded-words for the Cyrillic subject and names
    message = message_from_bytes(raw, policy=default)
    assert message["Subject"] == "Дайджест: ОДКБ 2, ՀԱՊԿ 1, სამშვიდობო 1"
    assert message["From"] == SENDER and message["To"] == "Аналитик <analyst@example.org>"
    assert message["Message-ID"] == envelope.message_id and len(envelope.message_id) < 70
    assert message["List-Unsubscribe"] == "<https://example.org/unsubscribe?d=brief>"
    text = message.get_body(("plain",)).get_content()
    assert text.startswith("Мирный договор — խաղաղության պայմանագիր — სამშვიდობო ხელშეკრულება")
    assert message.get_body(("html",)).get_content().strip() == "<p>Мирный <mark>договор</mark></p>"


def test_header_values_are_made_one_line():
    raw, _ = sample_message(subject="Hello\r\nBcc: victim@example.org\r\n\r\nbody")
    message = message_from_bytes(raw, policy=default)
    assert message["Subject"] == "Hello Bcc: victim@example.org body"
    assert message["Bcc"] is None


def test_message_ids_are_unique_and_in_the_sender_domain():
    ids = {new_message_id(SENDER, "brief.x") for _ in range(100)}
    assert len(ids) == 100 and all(i.startswith("<brief.x.") and i.endswith("@example.org>") for i in ids)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_smtp_with_tls_and_login(tmp_path, security):
    cert, key = self_signed(tmp_path)
    context = server_tls_context(cert, key)
    tls = (
        {"tls_context": context, "require_starttls": True} if security == "starttls"
        # aiosmtpd does not count implicit TLS as TLS when it decides whether to offer AUTH
        else {"ssl_context": context, "auth_require_tls": False}
    )
    with SmtpServer(auth_required=True, authenticator=password_checker("newswatch", "s3cret"), **tls) as server:
        settings = SmtpSettings(host="127.0.0.1", port=server.port, security=security, username="newswatch",
                                password_env="X", ca_file=cert, timeout=5)
        raw, envelope = sample_message()
        assert SmtpTransport(settings, "s3cret").deliver(raw, envelope).outcome is Outcome.SENT
        [received] = server.received
        assert received.rcpt_tos == ["analyst@example.org"] and received.mail_from == "alerts@example.org"
        assert received.message["Message-ID"] == envelope.message_id
        wrong = SmtpTransport(settings, "wrong").deliver(raw, envelope)
        assert wrong.outcome is Outcome.FAILED and "refused the login: 535" in wrong.detail
        assert len(server.received) == 1


def test_untrusted_certificate_or_missing_starttls_fails_without_sending(tmp_path):
    cert, key = self_signed(tmp_path)
    tls_options = {"tls_context": server_tls_context(cert, key), "require_starttls": True}
    with SmtpServer(**tls_options) as tls_server, SmtpServer() as plain_server:
        raw, envelope = sample_message()
        untrusted = SmtpTransport(SmtpSettings(host="127.0.0.1", port=tls_server.port, timeout=5), None)
        result = untrusted.deliver(raw, envelope)
        assert result.outcome is Outcome.FAILED and "CERTIFICATE_VERIFY_FAILED" in result.detail
        no_tls = SmtpTransport(SmtpSettings(host="127.0.0.1", port=plain_server.port, timeout=5), None)
        result = no_tls.deliver(raw, envelope)
        assert result.outcome is Outcome.FAILED and "STARTTLS" in result.detail
        assert tls_server.received == [] and plain_server.received == []


def test_partly_refused_recipients_are_reported(tmp_path):
    async def handle_RCPT(server_, session, envelope, address, options):  # noqa: N802
        if address.startswith("gone"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    with SmtpServer() as server:
        server.sink.handle_RCPT = handle_RCPT
        settings = SmtpSettings(host="127.0.0.1", port=server.port, security="none", timeout=5)
        raw, envelope = sample_message()
        both = Envelope(envelope.sender, ("gone@example.org", "analyst@example.org"), envelope.message_id)
        result = SmtpTransport(settings, None).deliver(raw, both)
        assert result.outcome is Outcome.SENT and "gone@example.org" in result.detail and "550" in result.detail
        only_gone = Envelope(envelope.sender, ("gone@example.org",), envelope.message_id)
        assert SmtpTransport(settings, None).deliver(raw, only_gone).outcome is Outcome.FAILED
        assert [r.rcpt_tos for r in server.received] == [["analyst@example.org"]]


def test_password_comes_from_the_environment(monkeypatch):
    settings = SmtpSettings(host="smtp.example.org", username="u", password_env="NW_TEST_SMTP_PASSWORD")
    monkeypatch.setenv("NW_TEST_SMTP_PASSWORD", "from-env")
    assert smtp_password(settings) == "from-env"
    monkeypatch.delenv("NW_TEST_SMTP_PASSWORD")
    with pytest.raises(DeliveryError, match="environment variable NW_TEST_SMTP_PASSWORD is not set"):
        smtp_password(settings)
    assert smtp_password(SmtpSettings(host="smtp.example.org")) is None


def test_outbox_is_idempotent_per_message_id(tmp_path):
    raw, envelope = sample_message()
    outbox = OutboxTransport(tmp_path / "outbox")
    first = outbox.deliver(raw, envelope)
    second = outbox.deliver(raw, envelope)
    assert first == second and first.outcome is Outcome.SENT
    assert [p.name for p in (tmp_path / "outbox").iterdir()] == [outbox.path_for(envelope.message_id).name]
