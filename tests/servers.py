"""Misbehaving HTTP servers on loopback for the fault tests, and hostile payloads."""

from __future__ import annotations

import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from werkzeug import Request, Response
from werkzeug.serving import make_server


class TrickleServer:
    """A raw TCP server that sends ``head`` then ``drip`` one byte every ``interval`` seconds,
    forever (until the client goes away or the server stops): a slow-loris response.
    With an empty ``drip`` it sends ``head`` and then holds the connection open, silent."""

    def __init__(self, head: bytes, drip: bytes, interval: float = 0.2):
        self.head, self.drip, self.interval = head, drip, interval
        self.connections = 0
        self._stop = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> TrickleServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(5)

    def _serve(self) -> None:
        self._sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)  # the request
                conn.sendall(self.head)
                while not self._stop.wait(0 if self.drip else self.interval):
                    for byte in self.drip:
                        conn.sendall(bytes([byte]))
                        time.sleep(self.interval)
            except OSError:
                return


@contextmanager
def threaded_server(handler: Callable[[Request], Response], ssl_context: ssl.SSLContext | None = None) -> Iterator[str]:
    """A threaded werkzeug server on loopback answering every request with ``handler`` (HTTPS
    with ``ssl_context``)."""
    app = Request.application(handler)
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=ssl_context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{'https' if ssl_context else 'http'}://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def gzip_bomb(decompressed_mb: int) -> bytes:
    """A gzip stream of ``decompressed_mb`` MiB of zeros (about 1/1000 of that compressed)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    return b"".join(packer.compress(block) for _ in range(decompressed_mb)) + packer.flush()


def endless_chunks(chunk: bytes, total: int) -> Iterator[bytes]:
    """``total`` bytes made of ``chunk``, lazily (for streamed responses without a length)."""
    sent = 0
    while sent < total:
        yield chunk
        sent += len(chunk)
