"""A real OTLP collector (rotel) receives the fast-encoded log records of GrpcLogExporter and
HttpLogExporter, configured by the standard OTEL_EXPORTER_OTLP_* variables, as Python logging
wrote them: body, attributes of each type, the trace they were logged in, the resource."""

from __future__ import annotations

import logging

import pytest
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import format_trace_id

from telemetry.fastpath.log_exporters import GrpcLogExporter, HttpLogExporter

pytestmark = pytest.mark.e2e

EXTRAS = {"job.id": "j-7", "attempt": 2, "ratio": 0.25, "retried": True, "note": "grüße 日本"}


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_the_collector_receives_the_records_as_logged(collector, monkeypatch, protocol):
    if protocol == "grpc":
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", collector.grpc_endpoint)
        exporter = GrpcLogExporter()
    else:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.http_endpoint)
        exporter = HttpLogExporter()
    provider = LoggerProvider(resource=Resource.create({"service.name": f"logs-{protocol}"}))
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    logger = logging.getLogger(f"tests.log_encoding_e2e.{protocol}")
    logger.handlers[:] = [LoggingHandler(logger_provider=provider)]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    tracer = TracerProvider().get_tracer("tests")
    try:
        with tracer.start_as_current_span("job") as span:
            logger.info("job %s done over %s", "j-7", protocol, extra=EXTRAS)
            logger.warning("second record")
        trace_id = format_trace_id(span.get_span_context().trace_id)
        provider.shutdown()  # flushes
    finally:
        logger.handlers.clear()

    received = collector.wait_for(
        f"two log records over {protocol}", lambda r: len(r.logs_in(trace_id)) == 2
    )
    records = {record["body"]: record for record in received.logs_in(trace_id)}
    done = records[f"job j-7 done over {protocol}"]
    assert done["attributes"] == EXTRAS
    assert done["resource"]["service.name"] == f"logs-{protocol}"
    assert done["span_id"] == format(span.get_span_context().span_id, "016x")
    assert "second record" in records
