"""E-mail messages (multipart/alternative, UTF-8) and their delivery by SMTP or into an outbox.

Delivery reports one of three outcomes, so the caller can keep its ledger exact: *sent* (the
server accepted the message), *failed* (certainly not delivered: the server was unreachable or
refused) and *unknown* (the connection broke after the message data was sent).
"""

from __future__ import annotations

import enum
import re
import smtplib
import ssl
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Protocol

from newswatch.config import MailSettings, SmtpSettings
from newswatch.credentials import resolve_secret
from newswatch.text import one_line

# 7-bit transfer encodings only (quoted-printable or base64, whichever is shorter), so the
# message passes any relay, with or without 8BITMIME; CRLF line ends as SMTP wants.
POLICY = SMTP.clone(cte_type="7bit")


class Outcome(enum.StrEnum):
    """What became of a message handed to a transport."""

    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Delivery:
    """A transport's answer: the outcome and an explanation (error, warning or file path)."""

    outcome: Outcome
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Envelope:
    """Who a message goes from and to (``Name <addr>`` or bare addresses) and its Message-ID."""

    sender: str
    recipients: tuple[str, ...]
    message_id: str


class Transport(Protocol):
    """Hands a finished message to its destination."""

    name: str

    def deliver(self, message: bytes, envelope: Envelope) -> Delivery:
        """Deliver ``message`` (bytes with CRLF line ends) as ``envelope`` says."""
        ...


def address_of(mailbox: str) -> str:
    """The bare address of ``Name <addr>`` or ``addr``."""
    return parseaddr(mailbox)[1]


def new_message_id(sender: str, label: str) -> str:
    """A new, globally unique Message-ID in the sender's domain, starting with ``label``."""
    safe = re.sub(r"[^A-Za-z0-9.-]", "-", label)[:40]
    return f"<{safe}.{uuid.uuid4().hex[:20]}@{address_of(sender).rpartition('@')[2]}>"


def build_message(
    *,
    sender: str,
    recipients: Sequence[str],
    subject: str,
    text: str,
    html: str,
    message_id: str,
    date: datetime,
    list_id: str,
    unsubscribe: str,
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """A multipart/alternative message (plain text + HTML, UTF-8).

    Header values are made one line first, so no text from a feed can start a new header.
    """
    message = EmailMessage(policy=POLICY)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = one_line(subject)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    message["List-Id"] = one_line(list_id)
    message["List-Unsubscribe"] = f"<{one_line(unsubscribe)}>"
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    for name, value in (headers or {}).items():
        message[name] = one_line(value)
    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")
    return message


def smtp_password(settings: SmtpSettings) -> str | None:
    """The SMTP password from ``password_env`` or the Prefect Secret block ``password_block``."""
    return resolve_secret(settings.password_env, settings.password_block, "SMTP password")


class SmtpTransport:
    """Delivery through an SMTP server, with STARTTLS or implicit TLS and login."""

    name = "smtp"

    def __init__(self, settings: SmtpSettings, password: str | None):
        self.settings = settings
        self.password = password

    @property
    def where(self) -> str:
        """host:port, for messages."""
        return f"{self.settings.host}:{self.settings.effective_port}"

    def deliver(self, message: bytes, envelope: Envelope) -> Delivery:
        """Send over one SMTP session; see :class:`Outcome` for what each result means."""
        try:
            client = self._connect()
        except (OSError, smtplib.SMTPException) as err:
            return Delivery(Outcome.FAILED, f"cannot connect to SMTP server {self.where}: {_describe(err)}")
        try:
            recipients = [address_of(recipient) for recipient in envelope.recipients]
            return self._transaction(client, message, address_of(envelope.sender), recipients)
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        context = ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
        if settings.security == "ssl":
            return smtplib.SMTP_SSL(settings.host, settings.effective_port, timeout=settings.timeout, context=context)
        client = smtplib.SMTP(settings.host, settings.effective_port, timeout=settings.timeout)
        if settings.security == "starttls":
            try:
                client.ehlo()
                client.starttls(context=context)
            except BaseException:
                client.close()
                raise
        return client

    def _transaction(self, client: smtplib.SMTP, message: bytes, sender: str, recipients: list[str]) -> Delivery:
        try:
            client.ehlo_or_helo_if_needed()
            if self.settings.username:
                client.login(self.settings.username, self.password or "")
            code, reply = client.mail(sender)
            if code != 250:
                return Delivery(Outcome.FAILED, f"SMTP server {self.where} refused sender {sender}: {code} {_text(reply)}")
            refused = {}
            for recipient in recipients:
                code, reply = client.rcpt(recipient)
                if code not in (250, 251):
                    refused[recipient] = f"{code} {_text(reply)}"
            if len(refused) == len(recipients):
                return Delivery(Outcome.FAILED, f"SMTP server {self.where} refused every recipient: {refused}")
        except smtplib.SMTPAuthenticationError as err:
            return Delivery(Outcome.FAILED, f"SMTP server {self.where} refused the login: {_describe(err)}")
        except (OSError, smtplib.SMTPException) as err:
            return Delivery(Outcome.FAILED, f"SMTP session with {self.where} failed: {_describe(err)}")
        try:
            code, reply = client.data(message)
        except smtplib.SMTPDataError as err:  # DATA itself was refused: nothing was sent
            return Delivery(Outcome.FAILED, f"SMTP server {self.where} refused the message: {_describe(err)}")
        except (OSError, smtplib.SMTPException) as err:
            return Delivery(
                Outcome.UNKNOWN, f"connection to {self.where} lost after sending the message: {_describe(err)}"
            )
        if code != 250:
            return Delivery(Outcome.FAILED, f"SMTP server {self.where} refused the message: {code} {_text(reply)}")
        return Delivery(Outcome.SENT, f"refused recipients: {refused}" if refused else "")


class OutboxTransport:
    """Delivery as ``.eml`` files in a folder, named after the Message-ID (so idempotent)."""

    name = "outbox"

    def __init__(self, directory: Path):
        self.directory = directory

    def path_for(self, message_id: str) -> Path:
        """The file a message with this Message-ID is written to."""
        return self.directory / (re.sub(r"[^A-Za-z0-9.@_-]", "_", message_id.strip("<>")) + ".eml")

    def deliver(self, message: bytes, envelope: Envelope) -> Delivery:
        """Write the message atomically (temporary file, then rename)."""
        path = self.path_for(envelope.message_id)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".partial")
            partial.write_bytes(message)
            partial.replace(path)
        except OSError as err:
            return Delivery(Outcome.FAILED, f"cannot write {path}: {err.strerror or err}")
        return Delivery(Outcome.SENT, str(path))


def transport_for(mail: MailSettings) -> Transport:
    """The transport configured in ``settings.mail`` (SMTP credentials resolved now)."""
    if mail.transport == "outbox" or mail.smtp is None:
        return OutboxTransport(mail.outbox_dir)
    return SmtpTransport(mail.smtp, smtp_password(mail.smtp))


def _text(reply: bytes | str) -> str:
    return one_line(reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply)


def _describe(err: BaseException) -> str:
    if isinstance(err, smtplib.SMTPResponseException):
        return f"{err.smtp_code} {_text(err.smtp_error)}"
    return one_line(str(err)) or type(err).__name__
