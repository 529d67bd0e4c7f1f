"""OTEL_SEMCONV_STABILITY_OPT_IN as this service runs it.

The contrib instrumentations read the variable once, at the first instrumentation of the
process (opentelemetry.instrumentation._semconv): a comma-separated list where `http` means
the stable HTTP conventions, `http/dup` the old and the stable ones side by side, `database`
the stable database conventions (db.system.name, db.query.text, db.namespace ...), and
`database/dup` both database sets; `/dup` wins over the plain value of the same signal, and an
unnamed signal keeps its old conventions.

The service honours whatever the operator lists, with one addition: when the list names
neither `http` nor `http/dup`, `http` is added, because the dashboards, the alert rules and
the metric catalog are written against the stable HTTP names (http.server.request.duration in
seconds, http.request.method, http.route ...). So the default is `http`, `database` gives
`database,http`, and `http/dup` keeps the old HTTP names as well.
"""

from __future__ import annotations

import os

OPT_IN = "OTEL_SEMCONV_STABILITY_OPT_IN"
_HTTP_VALUES = {"http", "http/dup"}


def effective_opt_in(raw: str | None) -> str:
    """The opt-in list the service runs with, given the operator's value (or None)."""
    entries = [entry.strip() for entry in (raw or "").split(",") if entry.strip()]
    if not _HTTP_VALUES & set(entries):
        entries.append("http")
    return ",".join(entries)


def apply_opt_in() -> str:
    """Set OTEL_SEMCONV_STABILITY_OPT_IN for this process's instrumentations, before the
    first of them reads it; returns the value."""
    value = effective_opt_in(os.environ.get(OPT_IN))
    os.environ[OPT_IN] = value
    return value
