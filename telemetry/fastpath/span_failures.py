"""A span's failure, as the fast paths record it where the stock code's context manager would
(opentelemetry.trace.use_span): an `exception` event and the ERROR status with the
exception's type and message. Used by the server-span middleware and the kept database
spans."""

from __future__ import annotations

from opentelemetry.trace import Span, Status, StatusCode


def mark_failed(span: Span, exception: BaseException) -> None:
    """What use_span does with an exception raised while its span is current."""
    if span.is_recording():
        span.record_exception(exception)
        span.set_status(Status(StatusCode.ERROR, f"{type(exception).__name__}: {exception}"))
