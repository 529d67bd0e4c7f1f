"""Stand-in downstream services on 127.0.0.1 for end-to-end tests: real HTTP servers that
fail or answer slowly on demand, so the worker's retries and shutdowns meet real sockets."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ScriptedDownstream(BaseHTTPRequestHandler):
    """Answers 503 to the first `failures` calls, then a valid enrichment after `delay`
    seconds. `calls` counts every request; `started` is set when one arrives."""

    failures = 0
    delay = 0.0
    calls = 0
    started: threading.Event

    def do_POST(self):
        cls = type(self)
        cls.calls += 1
        cls.started.set()
        self.rfile.read(int(self.headers["Content-Length"]))
        if cls.calls <= cls.failures:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        time.sleep(cls.delay)
        body = json.dumps({"size_class": "short", "source": "scripted"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextmanager
def scripted_downstream(*, failures: int = 0, delay: float = 0.0) -> Iterator[type]:
    """Serve a fresh ScriptedDownstream class; yields it (its `url` attribute is set)."""
    handler = type(
        "Downstream",
        (ScriptedDownstream,),
        {"failures": failures, "delay": delay, "calls": 0, "started": threading.Event()},
    )
    with serving(handler) as base_url:
        handler.url = f"{base_url}/enrich"
        yield handler


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve HANDLER on a free port of 127.0.0.1 from a thread; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
