"""The one rule for secrets in URLs: what newswatch shows, logs, stores as an error or sends
never contains a password or an access token.

Feed URLs may carry credentials (``https://user:pass@host/feed``) or tokens in the query string
(``?token=...``, ``?api_key=...``). Every place that shows or sends a URL or an error text
(report and digest footers, ``sources status`` and ``sources list``, CLI errors, stored fetch
errors) passes it through :func:`redact_url` or :func:`redact_text`. Log lines of every
library in the process (httpx logs each request URL) are redacted when formatted, by a log
record factory installed when this module is imported (:func:`install_log_redaction`).
"""

from __future__ import annotations

import logging
import re

MASK = "***"
# Query (or fragment / path) parameters whose value is a secret.
SECRET_PARAMS = (
    "access_token", "refresh_token", "id_token", "auth_token", "token", "api_key", "apikey",
    "api-key", "key", "secret", "client_secret", "password", "passwd", "pwd", "pass", "auth",
    "signature", "sig", "x-amz-signature", "x-amz-credential", "x-amz-security-token",
    "session", "sessionid", "session_id", "jsessionid", "phpsessid", "sid",
)
# user:password@ right after a scheme (the user name is kept, it helps to tell feeds apart)
_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)([^\s/?#@:]*):([^\s/?#@]*)@")
# a user name alone (scheme://token@host) may itself be the secret: masked too
_USER_ONLY = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)([^\s/?#@:]+)@")
_SECRET_PARAM = re.compile(
    r"(?i)([?&;#]|\b)(" + "|".join(re.escape(name) for name in SECRET_PARAMS) + r")=([^&;#\s'\"<>]+)"
)


def redact_text(text: str) -> str:
    """``text`` (an error message, a log line, a URL) with every password, user-only credential
    and secret query parameter value replaced by ``***``."""
    if not text:
        return text
    text = _USERINFO.sub(lambda m: f"{m[1]}{m[2]}:{MASK}@", text)
    text = _USER_ONLY.sub(lambda m: f"{m[1]}{MASK}@", text)
    return _SECRET_PARAM.sub(lambda m: f"{m[1]}{m[2]}={MASK}", text)


def redact_url(url: str) -> str:
    """``url`` with its password and secret query parameters masked (see :func:`redact_text`)."""
    return redact_text(url)



class _RedactedLogRecord(logging.LogRecord):
    """A log record whose message is redacted when it is formatted."""

    def getMessage(self) -> str:  # noqa: N802 (logging's name)
        return redact_text(super().getMessage())


def install_log_redaction() -> None:
    """Make every log record of this process redact its message (idempotent).

    Wraps the current record factory, so that factories installed by others keep working.
    """
    factory = logging.getLogRecordFactory()
    if getattr(factory, "newswatch_redacts", False):
        return

    def redacting_factory(*args, **kwargs) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        if type(record) is logging.LogRecord:
            record.__class__ = _RedactedLogRecord
        return record

    redacting_factory.newswatch_redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(redacting_factory)


install_log_redaction()
