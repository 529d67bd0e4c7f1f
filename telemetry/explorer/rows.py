"""Finished spans and log records as the rows of the local store: plain tuples in the column
order of telemetry.explorer.writer's inserts, with attributes, events and links as bounded
JSON text.

Written for the background thread of the batch processors: one pass over each item, no model
instance (bulk_create would build one per row and run every field's conversion).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.trace import ReadableSpan

# Bounds of what one row keeps, so the store's size follows its row count. Span attribute
# values are already bounded (2048 characters, telemetry.pipeline.providers.span_limits).
MAX_ATTRIBUTES_JSON = 16 * 1024
MAX_EVENTS_JSON = 32 * 1024  # exception events carry their stacktrace
MAX_BODY_CHARS = 16 * 1024
MAX_NAME_CHARS = 300
_SHORTENED_VALUE_CHARS = 1024

SPAN_COLUMNS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "parent_is_remote",
    "name",
    "kind",
    "service_name",
    "process_role",
    "instance_id",
    "scope",
    "start_us",
    "duration_us",
    "status_code",
    "status_message",
    "attributes",
    "events",
    "links",
)

LOG_COLUMNS = (
    "time_us",
    "trace_id",
    "span_id",
    "severity_number",
    "level",
    "logger",
    "body",
    "attributes",
    "service_name",
    "process_role",
    "instance_id",
)

_KINDS = {0: "internal", 1: "server", 2: "client", 3: "producer", 4: "consumer"}


# One encoder for every row: json.dumps() with options builds a new encoder on each call.
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode


def bounded_json(value: Mapping[str, Any] | Sequence[Any], limit: int) -> str:
    """`value` as JSON text of at most about `limit` characters.

    Too long: long strings are shortened first, then trailing entries are left out, and the
    text says so ("telemetry.store.truncated"), so a page never shows a cut row as whole.
    """
    if not value:
        return ""
    text = _dumps(value)
    if len(text) <= limit:
        return text
    shortened = _shortened(value)
    text = _dumps(shortened)
    if len(text) <= limit:
        return text
    if isinstance(shortened, dict):
        kept: dict[str, Any] = {}
        budget = limit - 64
        for key, item in shortened.items():
            budget -= len(_dumps({key: item}))
            if budget < 0:
                break
            kept[key] = item
        kept["telemetry.store.truncated"] = True
        return _dumps(kept)
    kept_items: list[Any] = []
    budget = limit - 64
    for item in shortened:
        budget -= len(_dumps(item)) + 1
        if budget < 0:
            break
        kept_items.append(item)
    kept_items.append({"name": "telemetry.store.truncated", "attributes": {}})
    return _dumps(kept_items)


def _shortened(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _SHORTENED_VALUE_CHARS:
        return value[:_SHORTENED_VALUE_CHARS] + "…"
    if isinstance(value, Mapping):
        return {key: _shortened(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_shortened(item) for item in value]
    return value


class ProcessIdentity:
    """What every row of one resource repeats: its service name, instance id and the role of
    the process, computed once per resource object (a process has one)."""

    __slots__ = ("_cache", "role")

    def __init__(self, role: str) -> None:
        self.role = role
        self._cache: dict[int, tuple[Any, str, str]] = {}

    def of(self, resource: Any) -> tuple[str, str]:
        cached = self._cache.get(id(resource))
        if cached is not None and cached[0] is resource:
            return cached[1], cached[2]
        attributes = resource.attributes
        service = str(attributes.get("service.name", ""))[:200]
        instance = str(attributes.get("service.instance.id", ""))[:64]
        self._cache[id(resource)] = (resource, service, instance)
        return service, instance


def span_row(span: ReadableSpan, identity: ProcessIdentity) -> tuple:
    """One store row for a finished span."""
    context = span.context
    parent = span.parent
    service, instance = identity.of(span.resource)
    start = span.start_time or 0
    end = span.end_time or start
    status = span.status
    events = span.events
    links = span.links
    scope = span.instrumentation_scope
    return (
        format(context.trace_id, "032x"),
        format(context.span_id, "016x"),
        format(parent.span_id, "016x") if parent is not None else "",
        bool(parent is not None and parent.is_remote),
        span.name[:MAX_NAME_CHARS],
        _KINDS.get(span.kind.value, "internal"),
        service,
        identity.role,
        instance,
        scope.name[:200] if scope is not None else "",
        start // 1000,
        max(0, end - start) // 1000,
        status.status_code.value,
        status.description or "",
        bounded_json(dict(span.attributes or {}), MAX_ATTRIBUTES_JSON),
        bounded_json(
            [
                {
                    "name": event.name,
                    "time_us": event.timestamp // 1000,
                    "attributes": dict(event.attributes or {}),
                }
                for event in events
            ],
            MAX_EVENTS_JSON,
        )
        if events
        else "",
        bounded_json(
            [
                {
                    "trace_id": format(link.context.trace_id, "032x"),
                    "span_id": format(link.context.span_id, "016x"),
                    "attributes": dict(link.attributes or {}),
                }
                for link in links
            ],
            MAX_ATTRIBUTES_JSON,
        )
        if links
        else "",
    )


def log_row(readable: ReadableLogRecord, identity: ProcessIdentity) -> tuple:
    """One store row for a log record."""
    record = readable.log_record
    service, instance = identity.of(readable.resource)
    timestamp = record.timestamp or record.observed_timestamp or 0
    severity = record.severity_number
    body = record.body
    if not isinstance(body, str):
        body = "" if body is None else _dumps(body)
    scope = readable.instrumentation_scope
    return (
        timestamp // 1000,
        format(record.trace_id, "032x") if record.trace_id else "",
        format(record.span_id, "016x") if record.span_id else "",
        severity.value if severity is not None else 0,
        (record.severity_text or "")[:10],
        scope.name[:200] if scope is not None else "",
        body[:MAX_BODY_CHARS],
        bounded_json(dict(record.attributes or {}), MAX_ATTRIBUTES_JSON),
        service,
        identity.role,
        instance,
    )
