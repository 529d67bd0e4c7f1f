"""The OTLP link over TLS and mutual TLS, end to end: certificates made by the test (a CA,
the collector's server certificate, a client certificate, an unrelated CA), Debian's nginx
terminating TLS in front of the rotel collector, the service under gunicorn configured only
by the standard OTEL_EXPORTER_OTLP_* variables (generic or per signal).

Traces, metrics and logs arrive over gRPC and over HTTP, with TLS and with mutual TLS,
gzip-compressed on the wire and carrying the configured headers (nginx's access log says
so); a wrong CA is refused and reported in one line while requests are served; a missing
certificate file is one line at start-up. This machine sets REQUESTS_CA_BUNDLE (as many
images do): the HTTP exporters must still use the OTLP CA.
"""

from __future__ import annotations

import subprocess
import time

import httpx
import pytest

from tests.harness.collector import otlp_env, spans_named
from tests.harness.telemetry_fixtures import new_traceparent
from tests.harness.tls import Certificates, make_certificates
from tests.harness.tls_proxy import TlsProxy, running_tls_proxy

pytestmark = pytest.mark.e2e

SIGNALS = ("traces", "metrics", "logs")
GRPC_PATHS = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}
HTTP_PATHS = {signal: f"/v1/{signal}" for signal in SIGNALS}
REPORT = "telemetry: the TLS handshake with the OTLP collector"


@pytest.fixture
def certificates(tmp_path) -> Certificates:
    return make_certificates(tmp_path / "certs")


@pytest.fixture
def tls_proxy(collector, certificates, tmp_path) -> TlsProxy:
    with running_tls_proxy(collector, certificates, tmp_path / "nginx") as proxy:
        yield proxy


def tls_env(
    proxy: TlsProxy,
    certificates: Certificates,
    *,
    protocol: str,
    mutual: bool,
    per_signal: bool,
    ca=None,
) -> dict[str, str]:
    """The standard variables for the link: generic ones, or only the per-signal forms."""
    endpoint = proxy.endpoint(protocol, mutual=mutual)
    settings = {
        "CERTIFICATE": str(ca or certificates.ca),
        "COMPRESSION": "gzip",
        "HEADERS": "x-otlp-token=s3cret-token",
        "PROTOCOL": protocol,
    }
    if mutual:
        settings["CLIENT_CERTIFICATE"] = str(certificates.client_certificate)
        settings["CLIENT_KEY"] = str(certificates.client_key)
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": ""}
    if not per_signal:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
        env.update({f"OTEL_EXPORTER_OTLP_{key}": value for key, value in settings.items()})
        return env
    for signal in SIGNALS:
        upper = signal.upper()
        # A per-signal endpoint is used as it is: OTLP/HTTP's includes the signal's path.
        path = f"/v1/{signal}" if protocol == "http/protobuf" else ""
        env[f"OTEL_EXPORTER_OTLP_{upper}_ENDPOINT"] = endpoint + path
        env.update({f"OTEL_EXPORTER_OTLP_{upper}_{k}": v for k, v in settings.items()})
    return env


