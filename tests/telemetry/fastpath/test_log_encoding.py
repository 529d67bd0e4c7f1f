"""telemetry.fastpath.log_encoder writes the same OTLP message as the official encoder, for
the log records Python logging and the SDK make (every level, extras of every type, an
exception, an event name, inside and outside a span, dropped attributes, several resources
and scopes), from its caches as well as without them; HttpLogExporter sends those bytes with
the official exporter's settings."""

from __future__ import annotations

import gzip
import logging
import math
from collections.abc import Iterator

import pytest
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import (
    encode_logs as official_encode_logs,
)
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.sdk._logs import LoggerProvider, LogRecordLimits, ReadableLogRecord
from opentelemetry.sdk._logs.export import (
    InMemoryLogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    TraceFlags,
    set_span_in_context,
)

from telemetry.fastpath import log_encoder, otlp_wire
from telemetry.fastpath.log_encoder import LOG_ATTRIBUTES, encode_logs, encode_logs_to_bytes
from telemetry.fastpath.log_exporters import GrpcLogExporter, HttpLogExporter
from telemetry.fastpath.otlp_wire import CACHE_LIMIT, pair_cache

EXTRAS = {
    "str": "GET",
    "str_empty": "",
    "unicode": "grüße 日本 🚀",
    "yes": True,
    "no": False,
    "zero": 0,
    "negative": -1,
    "int_min": -(2**63),
    "int_max": 2**63 - 1,
    "ratio": 1.5,
    "float_zero": 0.0,
    "negative_zero": -0.0,
    "inf": math.inf,
    "raw": b"\x00\xff",
    "names": ["a", "", "ü"],
    "numbers": (1, -1, 2**40),
    "empty": (),
    "nothing": None,
    # Celery's "Task ... succeeded" record carries a nested dict like this one.
    "data": {"id": "abc", "runtime": 0.0123, "args": "(1,)", "nested": {"deeper": ["x"]}},
}
# The worker's provider keeps two attributes a record, and the SDK warns when it drops one.
pytestmark = pytest.mark.filterwarnings("ignore:Log record attributes were dropped")

UNSAMPLED_REMOTE = SpanContext(
    trace_id=0x0AF7651916CD43DD8448EB211C80319C,
    span_id=0xB7AD6B7169203331,
    is_remote=True,
    trace_flags=TraceFlags(TraceFlags.DEFAULT),
)


@pytest.fixture(autouse=True)
def _empty_caches() -> Iterator[None]:
    otlp_wire.clear_caches()
    yield
    otlp_wire.clear_caches()


def recording_logger_provider(
    resource: Resource, **kwargs
) -> tuple[LoggerProvider, InMemoryLogRecordExporter]:
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=resource, **kwargs)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    return provider, exporter


def logged_through(provider: LoggerProvider, name: str) -> logging.Logger:
    """A stdlib logger whose records go only to an OTLP LoggingHandler on `provider`."""
    logger = logging.getLogger(f"tests.log_encoding.{name}")
    logger.handlers[:] = [LoggingHandler(logger_provider=provider)]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger


