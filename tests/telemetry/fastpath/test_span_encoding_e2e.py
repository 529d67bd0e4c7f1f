"""A real OTLP collector (rotel) receives the fast-encoded spans of GrpcSpanExporter and
HttpSpanExporter, configured by the standard OTEL_EXPORTER_OTLP_* variables, as what the
SDK recorded: names, ids, kinds, attributes of each type, resource attributes."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, format_trace_id

from telemetry.fastpath.span_exporters import GrpcSpanExporter, HttpSpanExporter

pytestmark = pytest.mark.e2e


ATTRIBUTES = {
    "http.request.method": "GET",
    "http.response.status_code": 200,
    "offset": -42,
    "ratio": 0.25,
    "cached": True,
    "note": "grüße 日本",
}


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_the_collector_receives_the_spans_as_recorded(collector, monkeypatch, protocol):
    if protocol == "grpc":
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", collector.grpc_endpoint)
        exporter = GrpcSpanExporter()
    else:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.http_endpoint)
        exporter = HttpSpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": f"encoding-{protocol}"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("tests.span_encoding")
    with tracer.start_as_current_span(f"GET / over {protocol}", kind=SpanKind.SERVER) as server:
        server.set_attributes(ATTRIBUTES)
        with tracer.start_as_current_span("child"):
            pass
    trace_id = format_trace_id(server.get_span_context().trace_id)
    provider.shutdown()  # flushes

    received = collector.wait_for(
        f"two spans over {protocol}", lambda r: len(r.spans_in(trace_id)) == 2
    )
    spans = {span["name"]: span for span in received.spans_in(trace_id)}
    server_span, child = spans[f"GET / over {protocol}"], spans["child"]
    assert server_span["kind"].lower().endswith("server")
    assert server_span["attributes"] == ATTRIBUTES
    assert server_span["resource"]["service.name"] == f"encoding-{protocol}"
    assert child["parent_id"] == server_span["span_id"]
