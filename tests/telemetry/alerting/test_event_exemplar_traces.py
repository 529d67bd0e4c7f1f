"""An alert event's example traces from Prometheus's exemplars: a real Prometheus (Debian's,
--enable-feature=exemplar-storage) scrapes a target exposing the request histogram with
exemplars in OpenMetrics, as the compose stack's OTLP receiver stores them, and the event's
page links the trace ids of its route, while it fired, to the trace viewer."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler

import pytest
from django.utils import timezone

from telemetry.alerting import links
from telemetry.models import AlertEvent
from tests.harness.downstreams import serving
from tests.harness.prometheus import start_prometheus
from tests.harness.servers import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
OTHER_ROUTE_TRACE = "00f067aa0ba902b7a3ce929d0e0e4736"


class OpenMetricsTarget(BaseHTTPRequestHandler):
    """/metrics with two routes' request buckets, each carrying an exemplar."""

    def do_GET(self):
        now = time.time()
        body = (
            "# TYPE http_server_request_duration_seconds histogram\n"
            'http_server_request_duration_seconds_bucket{http_route="/api/process",le="1.0"} 7'
            f' # {{trace_id="{TRACE}",span_id="00f067aa0ba902b7"}} 0.8 {now:.3f}\n'
            'http_server_request_duration_seconds_bucket{http_route="/api/process",le="+Inf"} 7\n'
            'http_server_request_duration_seconds_count{http_route="/api/process"} 7\n'
            'http_server_request_duration_seconds_sum{http_route="/api/process"} 4.2\n'
            'http_server_request_duration_seconds_bucket{http_route="/api/users",le="1.0"} 3'
            f' # {{trace_id="{OTHER_ROUTE_TRACE}"}} 0.1 {now:.3f}\n'
            'http_server_request_duration_seconds_bucket{http_route="/api/users",le="+Inf"} 3\n'
            'http_server_request_duration_seconds_count{http_route="/api/users"} 3\n'
            'http_server_request_duration_seconds_sum{http_route="/api/users"} 0.3\n'
            "# EOF\n"
        ).encode()
        self.send_response(200)
        self.send_header(
            "Content-Type", "application/openmetrics-text; version=1.0.0; charset=utf-8"
        )
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_the_event_page_links_the_exemplar_traces_of_its_route(tmp_path, settings, staff_session):
    stack = Stack(env={**os.environ}, log_dir=tmp_path)
    with serving(OpenMetricsTarget) as target:
        try:
            prom = start_prometheus(
                stack,
                tmp_path / "prometheus",
                targets={"observability-site": [target.removeprefix("http://")]},
                flags=("--enable-feature=exemplar-storage",),
            )
            started = timezone.now() - timedelta(minutes=1)
            settings.PROMETHEUS_URL = prom
            settings.TRACE_VIEWER_URL = "http://127.0.0.1:16686/trace/{trace_id}"
            deadline = time.monotonic() + 30
            found = []
            while time.monotonic() < deadline and not found:
                found = links.exemplar_traces("/api/process", started, timezone.now())
                time.sleep(0.5)
            assert found == [(TRACE, f"http://127.0.0.1:16686/trace/{TRACE}")], stack.logs()
            event = AlertEvent.objects.create(
                fingerprint="a1",
                starts_at=started,
                status="firing",
                alertname="HighLatency",
                labels={"alertname": "HighLatency", "http_route": "/api/process"},
            )
            page = staff_session.get(f"/admin/telemetry/alertevent/{event.pk}/change/")
            text = page.content.decode()
            assert f'href="http://127.0.0.1:16686/trace/{TRACE}"' in text
            assert OTHER_ROUTE_TRACE not in text  # another route's request
            # Before the event started there was nothing to show.
            early = started - timedelta(hours=1)
            assert links.exemplar_traces("/api/process", early, early + timedelta(minutes=5)) == []
        finally:
            stack.stop()