def varied_records() -> list[ReadableLogRecord]:
    """Records of every kind the logging bridge and the SDK make, from two resources, several
    scopes, inside a sampled span, under an unsampled parent and outside any span."""
    web, web_records = recording_logger_provider(
        Resource.create(
            {"service.name": "web", "deployment.count": 3},
            schema_url="https://opentelemetry.io/schemas/1.26.0",
        )
    )
    worker, worker_records = recording_logger_provider(
        Resource.create({"service.name": "worker"}),
        log_record_limits=LogRecordLimits(max_attributes=2),
    )
    tracer = TracerProvider().get_tracer("tests")
    requests, jobs = logged_through(web, "requests"), logged_through(worker, "jobs")

    requests.debug("outside any span")
    with tracer.start_as_current_span("GET /"):
        requests.info("user %s signed in", "ada", extra=EXTRAS)
        requests.warning("slow: %.1f s", 2.5)
        requests.info("an event", extra={"otel.event.name": "user.login", "user": "ada"})
        try:
            raise ValueError("bad input", 42)
        except ValueError:
            requests.exception("failed")
        requests.critical("")
    with tracer.start_as_current_span(
        "job", context=set_span_in_context(NonRecordingSpan(UNSAMPLED_REMOTE))
    ):
        jobs.info("three extras, two kept", extra={"a": 1, "b": "two", "c": 3.0})
        jobs.error("Task %(name)s succeeded", {"name": "processing.process_job"})

    # What the logging bridge never makes, the SDK's Logger API does: bodies of other types,
    # no severity, a scope with a version, attributes and a schema URL.
    scoped = web.get_logger(
        "tests.api", "1.2.3", "https://opentelemetry.io/schemas/1.26.0", {"scope.kind": "api"}
    )
    for body in ({"structured": [1, 2.5, "x"]}, ["a", 1], b"\x01", None, 7, 0.0, "", True):
        scoped.emit(LogRecord(body=body, attributes={"body.kind": type(body).__name__}))
    scoped.emit(
        LogRecord(
            timestamp=1_700_000_000_000_000_000,
            observed_timestamp=1_700_000_000_000_000_001,
            severity_text="NOTICE",
            severity_number=SeverityNumber.INFO2,
            body="with every field",
            event_name="app.started",
        )
    )
    return [*web_records.get_finished_logs(), *worker_records.get_finished_logs()]


def assert_encodes_like_the_official_encoder(records) -> None:
    expected = official_encode_logs(records)
    assert encode_logs_to_bytes(records) == expected.SerializeToString()
    assert encode_logs(records) == expected


def test_it_encodes_what_the_official_encoder_encodes():
    records = varied_records()
    assert len(records) == 17
    assert_encodes_like_the_official_encoder(records)


def test_it_encodes_the_same_from_its_caches():
    records = varied_records()
    assert_encodes_like_the_official_encoder(records)  # cold: every pair a miss
    assert pair_cache(LOG_ATTRIBUTES)
    assert_encodes_like_the_official_encoder(records)  # warm


def test_it_encodes_each_record_alone_and_in_any_order():
    records = varied_records()
    for record in records:
        assert_encodes_like_the_official_encoder([record])
    assert_encodes_like_the_official_encoder(records[::-1])
    assert_encodes_like_the_official_encoder([])


def test_what_it_encodes_is_what_was_logged():
    # Byte equality with the official encoder says nothing if both lose a field.
    records = varied_records()
    request = ExportLogsServiceRequest.FromString(encode_logs_to_bytes(records))
    web, worker = request.resource_logs
    assert web.schema_url == "https://opentelemetry.io/schemas/1.26.0"
    by_body = {
        record.body.string_value: record
        for scope in [*web.scope_logs, *worker.scope_logs]
        for record in scope.log_records
        if record.body.HasField("string_value")
    }
    signed_in = by_body["user ada signed in"]
    assert signed_in.severity_text == "INFO"
    assert signed_in.severity_number == SeverityNumber.INFO.value
    assert len(signed_in.trace_id) == 16 and len(signed_in.span_id) == 8
    assert signed_in.flags & 0x01  # sampled
    data = next(kv.value for kv in signed_in.attributes if kv.key == "data")
    assert [kv.key for kv in data.kvlist_value.values] == ["id", "runtime", "args", "nested"]
    failed = by_body["failed"]
    assert {kv.key for kv in failed.attributes} >= {"exception.type", "exception.stacktrace"}
    assert by_body["an event"].event_name == "user.login"
    kept = by_body["three extras, two kept"]
    assert kept.dropped_attributes_count == 1
    assert kept.trace_id == UNSAMPLED_REMOTE.trace_id.to_bytes(16, "big")
    assert kept.flags == 0
    assert by_body["outside any span"].trace_id == b""


