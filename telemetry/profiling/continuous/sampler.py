"""The continuous profiler's sampling thread: a few times a second it reads every other
thread's Python stack (sys._current_frames, as Sentry's and Pyroscope's pure-Python
samplers do) and folds it into the current time window of this process.

- "cpu" mode (the default) counts a thread only if it ran since the previous sample, and
  weighs the sample by the CPU time it used (Linux: the thread's own CPU clock, read from
  its kernel id; elsewhere every thread counts, as in wall mode). Idle threads (a gthread
  worker waiting for a request, the exporters' threads) leave no trace, and the weights add
  up to the CPU the process spent in Python code.
- "wall" mode counts every thread at every sample, weighed by the time since the previous
  sample: where the threads are, waiting included.

The sampler never samples itself and never reports the profiler: a stack with a frame of
telemetry.profiling (but its pass-through middleware frame) is the profiler's work and is
dropped (telemetry.profiling.own_code). It does no I/O: the control poller's thread writes
the windows (telemetry.profiling.continuous.lifecycle).

CPython's `sys._current_frames()` is documented and stable despite its underscore; it is
in the list of private interpreter APIs this project relies on (docs/profiling.md).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from types import CodeType, FrameType

from telemetry.profiling import own_code
from telemetry.profiling.continuous import spans
from telemetry.profiling.stacks import StackProfile

logger = logging.getLogger(__name__)

_DROP = -1  # the profiler's own frame: the sample is its work
_SKIP = -2  # the profiler's pass-through frame: left out of the stack
TRUNCATED = ("", 0, "[deeper frames left out]")
_LINUX_CPU_CLOCKS = sys.platform.startswith("linux")
_TAGGED_SPANS_LIMIT = 4096


def thread_cpu_clock(native_id: int) -> int:
    """The clock id of another thread's CPU time (Linux's MAKE_THREAD_CPUCLOCK(tid,
    CPUCLOCK_SCHED)); reading it fails (OSError) once the thread is gone."""
    return ((~native_id) << 3) | 6


@dataclass
class Window:
    """What the sampler folded for one window of time."""

    start: int  # epoch seconds, a multiple of the window length
    seconds: int
    profile: StackProfile = field(default_factory=StackProfile)
    samples: int = 0
    sampler_cpu_ns: int = 0
    process_cpu_start: float = field(default_factory=time.process_time)
    process_cpu_seconds: float = 0.0
    codes: dict[CodeType, int] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class SamplerSettings:
    sample_hz: int
    mode: str  # "cpu" or "wall"
    window_seconds: int
    max_stacks: int
    max_traces: int
    max_depth: int


class Sampler:
    """One per process: a daemon thread sampling until stopped."""

    def __init__(self, config: SamplerSettings, process: str) -> None:
        self.config = config
        self.process = process
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._window: Window | None = None
        self._closed: list[Window] = []
        self._last_cpu: dict[int, int] = {}
        self._native: dict[int, int] = {}
        self._last_wall = time.monotonic()
        self._tagged: dict[int, None] = {}
        self.ident: int | None = None

    # --- control (poller thread) -------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="telemetry-continuous-profiler", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def reconfigure(self, config: SamplerSettings) -> None:
        """A new rate or mode, from the next sample on (the window stays)."""
        if config.mode != self.config.mode:
            self._last_cpu.clear()
        self.config = config

    def take_windows(self) -> tuple[list[Window], Window | None]:
        """(closed windows, a copy of the current one): what the flush writes."""
        with self._lock:
            closed, self._closed = self._closed, []
            current = self._window
            if current is None:
                return closed, None
            snapshot = Window(start=current.start, seconds=current.seconds)
            snapshot.profile.merge(current.profile)
            snapshot.samples = current.samples
            snapshot.sampler_cpu_ns = current.sampler_cpu_ns
            snapshot.process_cpu_seconds = time.process_time() - current.process_cpu_start
            return closed, snapshot

    def give_back(self, closed: list[Window]) -> None:
        """Windows a flush could not write, kept for the next one."""
        with self._lock:
            self._closed[:0] = closed

    def close_current(self) -> None:
        """End the current window now (the sampler stops): it joins the closed ones."""
        with self._lock:
            if self._window is not None:
                self._close(self._window)
                self._window = None

    # --- sampling (its own thread) -------------------------------------------------------

    def _run(self) -> None:
        self.ident = threading.get_ident()
        while not self._stop.is_set():
            started_cpu = time.thread_time_ns()
            try:
                self.sample_once()
            except Exception:  # never let the sampler die on one bad sample
                logger.exception("continuous profiling: a sample failed")
            spent = time.thread_time_ns() - started_cpu
            with self._lock:
                if self._window is not None:
                    self._window.sampler_cpu_ns += spent
            self._stop.wait(1.0 / max(1, self.config.sample_hz))

    def sample_once(self, now: float | None = None) -> int:
        """Read every other thread's stack once; returns how many samples it counted."""
        now = time.time() if now is None else now
        frames = sys._current_frames()
        own = threading.get_ident()
        wall_now = time.monotonic()
        wall_us = int((wall_now - self._last_wall) * 1_000_000)
        self._last_wall = wall_now
        weights = self._weights(frames, own, wall_us)
        counted = 0
        with self._lock:
            window = self._window_for(now)
            for thread_id, weight in weights.items():
                stack = self._fold(window, frames[thread_id])
                if stack is None:
                    continue
                span = spans.root_span_of(thread_id)
                if self._count(window, stack, weight, span):
                    self._mark(span, window)
                counted += 1
        return counted

    def _weights(self, frames: dict[int, FrameType], own: int, wall_us: int) -> dict[int, int]:
        """Per thread to count, its weight in microseconds (cpu or wall)."""
        threads = [thread_id for thread_id in frames if thread_id != own]
        if self.config.mode != "cpu" or not _LINUX_CPU_CLOCKS:
            return {thread_id: max(1, wall_us) for thread_id in threads}
        if any(thread_id not in self._native for thread_id in threads):
            self._native = {
                thread.ident: thread.native_id
                for thread in threading.enumerate()
                if thread.ident is not None and thread.native_id is not None
            }
            # After fork, Python 3.11 keeps the parent's kernel id on the main thread (the
            # thread that forked); on Linux the main thread's id is the process id.
            main = threading.main_thread().ident
            if main is not None:
                self._native[main] = os.getpid()
        weights: dict[int, int] = {}
        for thread_id in threads:
            native = self._native.get(thread_id)
            if native is None:
                continue  # a thread Python's threading does not know: no CPU clock
            try:
                cpu = time.clock_gettime_ns(thread_cpu_clock(native))
            except OSError:
                continue  # ended since
            before = self._last_cpu.get(thread_id)
            self._last_cpu[thread_id] = cpu
            if before is not None and cpu > before:
                weights[thread_id] = max(1, (cpu - before) // 1000)
        for gone in set(self._last_cpu) - set(frames):
            del self._last_cpu[gone]
            spans.forget_thread(gone)
        return weights

    def _fold(self, window: Window, frame: FrameType | None) -> tuple[int, ...] | None:
        """The stack's frame indices, root first; None for the profiler's own work."""
        indices: list[int] = []
        codes = window.codes
        profile = window.profile
        depth = 0
        while frame is not None:
            code = frame.f_code
            index = codes.get(code)
            if index is None:
                index = codes[code] = self._index_of(profile, code)
            if index == _DROP:
                return None
            if index != _SKIP:
                indices.append(index)
            frame = frame.f_back
            depth += 1
        if not indices:
            return None
        indices.reverse()
        limit = self.config.max_depth
        if len(indices) > limit:  # keep the innermost frames, where the time is
            indices = [profile.frame_index(TRUNCATED), *indices[-(limit - 1) :]]
        return tuple(indices)

    @staticmethod
    def _index_of(profile: StackProfile, code: CodeType) -> int:
        kind = own_code.classify(code.co_filename, code.co_qualname)
        if kind == "own":
            return _DROP
        if kind == "pass":
            return _SKIP
        return profile.frame_index((code.co_filename, code.co_firstlineno, code.co_qualname))

    def _count(self, window: Window, stack: tuple[int, ...], weight: int, span) -> bool:
        """Count one sample; True if it counted for the span's trace too."""
        profile = window.profile
        window.samples += 1
        if stack not in profile.stacks and len(profile.stacks) >= self.config.max_stacks:
            profile.dropped_samples += 1
            return False
        trace_id = None
        if span is not None:
            trace_id = format(span.get_span_context().trace_id, "032x")
            if trace_id not in profile.traces and len(profile.traces) >= self.config.max_traces:
                trace_id = None
        profile.add(stack, 1, weight, trace_id)
        return trace_id is not None

    def _mark(self, span, window: Window) -> None:
        """Give a sampled span the key of its profile, once."""
        span_id = span.get_span_context().span_id
        if span_id in self._tagged:
            return
        self._tagged[span_id] = None
        if len(self._tagged) > _TAGGED_SPANS_LIMIT:
            self._tagged.pop(next(iter(self._tagged)))
        span.set_attribute(spans.PROFILE_ID_ATTRIBUTE, spans.profile_id(self.process, window.start))

    def _window_for(self, now: float) -> Window:
        length = self.config.window_seconds
        start = int(now // length * length)
        window = self._window
        if window is not None and window.start == start:
            return window
        if window is not None:
            self._close(window)
        self._window = Window(start=start, seconds=length)
        return self._window

    def _close(self, window: Window) -> None:
        window.process_cpu_seconds = time.process_time() - window.process_cpu_start
        window.codes = {}
        self._closed.append(window)
