"""telemetry.fastpath.span_encoder writes the same OTLP message as the official encoder, for
every kind of span the SDK makes, from its caches as well as without them; HttpSpanExporter
sends those bytes with the official exporter's settings."""

from __future__ import annotations

import enum
import gzip
import math
from collections.abc import Iterator

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import (
    encode_spans as official_encode_spans,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)

from telemetry.fastpath import otlp_wire
from telemetry.fastpath import span_encoder as span_encoding
from telemetry.fastpath.otlp_wire import pair_cache
from telemetry.fastpath.span_encoder import encode_spans, encode_spans_to_bytes
from telemetry.fastpath.span_exporters import GrpcSpanExporter, HttpSpanExporter

REMOTE_PARENT = SpanContext(
    trace_id=0x0AF7651916CD43DD8448EB211C80319C,
    span_id=0xB7AD6B7169203331,
    is_remote=True,
    trace_flags=TraceFlags(TraceFlags.SAMPLED),
    trace_state=TraceState([("vendor", "value"), ("other", "1")]),
)
LINKED = SpanContext(trace_id=2**128 - 1, span_id=1, is_remote=False)
LINKED_REMOTE = SpanContext(trace_id=1, span_id=2**64 - 1, is_remote=True)

EVERY_ATTRIBUTE_TYPE = {
    "str": "GET",
    "str.empty": "",
    "str.unicode": "grüße 日本 🚀",
    "bool.true": True,
    "bool.false": False,
    "int.zero": 0,
    "int.negative": -1,
    "int.min": -(2**63),
    "int.max": 2**63 - 1,
    "int.large": 2**62 + 12345,
    "float": 1.5,
    "float.zero": 0.0,
    "float.negative_zero": -0.0,
    "float.negative": -2.25e-300,
    "float.inf": math.inf,
    "bytes": b"\x00\xff",
    "seq.str": ("a", "", "ü"),
    "seq.int": (1, -1, 2**40),
    "seq.float": (0.5, -0.0),
    "seq.bool": (True, False),
    "seq.empty": (),
    "seq.with_none": ("a", None),
    "map": {"inner": 1, "nested": {"deeper": ["x"]}},
}


@pytest.fixture(autouse=True)
def _empty_caches() -> Iterator[None]:
    # Each test starts cold, so the first encoding of a pair in a test is a cache miss.
    span_encoding.clear_caches()
    yield
    span_encoding.clear_caches()


def recording_tracer_provider(**kwargs) -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(**kwargs)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def varied_spans() -> list[ReadableSpan]:
    """Spans of every kind and shape the SDK makes, from two resources and several scopes."""
    web, web_spans = recording_tracer_provider(
        resource=Resource.create(
            {"service.name": "web", "service.instance.id": "i-1", "deployment.count": 3},
            schema_url="https://opentelemetry.io/schemas/1.26.0",
        ),
        span_limits=SpanLimits(
            max_span_attributes=30,
            max_events=2,
            max_links=1,
            max_event_attributes=1,
            max_link_attributes=1,
        ),
    )
    worker, worker_spans = recording_tracer_provider(
        resource=Resource.create({"service.name": "w"})
    )
    django = web.get_tracer(
        "opentelemetry.instrumentation.django",
        "0.66b1",
        schema_url="https://opentelemetry.io/schemas/1.11.0",
        attributes={"scope.attr": "x", "scope.count": 1},
    )
    bare = web.get_tracer("bare")
    celery = worker.get_tracer("opentelemetry.instrumentation.celery", "0.66b1")

    remote = set_span_in_context(NonRecordingSpan(REMOTE_PARENT))
    with django.start_as_current_span(
        "GET /api/users/<int:user_id>",
        context=remote,
        kind=SpanKind.SERVER,
        attributes=EVERY_ATTRIBUTE_TYPE,
        links=[  # max_links=1 keeps the last
            Link(LINKED_REMOTE, {"never": "kept"}),
            Link(LINKED, {"link.attr": "a", "dropped.by.limit": 1}),
        ],
    ) as server:
        server.add_event("dropped: max_events=2 keeps the last two")
        server.add_event("", {})
        server.add_event("with attributes", {"event.attr": "v", "dropped": 2}, timestamp=1)
        with bare.start_as_current_span("SELECT users", kind=SpanKind.CLIENT) as query:
            query.set_attribute("db.system", "sqlite")
            for index in range(34):  # 5 past max_span_attributes
                query.set_attribute(f"extra.{index}", index)
            query.set_status(Status(StatusCode.ERROR, "no such table: users"))
        with django.start_as_current_span("", kind=SpanKind.PRODUCER) as empty_name:
            empty_name.set_status(Status(StatusCode.OK))
    with celery.start_as_current_span(
        "run/process_job", kind=SpanKind.CONSUMER, links=[Link(REMOTE_PARENT)]
    ) as task:
        task.set_attribute("celery.task_name", "process_job")
        task.record_exception(ValueError("boom"))
    with celery.start_as_current_span("internal"):
        pass
    # Interleaved resources and scopes: the grouping keeps first-seen order.
    return [*web_spans.get_finished_spans(), *worker_spans.get_finished_spans()][::-1] + list(
        web_spans.get_finished_spans()
    )


