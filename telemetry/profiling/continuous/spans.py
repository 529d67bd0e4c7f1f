"""Which span each thread is serving, so that the continuous sampler can tie what it sampled
to a trace, and a sampled span to its profile.

A span processor notes, per thread, the local root span it starts (a request's server span,
a task's consumer span: no parent, or a parent from another process). The sampler thread
reads that note when it samples the thread; if the span still records, the sample counts
for its trace in the window (bounded), and the span gets the attribute
`profiling.profile_id` ("role:host:pid@window start", the window's key), once. A span is
only marked when a sample hit it: at 19 Hz a 5 ms request is sampled about one time in ten,
and a span with no sample has no profile to lead to.

Why not on span start: the attribute would promise a profile that may not exist. Why this
works from another thread: the SDK's Span.set_attribute takes the span's lock; if the span
ended in between, the SDK ignores the call (with a warning, rare: a microsecond window).
"""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import SpanProcessor

PROFILE_ID_ATTRIBUTE = "profiling.profile_id"

_local_roots: dict[int, Any] = {}
_state = {"active": False, "installed": False}
_install_lock = threading.Lock()


class LocalRootSpans(SpanProcessor):
    """Notes each thread's local root span while continuous profiling is on."""

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        if not _state["active"]:
            return
        parent = span.parent
        if parent is None or parent.is_remote:
            _local_roots[threading.get_ident()] = span

    def on_end(self, span: Any) -> None:
        # Nothing to do: the note is replaced by the thread's next root span, and a span
        # that ended is recognised by the sampler (it no longer records).
        return None


def install() -> bool:
    """Add the processor to this process's TracerProvider (once); False if the provider is
    not the SDK's (telemetry off): then samples carry no trace."""
    with _install_lock:
        if _state["installed"]:
            return True
        provider = trace.get_tracer_provider()
        add = getattr(provider, "add_span_processor", None)
        if add is None:
            return False
        add(LocalRootSpans())
        _state["installed"] = True
        return True


def set_active(active: bool) -> None:
    """Note root spans (continuous profiling on) or not; forget the notes when off."""
    _state["active"] = active
    if not active:
        _local_roots.clear()


def root_span_of(thread_id: int) -> Any | None:
    """The local root span `thread_id` is serving now, if it still records."""
    span = _local_roots.get(thread_id)
    if span is None:
        return None
    if not span.is_recording():
        _local_roots.pop(thread_id, None)
        return None
    return span


def forget_thread(thread_id: int) -> None:
    _local_roots.pop(thread_id, None)


def profile_id(process: str, window_start: int) -> str:
    """The key of one process's window: what `profiling.profile_id` holds."""
    return f"{process}@{window_start}"


def parse_profile_id(value: str) -> tuple[str, int] | None:
    """(process, window start) from a profile id, or None if it is not one."""
    process, sep, start = str(value).rpartition("@")
    if not sep or not process or not start.isdigit():
        return None
    return process, int(start)