def test_it_keeps_its_cache_within_its_bound_and_still_encodes_right():
    provider, exporter = recording_logger_provider(Resource.create({}))
    logger = logged_through(provider, "many")
    for index in range(CACHE_LIMIT + 300):  # distinct task ids, as a worker logs them
        logger.info("job %d done", index, extra={"task_id": f"t-{index}", "n": index})
    records = exporter.get_finished_logs()
    assert_encodes_like_the_official_encoder(records)
    assert_encodes_like_the_official_encoder(records)
    assert 0 < len(pair_cache(LOG_ATTRIBUTES)) <= CACHE_LIMIT


def test_it_needs_no_official_encoder_for_what_the_sdk_makes(monkeypatch):
    # The fallback keeps the output right but slow: what the SDK makes must not take it.
    def official_called(*args):
        raise AssertionError(f"fell back to the official encoder for {args!r}")

    records = varied_records()
    expected = official_encode_logs(records)
    monkeypatch.setattr(log_encoder, "_encode_log", official_called)
    monkeypatch.setattr(log_encoder, "_encode_value", official_called)
    monkeypatch.setattr(otlp_wire, "_encode_attributes", official_called)
    assert encode_logs(records) == expected


class _Odd:
    pass


def test_it_leaves_what_it_does_not_expect_to_the_official_encoder(caplog):
    # A record made by hand skips the SDK's attribute cleaning: an int too large for
    # int64, an object and a str subclass reach the encoder as they are.
    class Text(str):
        pass

    records = [
        ReadableLogRecord(
            LogRecord(
                body=Text("a str subclass"),
                attributes={"huge": 2**64, "object": _Odd(), "ok": "kept", "sub": Text("t")},
            ),
            resource=Resource.create({}),
            instrumentation_scope=InstrumentationScope("odd"),
        )
    ]
    assert_encodes_like_the_official_encoder(records)
    [record] = encode_logs(records).resource_logs[0].scope_logs[0].log_records
    assert [kv.key for kv in record.attributes] == ["ok", "sub"]
    assert record.body.string_value == "a str subclass"
    assert "Failed to encode key huge" in caplog.text


def test_it_raises_where_the_official_encoder_raises():
    record = ReadableLogRecord(LogRecord(body=_Odd()), resource=Resource.create({}))
    with pytest.raises(Exception, match="Invalid type"):
        official_encode_logs([record])
    with pytest.raises(Exception, match="Invalid type"):
        encode_logs([record])


def test_http_exporter_posts_the_official_message_with_the_official_settings(
    otlp_http_receiver, monkeypatch
):
    base_url, received = otlp_http_receiver
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", f"{base_url}/custom/v1/logs")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "x-tenant=acme")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "gzip")
    records = varied_records()
    exporter = HttpLogExporter()
    try:
        assert exporter.export(records) == LogRecordExportResult.SUCCESS
    finally:
        exporter.shutdown()
    [(headers, body)] = received
    assert headers["x-tenant"] == "acme"
    assert headers["Content-Encoding"] == "gzip"
    assert ExportLogsServiceRequest.FromString(gzip.decompress(body)) == official_encode_logs(
        records
    )


def test_http_exporter_drops_a_batch_over_max_request_size(otlp_http_receiver):
    base_url, received = otlp_http_receiver
    exporter = HttpLogExporter(endpoint=f"{base_url}/v1/logs", max_request_size=100)
    try:
        assert exporter.export(varied_records()) == LogRecordExportResult.FAILURE
    finally:
        exporter.shutdown()
    assert received == []


@pytest.mark.parametrize(
    ("protocol", "exporter_class"),
    [("grpc", GrpcLogExporter), ("http/protobuf", HttpLogExporter)],
)
def test_the_service_exports_its_logs_with_this_encoder(protocol, exporter_class):
    from telemetry.pipeline.config import SignalConfig
    from telemetry.pipeline.exporters import log_exporter

    exporter = log_exporter(SignalConfig("logs", "otlp", protocol, "http://127.0.0.1:4317"))
    try:
        assert type(exporter) is exporter_class
    finally:
        exporter.shutdown()
