"""The profiling agent of one process: decides which requests and tasks to capture (from
memory only), keeps what they captured, and, on the control poller's thread about once a
second, reports it to the database, joins new runs, runs whole-process captures and ends
runs that reached their limits.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time

from django.conf import settings

from telemetry.control import channels
from telemetry.models import ProfilingRun
from telemetry.profiling import runs, table_filters, yappi_capture
from telemetry.profiling.runs import ActiveRun
from telemetry.profiling.storage import CaptureProfile, ProcessAggregate, save_process_result
from telemetry.profiling.yappi_capture import Capture, CaptureResult

logger = logging.getLogger(__name__)

_aggregates: dict[int, ProcessAggregate] = {}
_sample_counters: dict[int, int] = {}
_aggregates_lock = threading.Lock()
_process_capture: Capture | None = None
_role: str | None = None


def set_process_role(role: str) -> None:
    """Name this process's kind in its result rows ("web", "worker" ...)."""
    global _role
    _role = role


def process_label() -> str:
    """role:host:pid, the key of this process's result rows."""
    role = _role
    if role is None:
        program = os.path.basename(sys.argv[0]) if sys.argv else ""
        role = {"gunicorn": "web", "celery": "worker"}.get(program, program or "python")
    return f"{role}:{socket.gethostname()}:{os.getpid()}"


def _take_sample(run: ActiveRun) -> bool:
    """1 in N per process, the first one included; never past the run's capture limit."""
    seen = _sample_counters.get(run.id, 0)
    _sample_counters[run.id] = seen + 1
    if seen % run.sample_every:
        return False
    aggregate = _aggregates.get(run.id)
    return aggregate is None or aggregate.captures < run.max_captures


def _begin(run: ActiveRun, label: str) -> Capture | None:
    aggregate = _aggregates.get(run.id)
    if aggregate is None:
        with _aggregates_lock:
            aggregate = _aggregates.setdefault(run.id, ProcessAggregate())
    # The first few captures of each process are kept one by one (per-capture views).
    capture = yappi_capture.begin(
        run_id=run.id,
        clock=run.clock,
        memory=run.memory,
        individual=aggregate.individual_captures < int(settings.PROFILING_MAX_CAPTURE_PROFILES),
        label=label[:300],
    )
    if capture is not None and capture.individual:
        aggregate.individual_captures += 1
    return capture


def begin_for_request(route: str, path: str) -> Capture | None:
    """Start a capture if a live run wants this request; None otherwise (the usual case)."""
    for run in runs.live_runs():
        if run.matches_request(route, path) and _take_sample(run):
            return _begin(run, route or path)
    return None


def begin_for_task(name: str) -> Capture | None:
    """Start a capture if a live run wants this task; None otherwise."""
    for run in runs.live_runs():
        if run.matches_task(name) and _take_sample(run):
            return _begin(run, name)
    return None


def finish(capture: Capture) -> None:
    """End a capture and keep its result for the next report; never raises."""
    try:
        result = yappi_capture.end(capture)
        if result is not None:
            record(result)
    except Exception:
        logger.exception("profiling: could not record a capture")


def record(result: CaptureResult) -> None:
    """Add one capture to this process's aggregate for its run."""
    max_trace_ids = int(settings.PROFILING_MAX_TRACE_IDS)
    with _aggregates_lock:
        aggregate = _aggregates.get(result.run_id)
        if aggregate is None:
            if not any(run.id == result.run_id for run in runs.active_runs.snapshot()):
                return  # the run ended and was reported while this capture ran: too late
            aggregate = _aggregates[result.run_id] = ProcessAggregate()
        for site, size, count in result.memory_sites:
            aggregate.memory[site] += size
            aggregate.memory_counts[site] += count
        if result.table is not None:  # its counters come with the next harvest too
            aggregate.new_capture_profiles.append(
                CaptureProfile(
                    label=result.label,
                    trace_id=result.trace_id,
                    started_at=result.started_at,
                    duration_ms=result.duration_ms,
                    table=table_filters.bounded(
                        result.table, int(settings.PROFILING_MAX_FUNCTIONS)
                    ),
                )
            )
        aggregate.captures += 1
        if result.trace_id and len(aggregate.trace_ids) < max_trace_ids:
            if result.trace_id not in aggregate.trace_ids:
                aggregate.trace_ids.append(result.trace_id)
        aggregate.dirty = True


def _merge_harvest() -> None:
    """Move the captures' statistics waiting in yappi into their run's aggregate."""
    harvested = yappi_capture.harvest()
    if harvested is None:
        return
    run_id, table = harvested
    with _aggregates_lock:
        aggregate = _aggregates.get(run_id)
        if aggregate is None:
            return  # the run ended and was reported before these came in: dropped
        aggregate.table.merge(table)
        # Bounded in memory too, with headroom so that merging many harvests stays exact
        # for every function that can make the stored top.
        limit = int(settings.PROFILING_MAX_FUNCTIONS)
        if len(aggregate.table.functions) > 4 * limit:
            aggregate.table = table_filters.bounded(aggregate.table, 2 * limit)
        aggregate.dirty = True


def tick() -> None:
    """One agent step on the poller thread; registered with telemetry.control.channels."""
    if not runs.profiling_enabled():
        return
    active = runs.active_runs.snapshot()
    now = time.time()
    with _aggregates_lock:
        for run in active:
            if run.is_live(now) and run.id not in _aggregates:
                _aggregates[run.id] = ProcessAggregate()  # joined: reported at once
    _whole_process_step(active, now)
    _merge_harvest()
    _report()
    if active:
        runs.runs_advance()


def _whole_process_step(active: tuple[ActiveRun, ...], now: float) -> None:
    global _process_capture
    wanted = next(
        (r for r in active if r.target == ProfilingRun.Target.PROCESS and r.is_live(now)), None
    )
    current = _process_capture
    if current is not None and (wanted is None or wanted.id != current.run_id):
        _process_capture = None
        finish(current)
    if wanted is not None and _process_capture is None:
        with _aggregates_lock:
            done = _aggregates.get(wanted.id)
            if done is not None and done.captures:
                return  # one window per process and run
        _process_capture = yappi_capture.begin(
            run_id=wanted.id, clock=wanted.clock, memory=wanted.memory, whole_process=True
        )


def _report() -> None:
    """Write every aggregate with news to its row; forget runs no longer active."""
    active_ids = {run.id for run in runs.active_runs.snapshot()}
    with _aggregates_lock:
        pending = [(run_id, agg) for run_id, agg in _aggregates.items() if agg.dirty]
    label = process_label()
    for run_id, aggregate in pending:
        with _aggregates_lock:
            save_process_result(run_id=run_id, process=label, aggregate=aggregate)
    with _aggregates_lock:
        ended = [r for r, agg in _aggregates.items() if r not in active_ids and not agg.dirty]
        for run_id in ended:
            waiting = yappi_capture.pending_run_id() == run_id
            if not waiting and (_process_capture is None or _process_capture.run_id != run_id):
                del _aggregates[run_id]
                _sample_counters.pop(run_id, None)


def start() -> None:
    """Register the agent with the control poller and start the poller in this process."""
    channels.register_periodic(tick)
    channels.ensure_poller()


channels.register_periodic(tick)