def unauthorized_request(base_url: str, traceparent: str) -> None:
    # A 401 logs a warning (django.request): a log record, besides the span and the
    # request metrics.
    response = httpx.get(
        f"{base_url}/api/users/1", headers={"traceparent": traceparent}, timeout=10
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("protocol", "mutual", "per_signal"),
    [
        ("grpc", False, False),
        ("grpc", True, True),
        ("http/protobuf", False, True),
        ("http/protobuf", True, False),
    ],
    ids=["grpc-tls", "grpc-mtls-per-signal", "http-tls-per-signal", "http-mtls"],
)
def test_every_signal_arrives_over_tls(
    collector, tls_proxy, certificates, stack, protocol, mutual, per_signal
):
    env = {
        **otlp_env(collector),
        **tls_env(tls_proxy, certificates, protocol=protocol, mutual=mutual, per_signal=per_signal),
    }
    base_url = stack.start_web(GUNICORN_WORKERS="1", **env)
    trace_id, parent_id, traceparent = new_traceparent()

    unauthorized_request(base_url, traceparent)

    received = collector.wait_for(
        "the span, the warning's log record and the request metrics, through nginx",
        lambda r: bool(
            r.spans_in(trace_id)
            and any("Unauthorized" in str(record["body"]) for record in r.logs)
            and "http.server.request.duration" in r.metric_names()
        ),
    )
    (span,) = spans_named(received.spans_in(trace_id), "GET /api/users/{user_id}")
    assert span["parent_id"] == parent_id
    paths = GRPC_PATHS if protocol == "grpc" else HTTP_PATHS
    port = int(tls_proxy.endpoint(protocol, mutual=mutual).rsplit(":", 1)[1])
    log = [entry for entry in tls_proxy.access_log() if entry["port"] == str(port)]
    for signal in SIGNALS:
        requests = [entry for entry in log if entry["uri"] == paths[signal]]
        assert requests, f"no {signal} through nginx: {log}"
        assert {entry["status"] for entry in requests} == {"200"}, requests
        # gzip on the wire: grpc-encoding for gRPC, Content-Encoding for OTLP/HTTP.
        encoding = "grpc_encoding" if protocol == "grpc" else "content_encoding"
        assert {entry[encoding] for entry in requests} == {"gzip"}, requests
        assert {entry["token"] for entry in requests} == {"s3cret-token"}, requests
        assert {entry["client_verify"] for entry in requests} == (
            {"SUCCESS"} if mutual else {"NONE"}
        ), requests


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_a_wrong_ca_is_refused_reported_once_and_requests_are_served(
    collector, tls_proxy, certificates, stack, protocol
):
    env = {
        **otlp_env(collector),
        **tls_env(
            tls_proxy,
            certificates,
            protocol=protocol,
            mutual=False,
            per_signal=False,
            ca=certificates.wrong_ca,
        ),
    }
    web_url = stack.start_web(GUNICORN_WORKERS="1", **env)
    web = stack.processes[-1]
    trace_id, _, traceparent = new_traceparent()
    started = time.monotonic()
    for _ in range(20):
        assert httpx.get(f"{web_url}/", headers={"traceparent": traceparent}).status_code == 200
    elapsed = time.monotonic() - started
    # Several export attempts of every signal fail meanwhile (batches every 200 ms,
    # metrics every second): wait for the report, then a few more failures.
    deadline = time.monotonic() + 30
    while REPORT not in web.output():
        assert time.monotonic() < deadline, web.output()[-3000:]
        time.sleep(0.3)
    time.sleep(6)
    for _ in range(5):
        assert httpx.get(f"{web_url}/", headers={"traceparent": traceparent}).status_code == 200

    output = web.output()
    assert output.count(REPORT) == 1, output[-4000:]
    assert "certificate verify failed" in output.lower() or "CERTIFICATE_VERIFY_FAILED" in output
    # Not the exporters' line per batch and retry, nor gRPC's own per handshake.
    for noise in ("Transient error", "Failed to export", "Handshake failed", "Traceback"):
        assert noise not in output, output[-4000:]
    # 20 requests in well under the exporters' timeouts: nothing waited on the collector.
    assert elapsed < 10
    assert collector.received().spans_in(trace_id) == []
    assert [e for e in tls_proxy.access_log() if e["status"] == "200"] == []


def test_a_missing_certificate_file_is_one_line_at_start_up(collector, tls_proxy, stack, tmp_path):
    missing = tmp_path / "no-such-ca.pem"
    env = {
        **otlp_env(collector),
        "OTEL_EXPORTER_OTLP_ENDPOINT": tls_proxy.endpoint("grpc"),
        "OTEL_EXPORTER_OTLP_CERTIFICATE": str(missing),
    }
    web_url = stack.start_web(GUNICORN_WORKERS="2", **env)
    web = stack.processes[-1]

    for _ in range(5):
        assert httpx.get(f"{web_url}/").status_code == 200
    time.sleep(2)
    web.stop()

    output = web.output()
    line = f"OTEL_EXPORTER_OTLP_CERTIFICATE={missing}: no such file"
    # Once per worker process, naming every signal it stops, and nothing else about it.
    assert output.count(line) == 2, output
    assert "traces, metrics, logs not exported" in output
    assert "Traceback" not in output and "Failed to read file" not in output
    assert collector.received().spans == []


def test_the_collectors_certificate_names_the_compose_service(certificates):
    # deploy/compose.tls.yaml sends to https://otel-collector:4317 with the script's files.
    done = subprocess.run(
        [
            "openssl",
            "x509",
            "-in",
            str(certificates.server_certificate),
            "-noout",
            "-ext",
            "subjectAltName",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert "DNS:otel-collector" in done.stdout and "IP Address:127.0.0.1" in done.stdout
    verify = subprocess.run(
        [
            "openssl",
            "verify",
            "-CAfile",
            str(certificates.ca),
            str(certificates.client_certificate),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
