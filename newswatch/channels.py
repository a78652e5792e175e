"""Alert channels: chat services and webhooks through Apprise, and e-mail through ``settings.mail``.

A channel turns a short message (:class:`AlertText`) into the exact bytes kept in the ledger
(:meth:`AlertChannel.encode`), and delivers those bytes (:meth:`AlertChannel.deliver`), so an
unconfirmed delivery can be repeated as it was. Apprise reports only success or failure:
a failure leaves the message's stories due for the next run.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import quote

from newswatch.alert_config import Channel
from newswatch.config import MailSettings
from newswatch.credentials import resolve_secret
from newswatch.errors import MissingSecret
from newswatch.mail import Delivery, Envelope, Outcome, Transport, address_of, build_message, new_message_id
from newswatch.render import environment
from newswatch.text import one_line

APP_ID = "newswatch"


@dataclass(frozen=True, slots=True)
class AlertText:
    """A short alert: a title (the chat message's heading) and a plain-text body."""

    title: str
    body: str

    @property
    def headline(self) -> str:
        """The body's first line (the story title of a story alert)."""
        return self.body.partition("\n")[0]


class AlertChannel(Protocol):
    """One configured channel, ready to deliver."""

    name: str
    kind: str  # recorded in the ledger's transport column

    def new_message_id(self, label: str) -> str:
        """A new, unique id for a message of this channel."""
        ...

    def encode(self, text: AlertText, message_id: str, at: datetime) -> bytes:
        """The message as stored in the ledger and handed to :meth:`deliver`."""
        ...

    def deliver(self, raw: bytes, message_id: str) -> Delivery:
        """Deliver stored bytes; see :class:`newswatch.mail.Outcome`."""
        ...


class AppriseChannel:
    """A channel reached through one Apprise URL (``tgram://``, ``slack://``, ``json://`` ...).

    The URL holds credentials: it is never logged, stored or shown (messages name the scheme).
    """

    kind = "apprise"

    def __init__(self, name: str, url: str):
        self.name = name
        self._url = url

    @property
    def scheme(self) -> str:
        """The URL's scheme (the service), safe to show."""
        return self._url.partition("://")[0].lower()

    def new_message_id(self, label: str) -> str:
        """``<label.random@newswatch>``."""
        return f"<{label[:40]}.{uuid.uuid4().hex[:20]}@{APP_ID}>"

    def encode(self, text: AlertText, message_id: str, at: datetime) -> bytes:
        """Title and body as JSON."""
        return json.dumps({"title": text.title, "body": text.body}, ensure_ascii=False).encode("utf-8")

    def deliver(self, raw: bytes, message_id: str) -> Delivery:
        """Send through Apprise as plain text (Apprise escapes it for each service)."""
        import apprise  # imported by what sends an alert, not by every command that reads alerts' texts

        message = json.loads(raw)
        notifier = apprise.Apprise(asset=apprise.AppriseAsset(app_id=APP_ID, app_desc="newswatch alerts"))
        where = f"channel {self.name} ({self.scheme}://)"
        if not notifier.add(self._url):
            return Delivery(Outcome.FAILED, f"{where}: not a URL Apprise understands")
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as logs:
            ok = notifier.notify(body=message["body"], title=message["title"], body_format=apprise.NotifyFormat.TEXT)
        if ok:
            return Delivery(Outcome.SENT)
        return Delivery(Outcome.FAILED, f"{where}: {_last_line(logs.getvalue()) or 'delivery failed'}")


class EmailChannel:
    """A channel of e-mail recipients, delivered by the ``settings.mail`` transport."""

    def __init__(self, name: str, recipients: tuple[str, ...], mail: MailSettings, transport: Transport):
        self.name = name
        self.recipients = recipients
        self.mail = mail
        self.transport = transport
        self.kind = transport.name

    def new_message_id(self, label: str) -> str:
        """A Message-ID in the sender's domain."""
        return new_message_id(self.mail.sender, label)

    def encode(self, text: AlertText, message_id: str, at: datetime) -> bytes:
        """A multipart/alternative message: the body as text, and as escaped HTML."""
        html = environment().get_template("alert.html.j2").render(text=text)
        unsubscribe = self.mail.unsubscribe or (
            f"mailto:{address_of(self.mail.sender)}?subject={quote(f'unsubscribe alerts {self.name}')}"
        )
        message = build_message(
            sender=self.mail.sender, recipients=self.recipients, subject=f"{text.title}: {text.headline}",
            text=text.body, html=html, message_id=message_id, date=at,
            list_id=f"newswatch alerts <{self.name}.alerts.{address_of(self.mail.sender).rpartition('@')[2]}>",
            unsubscribe=unsubscribe, headers={"X-Newswatch-Alert": self.name},
        )
        return message.as_bytes()

    def deliver(self, raw: bytes, message_id: str) -> Delivery:
        """Hand the stored message to the mail transport."""
        return self.transport.deliver(raw, Envelope(self.mail.sender, self.recipients, message_id))


def open_channel(channel: Channel, mail: MailSettings | None) -> AlertChannel:
    """The configured channel with its URL (or SMTP password) resolved now.

    Raises :class:`~newswatch.errors.MissingSecret` (a :class:`DeliveryError`) when a secret
    cannot be read.
    """
    if channel.email is not None:
        from newswatch.mail import transport_for

        if mail is None:
            raise MissingSecret(f"channel {channel.name}: e-mail needs settings.mail")
        return EmailChannel(channel.name, channel.email, mail, transport_for(mail))
    url = resolve_secret(channel.url_env, channel.url_block, f"channel {channel.name} URL")
    if not url:
        raise MissingSecret(f"channel {channel.name}: the URL is empty")
    return AppriseChannel(channel.name, url.strip())


def _last_line(text: str) -> str:
    lines = [one_line(line) for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""
