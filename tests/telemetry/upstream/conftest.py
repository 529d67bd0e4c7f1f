"""Fixtures of the upstream tests: an OTLP/HTTP receiver, and a child web process started as
a gunicorn worker starts (tests/telemetry/upstream/serve_one_request.py) that sends to it."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.harness.downstreams import serving
from tests.harness.log_lines import json_records
from tests.paths import REPO_ROOT

CHILD = Path(__file__).with_name("serve_one_request.py")


@dataclass
class OtlpReceiver:
    """What an OTLP/HTTP receiver was sent, decoded."""

    url: str
    bodies: dict[str, list[bytes]] = field(default_factory=dict)  # path -> request bodies

    def server_spans(self) -> list:
        spans = []
        for body in self.bodies.get("/v1/traces", []):
            request = ExportTraceServiceRequest.FromString(body)
            for resource_spans in request.resource_spans:
                for scope_spans in resource_spans.scope_spans:
                    spans.extend(s for s in scope_spans.spans if s.kind == s.SPAN_KIND_SERVER)
        return spans

    def histogram_points(self, name: str) -> list:
        points = []
        for body in self.bodies.get("/v1/metrics", []):
            request = ExportMetricsServiceRequest.FromString(body)
            for resource_metrics in request.resource_metrics:
                for scope_metrics in resource_metrics.scope_metrics:
                    for metric in scope_metrics.metrics:
                        if metric.name == name:
                            points.extend(metric.histogram.data_points)
        return points


def attributes_of(point_or_span) -> dict:
    """The attributes of a decoded OTLP span or data point, as a plain dict."""
    return {
        kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in point_or_span.attributes
    }


@pytest.fixture(name="otlp_receiver")
def otlp_receiver_fixture() -> Iterator[OtlpReceiver]:
    bodies: dict[str, list[bytes]] = {}

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            bodies.setdefault(self.path, []).append(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *args):
            pass

    with serving(Receiver) as url:
        yield OtlpReceiver(url, bodies)


@dataclass
class ChildRun:
    """A finished child process: its exit code, its output and the report it wrote."""

    returncode: int
    output: str
    report: dict

    def log_messages(self) -> list[dict]:
        """The JSON log lines it wrote (stdout and stderr)."""
        return json_records(self.output)


@pytest.fixture(name="serve_in_child")
def serve_in_child_fixture(tmp_path, otlp_receiver) -> Callable[..., ChildRun]:
    """Run the child web process in MODE (see serve_one_request.py), exporting to the
    receiver over OTLP/HTTP, with extra environment variables."""

    def run(mode: str, **extra_env: str) -> ChildRun:
        report_path = tmp_path / f"{mode}.json"
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("OTEL_", "TELEMETRY_", "DATABASE_URL", "CELERY_BROKER_URL"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="observability_site.settings",
            DATA_DIR=str(tmp_path / f"data-{mode}"),
            OTEL_EXPORTER_OTLP_ENDPOINT=otlp_receiver.url,
            OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
            # Exported once, by the flush at exit.
            OTEL_METRIC_EXPORT_INTERVAL="600000",
            TELEMETRY_CONTROL_ENABLED="false",
            **extra_env,
        )
        done = subprocess.run(
            [sys.executable, str(CHILD), mode, str(report_path)],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        report = json.loads(report_path.read_text()) if report_path.exists() else {}
        return ChildRun(done.returncode, done.stdout + done.stderr, report)

    return run
