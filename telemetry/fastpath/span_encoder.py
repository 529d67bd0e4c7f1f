"""Encode finished spans to OTLP protobuf by writing the wire format directly.

The official encoder (opentelemetry-exporter-otlp-proto-common) builds one protobuf
object per span, attribute, key-value and value in Python; at full sampling that is the
biggest CPU cost per request, paid in the export thread while it holds the GIL. This
module writes the same bytes with plain byte strings, caching what repeats from span to
span (attribute pairs, span names, resources, scopes).

It mirrors `opentelemetry.exporter.otlp.proto.common.trace_encoder.encode_spans` field by
field. Whatever it does not expect (an attribute value of an unusual type, an int outside
int64, a span that fails to encode) is handed to the official encoder for that attribute
or span, so the output is always what the official encoder would produce.

The OTLP span exporters that use it are in telemetry.fastpath.span_exporters.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.exporter.otlp.proto.common._internal import _encode_attributes
from opentelemetry.exporter.otlp.proto.common._internal.trace_encoder import _encode_span
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

_logger = logging.getLogger(__name__)

# Bounds each cache: high-cardinality values (ids, URLs with ids) would otherwise grow it
# without limit. Clearing when full is cheaper per hit than keeping an LRU order.
CACHE_LIMIT = 4096

# Tags (field number << 3 | wire type) of fields written in more than one place, named
# MESSAGE_FIELD; the others are written inline, in field-number order as protobuf does
# (trace.proto: Span, Span.Event, Span.Link, Status; common.proto; resource.proto).
_KEY_VALUE_KEY = b"\x0a"
_KEY_VALUE_VALUE = b"\x12"
_ANY_STRING = b"\x0a"
_ANY_INT = b"\x18"
_ANY_DOUBLE = b"\x21"
_ANY_ARRAY = b"\x2a"
_ANY_KVLIST = b"\x32"
_ANY_BYTES = b"\x3a"
_LIST_VALUES = b"\x0a"  # ArrayValue.values and KeyValueList.values
_SPAN_ATTRIBUTES = b"\x4a"
_EVENT_ATTRIBUTES = b"\x1a"
_LINK_ATTRIBUTES = b"\x22"
_RESOURCE_ATTRIBUTES = b"\x0a"
_SCOPE_ATTRIBUTES = b"\x1a"

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_UINT64_MASK = 2**64 - 1
_SMALL_VARINTS = [bytes((n,)) for n in range(128)]
_pack_double = struct.Struct("<d").pack
_pack_fixed64 = struct.Struct("<Q").pack
_pack_start_end = struct.Struct("<cQcQ").pack

_KIND_FIELDS = {  # Span.kind (field 6) as the official encoder maps it
    SpanKind.INTERNAL: b"\x30\x01",
    SpanKind.SERVER: b"\x30\x02",
    SpanKind.CLIENT: b"\x30\x03",
    SpanKind.PRODUCER: b"\x30\x04",
    SpanKind.CONSUMER: b"\x30\x05",
}
_STATUS_CODE_FIELDS = {
    StatusCode.UNSET: b"",
    StatusCode.OK: b"\x18\x01",
    StatusCode.ERROR: b"\x18\x02",
}
# SpanFlags: the official encoder always says whether the parent (or linked) context is
# remote, and sets no other bit.
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200
_SPAN_FLAGS_LOCAL = b"\x85\x01" + struct.pack("<I", _HAS_IS_REMOTE)
_SPAN_FLAGS_REMOTE = b"\x85\x01" + struct.pack("<I", _HAS_IS_REMOTE | _IS_REMOTE)
_LINK_FLAGS_LOCAL = b"\x35" + struct.pack("<I", _HAS_IS_REMOTE)
_LINK_FLAGS_REMOTE = b"\x35" + struct.pack("<I", _HAS_IS_REMOTE | _IS_REMOTE)

# Encoded KeyValue fields, one cache per enclosing field tag, keyed by (key, value) for
# strings and (key, value, type) for numbers, because True == 1 == 1.0 as dict keys.
_pair_caches: dict[bytes, dict[tuple, bytes]] = {
    tag: {}
    for tag in (
        _SPAN_ATTRIBUTES,
        _EVENT_ATTRIBUTES,
        _LINK_ATTRIBUTES,
        _RESOURCE_ATTRIBUTES,
        _SCOPE_ATTRIBUTES,
    )
}
_span_name_fields: dict[str, bytes] = {}
# Resources and scopes by id(), holding the object so the id cannot be reused meanwhile.
_resource_fields: dict[int, tuple[object, bytes]] = {}
_scope_fields: dict[int, tuple[object, bytes]] = {}


class _Unusual(Exception):
    """A value this module does not encode itself; the official encoder does instead."""


def encode_spans(spans: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
    """The same ExportTraceServiceRequest as the official `encode_spans`, built faster."""
    return ExportTraceServiceRequest.FromString(encode_spans_to_bytes(spans))


def encode_spans_to_bytes(spans: Sequence[ReadableSpan]) -> bytes:
    """The serialized ExportTraceServiceRequest for `spans`, grouped by resource and scope
    in first-seen order like the official encoder."""
    # Resources and scopes are grouped by equality, as the official encoder's dicts do;
    # the id() maps make that one cheap lookup per span instead of hashing a Resource.
    groups_by_resource: dict[Any, _ResourceGroup] = {}
    groups_by_resource_id: dict[int, _ResourceGroup] = {}
    for span in spans:
        resource = span.resource
        group = groups_by_resource_id.get(id(resource))
        if group is None:
            group = groups_by_resource.get(resource)
            if group is None:
                group = groups_by_resource[resource] = _ResourceGroup(resource)
            groups_by_resource_id[id(resource)] = group
        group.spans_of(span.instrumentation_scope or None).append(_span_field(span))
    return b"".join(
        _length_delimited(b"\x0a", group.encode()) for group in groups_by_resource.values()
    )


class _ResourceGroup:
    """The spans of one resource, by scope, as encoded ScopeSpans.spans fields."""

    def __init__(self, resource: Any) -> None:
        self.resource = resource
        self.by_scope: dict[Any, tuple[Any, list[bytes]]] = {}
        self.by_scope_id: dict[int, list[bytes]] = {}

    def spans_of(self, scope: Any) -> list[bytes]:
        span_fields = self.by_scope_id.get(id(scope))
        if span_fields is None:
            entry = self.by_scope.get(scope)
            if entry is None:
                entry = self.by_scope[scope] = (scope, [])
            span_fields = self.by_scope_id[id(scope)] = entry[1]
        return span_fields

    def encode(self) -> bytes:
        """The ResourceSpans message body."""
        parts = [_resource_field(self.resource)]
        for scope, span_fields in self.by_scope.values():
            scope_spans = [_scope_field(scope), *span_fields]
            schema_url = scope.schema_url if scope else None
            if schema_url:
                scope_spans.append(_string_field(b"\x1a", schema_url))
            parts.append(_length_delimited(b"\x12", b"".join(scope_spans)))
        if self.resource.schema_url:
            parts.append(_string_field(b"\x1a", self.resource.schema_url))
        return b"".join(parts)


def _resource_field(resource: Any) -> bytes:
    cached = _resource_fields.get(id(resource))
    if cached is not None and cached[0] is resource:
        return cached[1]
    parts: list[bytes] = []
    _append_attributes(parts, resource.attributes, _RESOURCE_ATTRIBUTES)
    field = _length_delimited(b"\x0a", b"".join(parts))
    _remember(_resource_fields, id(resource), (resource, field))
    return field


def _scope_field(scope: Any) -> bytes:
    """ScopeSpans.scope; present (empty) even when the span has no scope."""
    cached = _scope_fields.get(id(scope))
    if cached is not None and cached[0] is scope:
        return cached[1]
    parts: list[bytes] = []
    if scope is not None:
        if scope.name:
            parts.append(_string_field(b"\x0a", scope.name))
        if scope.version:
            parts.append(_string_field(b"\x12", scope.version))
        _append_attributes(parts, scope.attributes, _SCOPE_ATTRIBUTES)
    field = _length_delimited(b"\x0a", b"".join(parts))
    _remember(_scope_fields, id(scope), (scope, field))
    return field


def _span_field(span: ReadableSpan) -> bytes:
    """ScopeSpans.spans (field 2) for one span."""
    try:
        return _length_delimited(b"\x12", _span_body(span))
    except Exception:
        return _length_delimited(b"\x12", _encode_span(span).SerializeToString())


def _span_body(span: ReadableSpan) -> bytes:
    context = span.get_span_context()
    assert context is not None  # an ended span has one; else _span_field falls back
    parent = span.parent
    parts = [
        b"\x0a\x10",  # trace_id, 16 bytes
        context.trace_id.to_bytes(16, "big"),
        b"\x12\x08",  # span_id, 8 bytes
        context.span_id.to_bytes(8, "big"),
    ]
    trace_state = context.trace_state
    if trace_state:
        text = ",".join(f"{k}={v}" for k, v in trace_state.items())
        parts.append(_string_field(b"\x1a", text))  # trace_state
    if parent:
        parts.append(b"\x22\x08")  # parent_span_id, 8 bytes
        parts.append(parent.span_id.to_bytes(8, "big"))
    name = span.name
    name_field = _span_name_fields.get(name)
    if name_field is None:
        name_field = _string_field(b"\x2a", name) if name else b""  # name
        _remember(_span_name_fields, name, name_field)
    parts.append(name_field)
    parts.append(_KIND_FIELDS[span.kind])
    start, end = span.start_time, span.end_time  # start/end_time_unix_nano, fixed64
    if start and end:
        parts.append(_pack_start_end(b"\x39", start, b"\x41", end))
    else:
        if start:
            parts.append(b"\x39" + _pack_fixed64(start))
        if end:
            parts.append(b"\x41" + _pack_fixed64(end))
    _append_attributes(parts, _span_attributes(span), _SPAN_ATTRIBUTES)
    if dropped := span.dropped_attributes:
        parts.append(b"\x50" + _varint(dropped))
    for event in span.events:
        parts.append(_length_delimited(b"\x5a", _event_body(event)))
    if dropped := span.dropped_events:
        parts.append(b"\x60" + _varint(dropped))
    for link in span.links:
        parts.append(_length_delimited(b"\x6a", _link_body(link)))
    if dropped := span.dropped_links:
        parts.append(b"\x70" + _varint(dropped))
    status = span.status
    if status is not None:
        parts.append(_length_delimited(b"\x7a", _status_body(status)))
    parts.append(_SPAN_FLAGS_REMOTE if parent and parent.is_remote else _SPAN_FLAGS_LOCAL)
    return b"".join(parts)


def _span_attributes(span: ReadableSpan) -> Mapping[str, Any] | None:
    # ReadableSpan.attributes wraps the span's BoundedAttributes in a MappingProxyType,
    # whose items() makes a Python call per attribute; the dict inside holds the same
    # items, and nothing changes them once the span has ended.
    attributes = getattr(span, "_attributes", None)
    return _plain(attributes) if attributes.__class__ is BoundedAttributes else span.attributes


def _event_body(event: Any) -> bytes:
    parts = []
    if event.timestamp:
        parts.append(b"\x09" + _pack_fixed64(event.timestamp))  # time_unix_nano
    if event.name:
        parts.append(_string_field(b"\x12", event.name))  # name
    _append_attributes(parts, _plain(event.attributes), _EVENT_ATTRIBUTES)
    if dropped := event.dropped_attributes:
        parts.append(b"\x20" + _varint(dropped))
    return b"".join(parts)


def _link_body(link: Any) -> bytes:
    # Like the official encoder, a link carries no trace_state.
    context = link.context
    parts = [
        b"\x0a\x10",  # trace_id
        context.trace_id.to_bytes(16, "big"),
        b"\x12\x08",  # span_id
        context.span_id.to_bytes(8, "big"),
    ]
    _append_attributes(parts, _plain(link.attributes), _LINK_ATTRIBUTES)
    if dropped := link.dropped_attributes:
        parts.append(b"\x28" + _varint(dropped))
    parts.append(_LINK_FLAGS_REMOTE if context.is_remote else _LINK_FLAGS_LOCAL)
    return b"".join(parts)


def _plain(attributes: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The dict inside a BoundedAttributes, whose items() is much cheaper to walk."""
    if attributes.__class__ is BoundedAttributes:
        return attributes._dict
    return attributes


