"""The OTLP/HTTP receiver the encoder tests post to: it records each request's headers and
body and answers 200, as a collector does."""

from __future__ import annotations

import http.server
from collections.abc import Iterator

import pytest

from tests.harness.downstreams import serving


class _Receiver(http.server.BaseHTTPRequestHandler):
    requests: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.requests.append((dict(self.headers), body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def otlp_http_receiver() -> Iterator[tuple[str, list]]:
    received: list[tuple[dict[str, str], bytes]] = []
    handler = type("Receiver", (_Receiver,), {"requests": received})
    with serving(handler) as base_url:
        yield base_url, received
