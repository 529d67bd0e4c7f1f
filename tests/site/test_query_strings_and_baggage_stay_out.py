"""What a client puts in a URL's query or in its trace headers stays out of every sink: no
query value in Django's request log records (over OTLP and on stdout) or in gunicorn's access
log, and no client baggage or tracestate forwarded to the downstream (issue 15: all three
leaked: `?email=...` in the 4xx warning record and the access log, `baggage: user.email=...`
forwarded verbatim). Checked on what a real collector and a real downstream received."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler

import httpx
import pytest

from tests.harness.collector import otlp_env
from tests.harness.downstreams import serving
from tests.harness.servers import api_token

pytestmark = pytest.mark.e2e

EMAIL = "carol.private@example.net"
SECRET_TOKEN = "tok-6f1d2e9a"


class RecordingDownstream(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []
    arrived = threading.Event()

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        type(self).arrived.set()
        body = json.dumps({"size_class": "short"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_query_values_and_client_baggage_reach_no_sink(collector, stack):
    stack.env.update(otlp_env(collector))
    with serving(RecordingDownstream) as downstream:
        base_url = stack.start_web(PROCESSING_DOWNSTREAM_URL=f"{downstream}/enrich")
        web = stack.processes[-1]
        # Anonymous: 401, logged by Django as a warning with the request in its extras.
        assert (
            httpx.get(
                f"{base_url}/api/users", params={"email": EMAIL, "token": SECRET_TOKEN}
            ).status_code
            == 401
        )
        assert httpx.get(f"{base_url}/api/nowhere", params={"email": EMAIL}).status_code == 404
        token = api_token(base_url, stack)
        processed = httpx.post(
            f"{base_url}/api/process?email={EMAIL}",
            json={"data": "hello"},
            headers={
                "Authorization": f"Token {token}",
                "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "tracestate": f"vendor=secret{SECRET_TOKEN}",
                "baggage": f"user.email={EMAIL},session={SECRET_TOKEN}",
            },
            timeout=30,
        )
        assert processed.status_code == 200, processed.text
        assert RecordingDownstream.arrived.wait(10)

    sent = RecordingDownstream.seen[-1]
    assert sent["traceparent"].startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")
    assert "baggage" not in sent, sent
    assert sent.get("tracestate", "") == "", sent

    collector.wait_for(
        "the 4xx warning records",
        lambda r: (
            sum("Unauthorized: /api/users" in str(log.get("body")) for log in r.logs) >= 1
            and any(s["name"] == "POST /api/process" for s in r.spans)
        ),
    )
    sinks = {"collector": collector.output(), "gunicorn stdout": web.output()}
    assert "Unauthorized: /api/users" in sinks["gunicorn stdout"]  # the records are there ...
    assert '"GET /api/users HTTP/1.1" 401' in sinks["gunicorn stdout"]  # ... and the access log
    for sink, text in sinks.items():
        for secret in (EMAIL, EMAIL.replace("@", "%40"), SECRET_TOKEN):
            assert secret not in text, f"{secret!r} reached {sink}"