def assert_encodes_like_the_official_encoder(spans) -> None:
    official = official_encode_spans(spans)
    assert encode_spans(spans) == official
    assert encode_spans_to_bytes(spans) == official.SerializeToString(deterministic=True)


def test_it_encodes_varied_spans_as_the_official_encoder_does():
    spans = varied_spans()
    assert_encodes_like_the_official_encoder(spans)
    # The case is as varied as it claims to be.
    message = encode_spans(spans)
    assert len(message.resource_spans) == 2
    assert message.resource_spans[0].schema_url == ""
    assert message.resource_spans[1].schema_url == "https://opentelemetry.io/schemas/1.26.0"
    all_spans = [s for r in message.resource_spans for ss in r.scope_spans for s in ss.spans]
    assert {s.kind for s in all_spans} == {1, 2, 3, 4, 5}
    server = next(s for s in all_spans if s.name == "GET /api/users/<int:user_id>")
    assert server.trace_state == "vendor=value,other=1"
    assert server.flags == 0x300  # parent is remote
    assert [link.flags for link in server.links] == [0x100]
    task = next(s for s in all_spans if s.name == "run/process_job")
    assert [link.flags for link in task.links] == [0x300]
    assert next(s for s in all_spans if s.name == "SELECT users").flags == 0x100  # local
    assert [kv.key for kv in server.attributes] == list(EVERY_ATTRIBUTE_TYPE)
    query = next(s for s in all_spans if s.name == "SELECT users")
    assert (len(query.attributes), query.dropped_attributes_count) == (30, 5)
    assert server.dropped_events_count == 1
    assert server.dropped_links_count == 1
    assert server.events[1].dropped_attributes_count == 1
    assert server.links[0].dropped_attributes_count == 1


def test_it_encodes_from_its_caches_as_it_did_without_them():
    spans = varied_spans()
    cold = encode_spans_to_bytes(spans)
    assert encode_spans_to_bytes(spans) == cold
    assert encode_spans_to_bytes(spans) == official_encode_spans(spans).SerializeToString()


@pytest.mark.parametrize("key", sorted(EVERY_ATTRIBUTE_TYPE))
def test_it_encodes_every_attribute_type_on_spans_events_links_resources_and_scopes(key):
    value = EVERY_ATTRIBUTE_TYPE[key]
    provider, exporter = recording_tracer_provider(resource=Resource({key: value}))
    tracer = provider.get_tracer("scope", attributes={key: value})
    with tracer.start_as_current_span(
        "s", attributes={key: value}, links=[Link(LINKED, {key: value})]
    ) as s:
        s.add_event("e", {key: value})
    assert_encodes_like_the_official_encoder(exporter.get_finished_spans())


def test_it_tells_apart_values_that_are_equal_as_dict_keys():
    # True == 1 == 1.0 and 0.0 == -0.0 == False: a cache keyed on the value alone would
    # hand the first one's bytes to the others.
    provider, exporter = recording_tracer_provider()
    tracer = provider.get_tracer("t")
    for value in (True, 1, 1.0, False, 0, 0.0, -0.0, "1"):
        tracer.start_span("s", attributes={"k": value}).end()
    spans = exporter.get_finished_spans()
    encode_spans_to_bytes(spans)  # fill the caches
    assert_encodes_like_the_official_encoder(spans)
    values = [
        s.attributes[0].value for s in encode_spans(spans).resource_spans[0].scope_spans[0].spans
    ]
    assert [v.WhichOneof("value") for v in values] == [
        "bool_value",
        "int_value",
        "double_value",
        "bool_value",
        "int_value",
        "double_value",
        "double_value",
        "string_value",
    ]
    assert math.copysign(1, values[6].double_value) == -1


def test_it_keeps_each_cache_within_its_bound_and_still_encodes_right():
    provider, exporter = recording_tracer_provider()
    tracer = provider.get_tracer("t")
    for index in range(span_encoding.CACHE_LIMIT + 300):  # distinct ids, like request ids
        tracer.start_span(f"GET /{index}", attributes={"id": index, "path": f"/{index}"}).end()
    spans = exporter.get_finished_spans()
    assert_encodes_like_the_official_encoder(spans)
    assert_encodes_like_the_official_encoder(spans)
    assert 0 < len(pair_cache(span_encoding.SPAN_ATTRIBUTES)) <= span_encoding.CACHE_LIMIT
    assert 0 < len(span_encoding._span_name_fields) <= span_encoding.CACHE_LIMIT


