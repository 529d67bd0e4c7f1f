"""The OTLP protobuf wire format written directly: what the span and log encoders share
(attributes and values, resources and scopes, the grouping of an export request by resource
and scope), with bounded caches of what repeats from item to item.

Field by field it mirrors `opentelemetry.exporter.otlp.proto.common._internal`. A value it
does not expect (an unusual type, an int outside int64, a key that is not text) is handed to
the official `_encode_attributes` for that attribute, so the bytes stay the official ones.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.exporter.otlp.proto.common._internal import _encode_attributes

# Bounds each cache: high-cardinality values (ids, URLs with ids) would otherwise grow it
# without limit. Clearing when full is cheaper per hit than keeping an LRU order.
CACHE_LIMIT = 4096

# Tags (field number << 3 | wire type) of common.proto and resource.proto, named
# MESSAGE_FIELD. An encoder's own messages write theirs inline, in field-number order as
# protobuf does.
_KEY_VALUE_KEY = b"\x0a"
_KEY_VALUE_VALUE = b"\x12"
_ANY_STRING = b"\x0a"
_ANY_INT = b"\x18"
_ANY_DOUBLE = b"\x21"
_ANY_ARRAY = b"\x2a"
_ANY_KVLIST = b"\x32"
_ANY_BYTES = b"\x3a"
_LIST_VALUES = b"\x0a"  # ArrayValue.values and KeyValueList.values
RESOURCE_ATTRIBUTES = b"\x0a"
SCOPE_ATTRIBUTES = b"\x1a"

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_UINT64_MASK = 2**64 - 1
_SMALL_VARINTS = [bytes((n,)) for n in range(128)]
pack_double = struct.Struct("<d").pack
pack_fixed64 = struct.Struct("<Q").pack
pack_fixed32 = struct.Struct("<I").pack

# Encoded KeyValue fields, one cache per enclosing field tag (the same tag gives the same
# bytes), keyed by (key, value) for strings and (key, value, type) for numbers, because
# True == 1 == 1.0 as dict keys. The span and log export threads share these caches: each
# step is one dict operation, atomic under the GIL, and a race at worst clears a cache twice.
_pair_caches: dict[bytes, dict[tuple, bytes]] = {}
# Resources and scopes by id(), holding the object so the id cannot be reused meanwhile.
_resource_fields: dict[int, tuple[object, bytes]] = {}
_scope_fields: dict[int, tuple[object, bytes]] = {}


class Unusual(Exception):
    """A value this module does not encode itself; the official encoder does instead."""


def pair_cache(tag: bytes) -> dict[tuple, bytes]:
    """The cache of encoded KeyValue fields under `tag` (for tests of its bound)."""
    return _pair_caches.setdefault(tag, {})


def encode_request(items: Iterable[Any], item_field: Callable[[Any], bytes]) -> bytes:
    """The body of an Export*ServiceRequest: one Resource* field (1) per resource, each with
    one Scope* field (2) per instrumentation scope holding `item_field(item)` for its items,
    grouped in first-seen order like the official encoders. Spans and log records have the
    same layout: resource 1, scopes 2, schema_url 3; scope 1, items 2, schema_url 3."""
    # Grouped by equality, as the official encoders' dicts do; the id() maps make that one
    # cheap lookup per item instead of hashing a Resource.
    groups_by_resource: dict[Any, _ResourceGroup] = {}
    groups_by_resource_id: dict[int, _ResourceGroup] = {}
    for item in items:
        resource = item.resource
        group = groups_by_resource_id.get(id(resource))
        if group is None:
            group = groups_by_resource.get(resource)
            if group is None:
                group = groups_by_resource[resource] = _ResourceGroup(resource)
            groups_by_resource_id[id(resource)] = group
        group.items_of(item.instrumentation_scope or None).append(item_field(item))
    return b"".join(
        length_delimited(b"\x0a", group.encode()) for group in groups_by_resource.values()
    )


class _ResourceGroup:
    """The items of one resource, by scope, as encoded fields."""

    def __init__(self, resource: Any) -> None:
        self.resource = resource
        self.by_scope: dict[Any, tuple[Any, list[bytes]]] = {}
        self.by_scope_id: dict[int, list[bytes]] = {}

    def items_of(self, scope: Any) -> list[bytes]:
        item_fields = self.by_scope_id.get(id(scope))
        if item_fields is None:
            entry = self.by_scope.get(scope)
            if entry is None:
                entry = self.by_scope[scope] = (scope, [])
            item_fields = self.by_scope_id[id(scope)] = entry[1]
        return item_fields

    def encode(self) -> bytes:
        """The Resource* message body."""
        parts = [_resource_field(self.resource)]
        for scope, item_fields in self.by_scope.values():
            scope_items = [_scope_field(scope), *item_fields]
            schema_url = scope.schema_url if scope else None
            if schema_url:
                scope_items.append(string_field(b"\x1a", schema_url))
            parts.append(length_delimited(b"\x12", b"".join(scope_items)))
        if self.resource.schema_url:
            parts.append(string_field(b"\x1a", self.resource.schema_url))
        return b"".join(parts)


def _resource_field(resource: Any) -> bytes:
    cached = _resource_fields.get(id(resource))
    if cached is not None and cached[0] is resource:
        return cached[1]
    parts: list[bytes] = []
    append_attributes(parts, resource.attributes, RESOURCE_ATTRIBUTES)
    field = length_delimited(b"\x0a", b"".join(parts))
    remember(_resource_fields, id(resource), (resource, field))
    return field


def _scope_field(scope: Any) -> bytes:
    """Scope*.scope; present (empty) even when the item has no scope."""
    cached = _scope_fields.get(id(scope))
    if cached is not None and cached[0] is scope:
        return cached[1]
    parts: list[bytes] = []
    if scope is not None:
        if scope.name:
            parts.append(string_field(b"\x0a", scope.name))
        if scope.version:
            parts.append(string_field(b"\x12", scope.version))
        append_attributes(parts, scope.attributes, SCOPE_ATTRIBUTES)
    field = length_delimited(b"\x0a", b"".join(parts))
    remember(_scope_fields, id(scope), (scope, field))
    return field


def plain(attributes: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The dict inside a BoundedAttributes, whose items() is much cheaper to walk."""
    if attributes.__class__ is BoundedAttributes:
        return attributes._dict
    return attributes


