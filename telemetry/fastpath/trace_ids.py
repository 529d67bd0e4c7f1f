"""The ids of this process's TracerProvider (with the fast paths on): the SDK's random ones,
except that the server-span middleware, which decides sampling before the SDK is involved
(telemetry.fastpath.server_span), hands the SDK the trace id it decided a kept root on.

Without it the SDK would draw a new trace id for the span and its sampler would decide again
on that one: a ratio would apply twice (1% of 1%).
"""

from __future__ import annotations

import threading

from opentelemetry.sdk.trace.id_generator import RandomIdGenerator


class DecidedTraceIds(RandomIdGenerator):
    """RandomIdGenerator, but the next root trace id of a thread can be named in advance."""

    def __init__(self) -> None:
        self._next = threading.local()

    def name_next(self, trace_id: int) -> None:
        """The next generate_trace_id() of this thread returns `trace_id` (0: a random one)."""
        self._next.trace_id = trace_id

    def generate_trace_id(self) -> int:
        upcoming = self._next
        trace_id = getattr(upcoming, "trace_id", 0)
        if trace_id:
            upcoming.trace_id = 0
            return trace_id
        return super().generate_trace_id()
