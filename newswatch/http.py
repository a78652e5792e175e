"""HTTP with limits, for URLs we do not control.

Every request: connects only to addresses allowed by the SSRF policy (checked after DNS
resolution, on every redirect hop, before connecting), respects per-host politeness (and
robots.txt when asked), follows at most ``max_redirects`` redirects and detects loops, reads
at most ``max_bytes`` after decompression (gzip bombs are cut off without inflating them),
and gives up on a response that takes longer than ``total_timeout`` even when the server
trickles bytes (slow loris), headers included.
"""

from __future__ import annotations

import socket
import ssl
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any

import httpcore
import httpx

from newswatch.config import HttpSettings
from newswatch.errors import BlockedAddress, FetchError
from newswatch.netguard import AddressPolicy, address_policy
from newswatch.politeness import host_slot, robots_allowed


def _permanent_cause(err: BaseException) -> bool:
    """Whether a connection error is one that retrying cannot fix: an unknown host name or a
    TLS certificate that does not verify."""
    seen: set[int] = set()
    cause: BaseException | None = err
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, socket.gaierror) and cause.errno in _UNKNOWN_HOST:
            return True
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


_UNKNOWN_HOST = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A fully read response."""

    url: str
    status: int
    headers: httpx.Headers
    content: bytes
    permanent_redirect: bool = False

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def retry_after(self, now: datetime | None = None) -> float | None:
        """Seconds the server asked us to wait (``Retry-After``: seconds or HTTP date), or None."""
        value = self.headers.get("retry-after", "").strip()
        if value.isdigit():
            return float(value)
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


# -- connections: address check and a whole-response deadline ------------------------------

_deadline: ContextVar[float | None] = ContextVar("newswatch_http_deadline", default=None)


def _bounded(timeout: float | None) -> float | None:
    """``timeout`` shortened to what is left before the current request's deadline."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise httpcore.ReadTimeout("total time limit reached")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write stops at the request deadline."""

    def __init__(self, stream: httpcore.NetworkStream):
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _bounded(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _bounded(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, _bounded(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _GuardedBackend(httpcore.SyncBackend):
    """Resolves host names itself and connects only to addresses the policy allows."""

    def __init__(self, policy: AddressPolicy):
        self.policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = self.policy.resolve(host, port)
        except OSError as err:
            raise httpcore.ConnectError(f"cannot resolve {host}: {err}") from err
        error: Exception = httpcore.ConnectError(f"no address for {host}")
        for address in addresses:
            try:
                stream = super().connect_tcp(address, port, _bounded(timeout), local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as err:
                error = err
                continue
            return _DeadlineStream(stream)
        raise error


@cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context for every client: loading the CA bundle costs tens of milliseconds."""
    return httpx.create_ssl_context()


def make_client(settings: HttpSettings) -> httpx.Client:
    """An HTTP client configured from ``settings``; share it across threads, close it after."""
    transport = httpx.HTTPTransport(
        verify=_tls_context(),
        limits=httpx.Limits(
            max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency
        )
    )
    pool = transport._pool  # httpx offers no public hook for the network backend
    if not isinstance(getattr(pool, "_network_backend", None), httpcore.SyncBackend):
        raise RuntimeError("unsupported httpx/httpcore version: cannot install the address guard")
    pool._network_backend = _GuardedBackend(address_policy(settings.allow_hosts))
    return httpx.Client(
        headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
        timeout=httpx.Timeout(settings.timeout),
        follow_redirects=False,  # followed by fetch(), which checks every hop
        transport=transport,
    )


# -- bodies ---------------------------------------------------------------------------------


class _Decoder:
    """Undoes a Content-Encoding without ever producing more bytes than asked for."""

    def __init__(self, encoding: str):
        encoding = encoding.strip().lower()
        self._raw_fallback = encoding == "deflate"  # some servers omit the zlib header
        self._started = False
        if encoding in ("", "identity"):
            self._inflater = None
        elif encoding in ("gzip", "x-gzip"):
            self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._inflater = zlib.decompressobj()
        else:
            raise FetchError(f"unsupported Content-Encoding {encoding!r}")

    def decode(self, data: bytes, limit: int) -> bytes:
        """Decoded bytes of ``data``, at most ``limit`` (> 0) of them."""
        if self._inflater is None:
            return data
        try:
            out = self._inflater.decompress(data, limit)
        except zlib.error as err:
            if self._started or not self._raw_fallback:
                raise FetchError(f"corrupt compressed body: {err}") from err
            self._inflater, self._raw_fallback = zlib.decompressobj(-zlib.MAX_WBITS), False
            return self.decode(data, limit)
        self._started = True
        return out


def _read_body(response: httpx.Response, settings: HttpSettings) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.max_bytes:
        raise FetchError(f"body of {int(declared)} bytes exceeds limit of {settings.max_bytes}")
    decoder = _Decoder(response.headers.get("content-encoding", ""))
    body = bytearray()
    for chunk in response.iter_raw():
        body += decoder.decode(chunk, settings.max_bytes + 1 - len(body))
        if len(body) > settings.max_bytes:
            raise FetchError(f"body exceeds limit of {settings.max_bytes} bytes")
    return bytes(body)


# -- requests -------------------------------------------------------------------------------


@contextmanager
def _deadline_at(deadline: float) -> Iterator[None]:
    """Stop every connection read and write in this block at ``deadline`` (time.monotonic)."""
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


def fetch(
    client: httpx.Client,
    url: str,
    settings: HttpSettings,
    headers: dict[str, str] | None = None,
    robots: bool = False,
) -> HttpResponse:
    """GET ``url`` within the limits of ``settings``, following redirects hop by hop.

    With ``robots``, every hop must be allowed by its site's robots.txt. Raises
    :class:`FetchError` for refused addresses, robots.txt refusals, network errors, redirect
    loops, too many redirects, oversized bodies and responses slower than
    ``settings.total_timeout``. HTTP error statuses are returned, not raised.
    """
    policy = address_policy(settings.allow_hosts)
    try:
        current = httpx.URL(url)
    except httpx.InvalidURL as err:
        raise FetchError(f"invalid URL {url[:200]!r}: {err}") from err
    chain = [str(current)]
    statuses: list[int] = []
    while True:
        try:
            policy.check_url(current)
        except BlockedAddress as err:
            raise FetchError(str(err)) from None
        if robots and not _robots_allow(client, current, settings):
            raise FetchError(f"disallowed by robots.txt: {current}")
        with host_slot(current.host, settings.per_host_concurrency, settings.per_host_delay):
            answer = _get(client, current, settings, headers)
        if isinstance(answer, HttpResponse):
            permanent = bool(statuses) and all(status in (301, 308) for status in statuses)
            return HttpResponse(answer.url, answer.status, answer.headers, answer.content, permanent)
        status, current = answer
        statuses.append(status)
        if str(current) in chain:
            raise FetchError("redirect loop: " + " -> ".join([*chain, str(current)]))
        chain.append(str(current))
        if len(statuses) > settings.max_redirects:
            raise FetchError(f"more than {settings.max_redirects} redirects: " + " -> ".join(chain))


def _get(
    client: httpx.Client, url: httpx.URL, settings: HttpSettings, headers: dict[str, str] | None
) -> HttpResponse | tuple[int, httpx.URL]:
    """One request: the response, or (status, next URL) for a redirect."""
    deadline = time.monotonic() + settings.total_timeout
    try:
        with _deadline_at(deadline), client.stream("GET", url, headers=headers) as response:
            if response.next_request is not None:  # a redirect, its Location already validated
                return response.status_code, response.next_request.url
            content = _read_body(response, settings)
            return HttpResponse(str(response.url), response.status_code, response.headers, content)
    except BlockedAddress as err:
        raise FetchError(str(err)) from None
    except httpx.TimeoutException as err:
        if time.monotonic() >= deadline - 0.05:
            raise FetchError(f"response took longer than {settings.total_timeout:g}s", retryable=True) from err
        raise FetchError(f"timed out ({type(err).__name__})", retryable=True) from err
    except httpx.HTTPError as err:
        raise FetchError(f"{type(err).__name__}: {err}", retryable=not _permanent_cause(err)) from err


def _robots_allow(client: httpx.Client, url: httpx.URL, settings: HttpSettings) -> bool:
    """Whether robots.txt of ``url``'s site allows fetching it."""
    origin = f"{url.scheme}://{url.netloc.decode('ascii')}"

    def load(robots_url: str) -> tuple[int | None, bytes]:
        try:
            response = fetch(client, robots_url, settings)
        except FetchError:
            return None, b""
        return response.status, response.content

    return robots_allowed(origin, str(url), settings.user_agent, load)