def _status_body(status: Any) -> bytes:
    code_field = _STATUS_CODE_FIELDS.get(status.status_code)
    if code_field is None:
        code_field = (
            b"\x18" + _varint(status.status_code.value) if status.status_code.value else b""
        )
    if status.description:  # message (field 2) comes before code (field 3)
        return _string_field(b"\x12", status.description) + code_field
    return code_field


def _append_attributes(
    parts: list[bytes], attributes: Mapping[str, Any] | None, tag: bytes
) -> None:
    """Append one encoded KeyValue field per attribute, from the cache when it repeats."""
    if not attributes:
        return
    cache = _pair_caches[tag]
    for key, value in attributes.items():
        value_type = value.__class__
        if value_type is str:
            cache_key: tuple = (key, value)
        elif value_type is int or value_type is bool or (value_type is float and value):
            # 0.0 and -0.0 are equal keys but different bytes, so zeros are not cached.
            cache_key = (key, value, value_type)
        else:  # uncached: sequences, bytes, None, mappings, zeros, unusual types
            parts.append(_key_value_field(tag, key, value))
            continue
        field = cache.get(cache_key)
        if field is None:
            field = _pair_field(tag, key, value)
            if field is None:
                parts.append(_official_key_value_fields(tag, key, value))
                continue
            _remember(cache, cache_key, field)
        parts.append(field)


