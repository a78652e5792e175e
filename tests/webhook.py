"""A webhook receiver on a fixed loopback port: records what Apprise posts; can be down or fail."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from pytest_httpserver import HTTPServer
from smtp_sink import free_port
from werkzeug import Request, Response


@dataclass
class Hit:
    """One request as received."""

    path: str
    content_type: str
    body: bytes
    form: dict[str, str]

    @property
    def json(self) -> dict:
        """The body parsed as JSON (Apprise's json:// payload)."""
        return json.loads(self.body)


class Webhook:
    """Start/stop a real HTTP server on one port (so a channel can be down, then back);
    ``status`` other than 200 makes it answer with that error."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server = HTTPServer(host="127.0.0.1", port=self.port)
        self.server.expect_request("/hook").respond_with_handler(self._handle)
        self.hits: list[Hit] = []
        self.status = 200

    def start(self) -> Webhook:
        self.server.start()
        return self

    def stop(self) -> None:
        if self.server.is_running():
            self.server.stop()

    def url(self, scheme: str = "json") -> str:
        """An Apprise URL posting to this receiver."""
        return f"{scheme}://127.0.0.1:{self.port}/hook"

    def _handle(self, request: Request) -> Response:
        if self.status != 200:
            return Response("unavailable", status=self.status)
        self.hits.append(Hit(request.path, request.content_type or "", request.get_data(), dict(request.form)))
        return Response("ok")

    def wait_for(self, count: int, deadline: float = 30.0) -> list[Hit]:
        """The hits once there are ``count`` of them (fails after ``deadline`` seconds)."""
        end = time.monotonic() + deadline
        while len(self.hits) < count and time.monotonic() < end:
            time.sleep(0.05)
        assert len(self.hits) >= count, f"expected {count} webhook requests, got {len(self.hits)}"
        return self.hits
