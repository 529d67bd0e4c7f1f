"""Running the continuous profiler in a process: on the control poller's thread, about once
a second (telemetry.control.channels), start, re-pace or stop the sampler as the settings
say, write its windows every PROFILING_CONTINUOUS_FLUSH_SECONDS, and prune old rows once a
window.

Only server processes sample: gunicorn workers and runserver (from the profiling
middleware) and Celery pool processes (from worker_process_init), each after fork, like the
poller. A management command or a test process never does unless it asks
(enable_in_this_process(role, force=True)).
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
from telemetry.profiling.continuous import spans, windows
from telemetry.profiling.continuous.config import ContinuousSettings, continuous_settings
from telemetry.profiling.continuous.sampler import Sampler, SamplerSettings, Window

logger = logging.getLogger(__name__)

_state: dict = {
    "role": None,  # "web" or "worker" once eligible
    "pid": None,
    "sampler": None,
    "last_flush": 0.0,
    "last_prune": 0.0,
    "failing": False,
}
_lock = threading.Lock()


def _is_server_process() -> bool:
    program = os.path.basename(sys.argv[0]) if sys.argv else ""
    return program == "gunicorn" or (len(sys.argv) > 1 and sys.argv[1] == "runserver")


def enable_in_this_process(role: str, *, force: bool = False) -> bool:
    """Let this process sample when the settings say so (a server process, or `force`);
    returns whether it may. Call after fork; the poller does the rest."""
    if not force and role == "web" and not _is_server_process():
        return False
    with _lock:
        if _state["pid"] != os.getpid():
            _state.update(pid=os.getpid(), sampler=None, last_flush=0.0, last_prune=0.0)
        _state["role"] = role
    channels.register_periodic(tick)
    channels.ensure_poller()
    return True


def process_label() -> str:
    return f"{_state['role']}:{socket.gethostname()}:{os.getpid()}"


def service_name() -> str:
    return os.environ.get("OTEL_SERVICE_NAME") or settings.SERVICE_NAME


def _sampler_settings(wanted: ContinuousSettings) -> SamplerSettings:
    return SamplerSettings(
        sample_hz=max(1, int(wanted.sample_hz)),
        mode=wanted.mode,
        window_seconds=int(settings.PROFILING_CONTINUOUS_WINDOW_SECONDS),
        max_stacks=int(settings.PROFILING_CONTINUOUS_MAX_STACKS),
        max_traces=int(settings.PROFILING_CONTINUOUS_MAX_TRACES),
        max_depth=int(settings.PROFILING_CONTINUOUS_MAX_DEPTH),
    )


def current_sampler() -> Sampler | None:
    sampler = _state["sampler"]
    return sampler if _state["pid"] == os.getpid() else None


def tick(now: float | None = None) -> None:
    """One step on the poller thread; registered with telemetry.control.channels."""
    if _state["role"] is None or _state["pid"] != os.getpid():
        return
    now = time.time() if now is None else now
    wanted = continuous_settings.snapshot()
    on = wanted.enabled and bool(getattr(settings, "PROFILING_ENABLED", True))
    sampler = current_sampler()
    if on and sampler is None:
        spans.install()
        spans.set_active(True)
        sampler = Sampler(_sampler_settings(wanted), process_label())
        _state["sampler"] = sampler
        sampler.start()
        logger.info("continuous profiling started (%s)", wanted.summary)
    elif on and sampler is not None:
        sampler.reconfigure(_sampler_settings(wanted))
    elif not on and sampler is not None:
        spans.set_active(False)
        sampler.stop()
        sampler.close_current()
        _state["sampler"] = None
        flush(sampler, wanted)
        logger.info("continuous profiling stopped (%s)", wanted.summary)
        return
    if (
        sampler is not None
        and now - _state["last_flush"] >= settings.PROFILING_CONTINUOUS_FLUSH_SECONDS
    ):
        flush(sampler, wanted)
        _state["last_flush"] = now
    window = settings.PROFILING_CONTINUOUS_WINDOW_SECONDS
    if sampler is not None and now - _state["last_prune"] >= window:
        _state["last_prune"] = now
        try:
            windows.prune()
        except Exception:
            logger.warning("continuous profiling: could not prune old windows", exc_info=True)


def flush(sampler: Sampler, wanted: ContinuousSettings) -> int:
    """Write the sampler's closed windows and the current one so far; a database that is
    away keeps them for the next flush (bounded: the oldest go first)."""
    closed, current = sampler.take_windows()
    records = [_record(window, sampler) for window in [*closed, *([current] if current else [])]]
    if not records:
        return 0
    try:
        written = windows.save_windows(
            records, service=service_name(), role=_state["role"], process=sampler.process
        )
    except Exception:
        if not _state["failing"]:
            logger.warning("continuous profiling: could not write windows", exc_info=True)
        _state["failing"] = True
        sampler.give_back(closed[-10:])
        return 0
    if _state["failing"]:
        logger.info("continuous profiling: writing windows again")
        _state["failing"] = False
    return written


def _record(window: Window, sampler: Sampler) -> windows.WindowRecord:
    return windows.WindowRecord(
        start=window.start,
        seconds=window.seconds,
        profile=window.profile,
        samples=window.samples,
        sampler_cpu_seconds=window.sampler_cpu_ns / 1e9,
        process_cpu_seconds=window.process_cpu_seconds,
        mode=sampler.config.mode,
        sample_hz=sampler.config.sample_hz,
    )


def stop_for_tests() -> None:
    """Stop and forget this process's sampler without writing (tests)."""
    sampler = current_sampler()
    if sampler is not None:
        sampler.stop()
    spans.set_active(False)
    _state.update(role=None, sampler=None, last_flush=0.0, last_prune=0.0, failing=False)