def append_attributes(parts: list[bytes], attributes: Mapping[str, Any] | None, tag: bytes) -> None:
    """Append one encoded KeyValue field per attribute, from the cache when it repeats."""
    if not attributes:
        return
    cache = _pair_caches.get(tag)
    if cache is None:
        cache = pair_cache(tag)
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
            remember(cache, cache_key, field)
        parts.append(field)


def _key_value_field(tag: bytes, key: str, value: Any) -> bytes:
    field = _pair_field(tag, key, value)
    return _official_key_value_fields(tag, key, value) if field is None else field


def _pair_field(tag: bytes, key: str, value: Any) -> bytes | None:
    """The KeyValue field, or None where the official encoder should decide."""
    try:
        return length_delimited(tag, _key_value_body(key, value))
    except Unusual:
        return None


def _key_value_body(key: str, value: Any) -> bytes:
    if key.__class__ is not str:
        raise Unusual
    try:
        key_field = string_field(_KEY_VALUE_KEY, key) if key else b""
    except UnicodeEncodeError as error:
        raise Unusual from error
    return key_field + length_delimited(_KEY_VALUE_VALUE, any_value_body(value))


def any_value_body(value: Any) -> bytes:
    """The AnyValue message for `value`; its oneof is present even when zero or empty.
    Raises Unusual for what the official `_encode_value` should encode."""
    value_type = value.__class__
    if value_type is str:
        try:
            return string_field(_ANY_STRING, value)
        except UnicodeEncodeError as error:
            raise Unusual from error
    if value_type is bool:
        return b"\x10\x01" if value else b"\x10\x00"
    if value_type is int:
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise Unusual  # the official encoder logs and drops it
        return _ANY_INT + varint(value & _UINT64_MASK)
    if value_type is float:
        return _ANY_DOUBLE + pack_double(value)
    if value is None:
        return b""
    if value_type is bytes:
        return length_delimited(_ANY_BYTES, value)
    if value_type is tuple or value_type is list:
        values = b"".join(length_delimited(_LIST_VALUES, any_value_body(v)) for v in value)
        return length_delimited(_ANY_ARRAY, values)
    if value_type is dict:
        pairs = b"".join(
            length_delimited(_LIST_VALUES, _key_value_body(str(k), v)) for k, v in value.items()
        )
        return length_delimited(_ANY_KVLIST, pairs)
    raise Unusual


def _official_key_value_fields(tag: bytes, key: Any, value: Any) -> bytes:
    """The official encoding of one attribute (nothing if it logs and drops it)."""
    return b"".join(
        length_delimited(tag, key_value.SerializeToString())
        for key_value in _encode_attributes({key: value})
    )


def string_field(tag: bytes, text: str) -> bytes:
    return length_delimited(tag, text.encode("utf-8"))


def length_delimited(tag: bytes, body: bytes) -> bytes:
    length = len(body)
    if length < 0x80:
        return tag + _SMALL_VARINTS[length] + body
    return tag + varint(length) + body


def varint(value: int) -> bytes:
    if value < 0x80:
        return _SMALL_VARINTS[value]
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def remember(cache: dict, key: Any, value: Any) -> None:
    if len(cache) >= CACHE_LIMIT:
        cache.clear()
    cache[key] = value


def clear_caches() -> None:
    """Forget every cached encoding here (for tests and benchmarks of the cold path)."""
    caches: list[dict] = [_resource_fields, _scope_fields]
    caches.extend(list(_pair_caches.values()))  # an export thread may add a tag meanwhile
    for cache in caches:
        cache.clear()