def _key_value_field(tag: bytes, key: str, value: Any) -> bytes:
    field = _pair_field(tag, key, value)
    return _official_key_value_fields(tag, key, value) if field is None else field


def _pair_field(tag: bytes, key: str, value: Any) -> bytes | None:
    """The KeyValue field, or None where the official encoder should decide."""
    try:
        return _length_delimited(tag, _key_value_body(key, value))
    except _Unusual:
        return None


def _key_value_body(key: str, value: Any) -> bytes:
    if key.__class__ is not str:
        raise _Unusual
    try:
        key_field = _string_field(_KEY_VALUE_KEY, key) if key else b""
    except UnicodeEncodeError as error:
        raise _Unusual from error
    return key_field + _length_delimited(_KEY_VALUE_VALUE, _any_value_body(value))


def _any_value_body(value: Any) -> bytes:
    """The AnyValue message for `value`; its oneof is present even when zero or empty."""
    value_type = value.__class__
    if value_type is str:
        try:
            return _string_field(_ANY_STRING, value)
        except UnicodeEncodeError as error:
            raise _Unusual from error
    if value_type is bool:
        return b"\x10\x01" if value else b"\x10\x00"
    if value_type is int:
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise _Unusual  # the official encoder logs and drops it
        return _ANY_INT + _varint(value & _UINT64_MASK)
    if value_type is float:
        return _ANY_DOUBLE + _pack_double(value)
    if value is None:
        return b""
    if value_type is bytes:
        return _length_delimited(_ANY_BYTES, value)
    if value_type is tuple or value_type is list:
        values = b"".join(_length_delimited(_LIST_VALUES, _any_value_body(v)) for v in value)
        return _length_delimited(_ANY_ARRAY, values)
    if value_type is dict:
        pairs = b"".join(
            _length_delimited(_LIST_VALUES, _key_value_body(str(k), v)) for k, v in value.items()
        )
        return _length_delimited(_ANY_KVLIST, pairs)
    raise _Unusual


def _official_key_value_fields(tag: bytes, key: Any, value: Any) -> bytes:
    """The official encoding of one attribute (nothing if it logs and drops it)."""
    return b"".join(
        _length_delimited(tag, key_value.SerializeToString())
        for key_value in _encode_attributes({key: value})
    )


def _string_field(tag: bytes, text: str) -> bytes:
    return _length_delimited(tag, text.encode("utf-8"))


def _length_delimited(tag: bytes, body: bytes) -> bytes:
    length = len(body)
    if length < 0x80:
        return tag + _SMALL_VARINTS[length] + body
    return tag + _varint(length) + body


def _varint(value: int) -> bytes:
    if value < 0x80:
        return _SMALL_VARINTS[value]
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _remember(cache: dict, key: Any, value: Any) -> None:
    if len(cache) >= CACHE_LIMIT:
        cache.clear()
    cache[key] = value


def clear_caches() -> None:
    """Forget every cached encoding (for tests and benchmarks of the cold path)."""
    caches: list[dict] = [_span_name_fields, _resource_fields, _scope_fields]
    caches.extend(_pair_caches.values())
    for cache in caches:
        cache.clear()
