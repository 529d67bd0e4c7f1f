"""One yappi capture at a time per process: around a request, a task, or a whole process
for a time window.

yappi (and tracemalloc) are process-wide, so a process runs one session at a time: a
capture that finds the profiler busy with another capture is skipped, not queued (one that
finds the agent harvesting waits for it: see _wait_for_harvest). Request and task captures
profile only their own thread (profile_threads=False), so the other threads of a gthread
worker are neither slowed nor mixed in. A capture never breaks its request or task: every
profiler error is logged (once per kind) and the work goes on unprofiled.

The profiler never reports itself: before stopping, a capture closes the calls it made to
stop (telemetry.profiling.yappi_stats), and every table it produces leaves the profiler's
own functions out (telemetry.profiling.table_filters.without_profiler).

Captures add up in yappi's counters and are collected about once a second (harvest()). An
*individual* capture (one of the first PROFILING_MAX_CAPTURE_PROFILES of each process in a
run, at most one per harvest: it needs empty counters) is also read as soon as it ends, raw,
so that it can be shown on its own.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import tracemalloc
from dataclasses import dataclass, field
from types import FrameType

from opentelemetry import trace

from telemetry.profiling import table_filters, yappi_stats
from telemetry.profiling.table import ProfileTable

logger = logging.getLogger(__name__)

MEMORY_TOP_SITES = 50
# Frames kept per allocation traceback: the allocating line is what the table shows.
_TRACEMALLOC_FRAMES = 1

_session_lock = threading.Lock()
_logged_errors: set[str] = set()
# The run whose captures sit in yappi's counters, not yet harvested. yappi adds up the
# captures of a run across start/stop; collecting its statistics is the expensive part
# (milliseconds), so the agent harvests about once a second instead of after every capture.
_pending_run_id: int | None = None
# Set while harvest() holds the session lock: a capture that finds the lock held waits for a
# harvest (bookkeeping of the agent's own), not for another capture.
_harvesting = threading.Event()
HARVEST_WAIT_SECONDS = 2.0


@dataclass
class Capture:
    """A session in progress: which run it is for, and how to finish it."""

    run_id: int
    memory: bool
    whole_process: bool
    individual: bool = False
    label: str = ""
    started: float = field(default_factory=time.monotonic)
    started_at: float = field(default_factory=time.time)
    # The frames on the stack when the capture began (held, so that their ids stay theirs):
    # what the capture entered after them is closed before yappi stops.
    outer_frames: dict[int, FrameType] = field(default_factory=dict, repr=False)


@dataclass
class CaptureResult:
    """What one capture produced; `trace_id` is 32 hex digits or "". Its function table
    comes later from harvest(), together with the other captures of the same second; an
    individual capture also brings its own, raw (table_filters.as_captured shows it)."""

    run_id: int
    memory_sites: list[tuple[str, int, int]]  # (file:line, bytes, allocations)
    trace_id: str
    label: str = ""
    started_at: float = 0.0
    duration_ms: float = 0.0
    table: ProfileTable | None = None


def _log_once(kind: str, message: str) -> None:
    if kind in _logged_errors:
        logger.debug(message, exc_info=True)
        return
    _logged_errors.add(kind)
    logger.warning(message, exc_info=True)


def pending_run_id() -> int | None:
    """The run whose captures wait in yappi for harvest(), if any."""
    return _pending_run_id


def busy() -> bool:
    """True while this process runs a session."""
    return _session_lock.locked()


def begin(
    *,
    run_id: int,
    clock: str,
    memory: bool,
    whole_process: bool = False,
    individual: bool = False,
    label: str = "",
) -> Capture | None:
    """Start profiling; None when the profiler is busy or fails (then nothing is captured).

    Also None while another run's captures wait to be harvested (within a second): the
    counters of two runs must not mix. An individual capture needs empty counters: with
    this run's captures waiting, it becomes an ordinary one.
    """
    if not _session_lock.acquire(blocking=False) and not _wait_for_harvest():
        return None
    try:
        import yappi

        if yappi.is_running() or _pending_run_id not in (None, run_id):
            # Someone else's profiler, or another run's unharvested counters: leave them be.
            _session_lock.release()
            return None
        individual = individual and _pending_run_id is None
        if _pending_run_id is None:
            yappi.clear_stats()
            yappi.set_clock_type(clock)
        if memory:
            tracemalloc.start(_TRACEMALLOC_FRAMES)
        capture = Capture(
            run_id=run_id,
            memory=memory,
            whole_process=whole_process,
            individual=individual,
            label=label,
            outer_frames=yappi_stats.frames_of(sys._getframe(1)),
        )
        yappi.start(builtins=True, profile_threads=whole_process)
        return capture
    except Exception:
        _log_once("begin", "profiling: could not start a capture; the work goes on unprofiled")
        _reset()
        _session_lock.release()
        return None


def _wait_for_harvest() -> bool:
    """True (the lock is held now) once a harvest that holds the profiler is done. It holds
    it for milliseconds, longer for a process's first one (its table holds every import):
    the capture waits for it rather than be lost. A lock held by another capture: False."""
    return _harvesting.is_set() and _session_lock.acquire(timeout=HARVEST_WAIT_SECONDS)


def end(capture: Capture) -> CaptureResult | None:
    """Stop the session; None on failure. Its counters wait in yappi for harvest().

    The current span, if it records, gets `profiling.run_id`, and its trace id is kept.
    """
    global _pending_run_id
    try:
        import yappi

        # Nothing in between: any call made here after closing would be left open again.
        yappi_stats.close_calls_since(capture.outer_frames)
        yappi.stop()
        duration_ms = (time.monotonic() - capture.started) * 1000
        capture.outer_frames = {}
        # An individual capture's counters are read as they are (1-2 ms; cleaned when shown)
        # and stay in yappi: the next harvest collects them with the others of its second.
        table = yappi_stats.read_table() if capture.individual else None
        _pending_run_id = capture.run_id
        memory_sites = _memory_sites() if capture.memory else []
        return CaptureResult(
            run_id=capture.run_id,
            memory_sites=memory_sites,
            trace_id=_tag_current_span(capture.run_id),
            label=capture.label,
            started_at=capture.started_at,
            duration_ms=duration_ms,
            table=table,
        )
    except Exception:
        _log_once("end", "profiling: could not finish a capture; the run's pending data is lost")
        _reset()
        return None
    finally:
        if capture.memory and tracemalloc.is_tracing():
            tracemalloc.stop()
        _session_lock.release()


def harvest(timeout: float = 1.0) -> tuple[int, ProfileTable] | None:
    """Collect the pending captures' statistics: (run id, table), or None if there are none.

    Waits for a capture in progress to end (at most `timeout` seconds) rather than stop it.
    """
    global _pending_run_id
    if _pending_run_id is None or not _session_lock.acquire(timeout=timeout):
        return None
    _harvesting.set()
    try:
        import yappi

        run_id = _pending_run_id
        if run_id is None:
            return None
        table = table_filters.as_captured(yappi_stats.read_table())
        yappi.clear_stats()
        _pending_run_id = None
        return run_id, table
    except Exception:
        _log_once("harvest", "profiling: could not collect statistics; they are dropped")
        _reset()
        return None
    finally:
        _harvesting.clear()
        _session_lock.release()


def _reset() -> None:
    """Leave yappi stopped and empty, whatever state a failure left (lock held by caller)."""
    global _pending_run_id
    _pending_run_id = None
    try:
        import yappi

        if yappi.is_running():
            yappi.stop()
        yappi.clear_stats()
    except Exception:
        _log_once("reset", "profiling: could not reset yappi")
    if tracemalloc.is_tracing():
        tracemalloc.stop()


def _memory_sites() -> list[tuple[str, int, int]]:
    """Top allocation sites of the memory still held at the end of the capture."""
    if not tracemalloc.is_tracing():
        return []
    snapshot = tracemalloc.take_snapshot().filter_traces(
        (tracemalloc.Filter(False, tracemalloc.__file__),)
    )
    tracemalloc.stop()
    sites = []
    for stat in snapshot.statistics("lineno")[:MEMORY_TOP_SITES]:
        frame = stat.traceback[0]
        sites.append((f"{frame.filename}:{frame.lineno}", stat.size, stat.count))
    return sites


def _tag_current_span(run_id: int) -> str:
    span = trace.get_current_span()
    context = span.get_span_context()
    if not context.is_valid:
        return ""
    if span.is_recording():
        span.set_attribute("profiling.run_id", run_id)
    return trace.format_trace_id(context.trace_id)