def test_it_groups_equal_resources_and_scopes_that_are_distinct_objects():
    first, second = Resource({"service.name": "a"}), Resource({"service.name": "a"})
    scope_a, scope_b = InstrumentationScope("lib", "1"), InstrumentationScope("lib", "1")
    other = Resource({"service.name": "b"})
    spans = [
        ReadableSpan(
            f"s{i}", context=LINKED, resource=r, instrumentation_scope=sc, start_time=i + 1
        )
        for i, (r, sc) in enumerate(
            [(first, scope_a), (other, None), (second, scope_b), (first, None), (second, scope_a)]
        )
    ]
    assert_encodes_like_the_official_encoder(spans)
    assert len(encode_spans(spans).resource_spans) == 2


class Colour(enum.IntEnum):
    RED = 1


def test_it_leaves_what_it_does_not_expect_to_the_official_encoder(caplog):
    # ReadableSpans made by hand skip the SDK's attribute cleaning: an IntEnum, an int too
    # large for int64, an object and a non-str key all reach the encoder as they are.
    odd = {"enum": Colour.RED, "huge": 2**64, "object": object(), 7: "int key", "ok": "kept"}
    spans = [
        ReadableSpan(
            "odd",
            context=LINKED,
            parent=LINKED_REMOTE,
            attributes=odd,
            events=[],
            links=[Link(LINKED, odd)],
            start_time=5,
            end_time=None,
            status=None,
        ),
        ReadableSpan("no context at all, no times, no scope", context=LINKED),
    ]
    assert_encodes_like_the_official_encoder(spans)
    encoded = encode_spans(spans).resource_spans[0].scope_spans[0].spans[0]
    assert [kv.key for kv in encoded.attributes] == ["enum", "ok"]
    assert "Failed to encode key huge" in caplog.text


def test_it_raises_where_the_official_encoder_raises():
    span = ReadableSpan("bad id", context=SpanContext(trace_id=-1, span_id=1, is_remote=False))
    with pytest.raises(OverflowError):
        official_encode_spans([span])
    with pytest.raises(OverflowError):
        encode_spans([span])


def test_http_exporter_posts_the_official_message_with_the_official_settings(
    otlp_http_receiver, monkeypatch
):
    base_url, received = otlp_http_receiver
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{base_url}/custom/v1/traces")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-tenant=acme")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip")
    spans = varied_spans()
    exporter = HttpSpanExporter()
    try:
        assert exporter.export(spans) == SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    [(headers, body)] = received
    assert headers["x-tenant"] == "acme"
    assert headers["Content-Encoding"] == "gzip"
    assert ExportTraceServiceRequest.FromString(gzip.decompress(body)) == official_encode_spans(
        spans
    )


def test_http_exporter_drops_a_batch_over_max_request_size(otlp_http_receiver):
    base_url, received = otlp_http_receiver
    exporter = HttpSpanExporter(endpoint=f"{base_url}/v1/traces", max_request_size=100)
    try:
        assert exporter.export(varied_spans()) == SpanExportResult.FAILURE
    finally:
        exporter.shutdown()
    assert received == []


def test_it_needs_no_official_encoder_for_what_the_sdk_makes(monkeypatch):
    # The fallback keeps the output right but slow: what the SDK makes must not take it.
    def official_called(*args):
        raise AssertionError(f"fell back to the official encoder for {args!r}")

    spans = varied_spans()
    expected = official_encode_spans(spans)
    monkeypatch.setattr(span_encoding, "_encode_span", official_called)
    monkeypatch.setattr(otlp_wire, "_encode_attributes", official_called)
    assert encode_spans(spans) == expected


def test_it_reads_sdk_span_attributes_without_their_read_only_wrapper():
    # Walking the MappingProxyType around a span's attributes costs a Python call per
    # attribute; if an SDK upgrade moves the dict inside, this says so (the output would
    # stay right, only slower).
    span = next(s for s in varied_spans() if s.name == "SELECT users")
    assert span_encoding._span_attributes(span) is span._attributes._dict


@pytest.mark.parametrize(
    ("protocol", "exporter_class"),
    [("grpc", GrpcSpanExporter), ("http/protobuf", HttpSpanExporter)],
)
def test_the_service_exports_its_spans_with_this_encoder(protocol, exporter_class):
    from telemetry.pipeline.config import SignalConfig
    from telemetry.pipeline.exporters import span_exporter

    signal = SignalConfig("traces", "otlp", protocol, "http://127.0.0.1:4317")
    exporter = span_exporter(signal)
    try:
        assert type(exporter) is exporter_class
    finally:
        exporter.shutdown()
