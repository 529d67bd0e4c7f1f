"""Attributes our fast paths build themselves from known types (strings and integers), written
straight into a recording SDK span's attribute dict, without the SDK's check of each value
and its lock per attribute (about 1 us an attribute in a loop, two to three times that in a
served process). Used by the server-span middleware and the kept database spans.

BoundedAttributes._dict and ReadableSpan._attributes are private (telemetry.upstream lists
both); the fast paths that call this run only when the versions are the tested ones."""

from __future__ import annotations

from opentelemetry.trace import Span


def set_plain_attributes(span: Span, attributes: dict) -> None:
    """span.set_attributes(attributes), for strings and integers within the span's limits.
    Anything the SDK would change or warn about (another type, a string past the length
    limit, more attributes than the count limit, a span that is not the SDK's) goes the SDK's
    way, all of it."""
    bounded = getattr(span, "_attributes", None)
    items = getattr(bounded, "_dict", None)
    if items is None or (
        bounded.maxlen is not None and len(items) + len(attributes) > bounded.maxlen  # type: ignore[union-attr]
    ):
        span.set_attributes(attributes)
        return
    limit = bounded.max_value_len  # type: ignore[union-attr]
    for value in attributes.values():
        kind = value.__class__
        if not (kind is int or (kind is str and (limit is None or len(value) <= limit))):
            span.set_attributes(attributes)
            return
    for key, value in attributes.items():
        if key in items:  # as BoundedAttributes does: a value set again moves to the end
            del items[key]
        items[key] = value
