"""Platform metrics that no instrumentation gives: errors by type.

Counted from Django's got_request_exception (an exception no view or handler caught) and
Celery's task_failure (a task that failed for good, after its retries). Connected in
TelemetryConfig.ready(); the instruments come from the OpenTelemetry API, so they record
nothing until this process has built its providers.
"""

from __future__ import annotations

import sys
from typing import Any

from opentelemetry import metrics

_meter = metrics.get_meter("telemetry")

errors_counter = _meter.create_counter(
    "app.errors",
    unit="{error}",
    description="Unhandled exceptions, by exception type and where they happened.",
)


def count_error(exc: BaseException | None, *, source: str) -> None:
    """Add one to app.errors with error.type set to the exception's class name."""
    error_type = type(exc).__qualname__ if exc is not None else "unknown"
    errors_counter.add(1, {"error.type": error_type, "app.error.source": source})


def on_request_exception(sender: Any, request: Any = None, **kwargs: Any) -> None:
    """got_request_exception receiver: runs inside Django's except block."""
    count_error(sys.exception(), source="http")
