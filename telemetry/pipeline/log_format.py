"""Log records on stdout as one JSON object per line, carrying the trace they belong to.

The trace_id and span_id are the ones the OTLP log record of the same call carries, so a
line in `kubectl logs` or a file leads to its trace. They come from the current span when
the record is formatted: handlers format synchronously, in the caller's context. (The
logging instrumentation's otel* record attributes are not used: the pipeline does not ask
it to inject them, and they would only repeat the current span.)
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

# Attributes every LogRecord has; anything else was passed with `extra=` and is kept.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()
    | {"message", "asctime", "taskName"}
    | {"otelSpanID", "otelTraceID", "otelTraceSampled", "otelServiceName"}
)


def trace_ids(record: logging.LogRecord) -> tuple[str | None, str | None]:
    """The (trace_id, span_id) of the span current while RECORD is formatted, as lowercase
    hex, or (None, None) outside a span."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        return trace.format_trace_id(context.trace_id), trace.format_span_id(context.span_id)
    return None, None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, process, trace ids, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        trace_id, span_id = trace_ids(record)
        if trace_id:
            entry["trace_id"] = trace_id
            entry["span_id"] = span_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)
