"""The fast paths write the string and integer attributes they build themselves straight
into the span (no per-value validation); whatever the SDK would change (a string past the
length limit, more attributes than the count limit, another type) still goes the SDK's way,
so the span ends up the same. Real SDK spans; the side-by-side test compares whole requests."""

from __future__ import annotations

from opentelemetry.sdk.trace import SpanLimits, TracerProvider

from telemetry.fastpath.plain_attributes import set_plain_attributes


def span_with(limits: SpanLimits, existing: dict | None = None):
    tracer = TracerProvider(span_limits=limits).get_tracer("plain-attributes")
    return tracer.start_span("GET", attributes=existing)


def test_plain_values_are_stored_as_the_sdk_stores_them():
    ours, sdks = span_with(SpanLimits()), span_with(SpanLimits())
    attributes = {"url.scheme": "http", "server.port": 8000, "client.address": "10.0.0.1"}
    set_plain_attributes(ours, {"url.scheme": "https"})
    sdks.set_attributes({"url.scheme": "https"})
    set_plain_attributes(ours, attributes)
    sdks.set_attributes(attributes)
    assert list(ours.attributes.items()) == list(sdks.attributes.items())


def test_a_string_past_the_length_limit_is_truncated_the_sdks_way():
    span = span_with(SpanLimits(max_attribute_length=8))
    set_plain_attributes(span, {"user_agent.original": "a-very-long-agent", "server.port": 1})
    assert span.attributes["user_agent.original"] == "a-very-l"
    assert span.attributes["server.port"] == 1


def test_past_the_count_limit_the_sdk_drops_and_counts():
    span = span_with(SpanLimits(max_span_attributes=3), {"sampling.rule": "default"})
    set_plain_attributes(span, {"a": "1", "b": "2", "c": "3"})
    assert len(span.attributes) == 3 and span.dropped_attributes == 1


def test_another_type_goes_the_sdks_way():
    span = span_with(SpanLimits())
    set_plain_attributes(span, {"ratio": 0.5, "flag": True, "tags": ["x", "y"]})
    assert dict(span.attributes) == {"ratio": 0.5, "flag": True, "tags": ("x", "y")}
