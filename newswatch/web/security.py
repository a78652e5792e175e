"""Who may use the workspace, and which requests may change anything.

* **Authentication** (:class:`Auth`): none on loopback unless configured; a token
  (``NEWSWATCH_WEB_TOKEN``: ``Authorization: Bearer <token>``, or the token as the password of
  the browser's sign-in prompt) or a user and password (``NEWSWATCH_WEB_USER`` /
  ``NEWSWATCH_WEB_PASSWORD``, HTTP basic auth). Bound to any other address, the server refuses
  to start without one of them.
* **CSRF**: every visitor gets a random session cookie (``SameSite=Strict``, ``HttpOnly``);
  forms carry an HMAC of it, and a POST is accepted only with that token and, when the
  browser sends one, an ``Origin`` equal to the server's own.
* **Headers**: a strict Content-Security-Policy (scripts and styles only from this server's
  files, nothing inline), no framing, no MIME sniffing, no referrer beyond this site.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from newswatch.errors import WebSetupError

TOKEN_ENV = "NEWSWATCH_WEB_TOKEN"
USER_ENV = "NEWSWATCH_WEB_USER"
PASSWORD_ENV = "NEWSWATCH_WEB_PASSWORD"
SESSION_COOKIE = "nw_session"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
       " form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@dataclass(frozen=True, slots=True)
class Auth:
    """Credentials the operator configured: a token, or a user and password."""

    token: str | None = None
    user: str | None = None
    password: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.token or (self.user and self.password))

    def allows(self, authorization: str | None) -> bool:
        """True when the ``Authorization`` header carries the configured credentials."""
        if not self.enabled:
            return True
        if not authorization:
            return False
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and self.token:
            return _same(value.strip(), self.token)
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        if self.token and _same(password, self.token):
            return True
        return bool(self.user and self.password and _same(user, self.user) & _same(password, self.password))


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def auth_from_env(env: Mapping[str, str] | None = None) -> Auth:
    """Credentials from the environment; a user without a password (or the reverse) is an error."""
    env = os.environ if env is None else env
    user, password = env.get(USER_ENV) or None, env.get(PASSWORD_ENV) or None
    if bool(user) != bool(password):
        raise WebSetupError(f"set both {USER_ENV} and {PASSWORD_ENV}, or neither")
    token = env.get(TOKEN_ENV) or None
    if token and len(token) < 16:
        raise WebSetupError(f"{TOKEN_ENV} is too short: use at least 16 random characters")
    return Auth(token, user, password)


def is_loopback(host: str) -> bool:
    """True for loopback addresses and ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_binding(host: str, auth: Auth) -> None:
    """Refuse to serve beyond loopback without credentials."""
    if not is_loopback(host) and not auth.enabled:
        raise WebSetupError(
            f"--host {host} makes the workspace reachable from other machines: set {TOKEN_ENV}"
            f" (or {USER_ENV} and {PASSWORD_ENV}) in the environment first"
        )


class Csrf:
    """Form tokens bound to the visitor's session cookie."""

    def __init__(self, secret: bytes | None = None):
        self.secret = secret or secrets.token_bytes(32)

    @staticmethod
    def new_session() -> str:
        return secrets.token_urlsafe(24)

    def token(self, session: str) -> str:
        return hmac.new(self.secret, session.encode("utf-8"), hashlib.sha256).hexdigest()

    def valid(self, session: str | None, token: str | None) -> bool:
        return bool(session and token) and hmac.compare_digest(self.token(session), token)
