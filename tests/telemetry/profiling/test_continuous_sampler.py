"""The continuous sampler: in cpu mode it counts threads that ran, weighed by their CPU
time, and leaves idle ones out; in wall mode it counts every thread; it never samples
itself or reports the profiler; it folds samples per aligned window, bounds what a window
holds, and ties samples to the trace whose local root span the thread serves."""

from __future__ import annotations

import threading
import time

import pytest
from opentelemetry import trace

from telemetry.profiling.continuous import spans
from telemetry.profiling.continuous.sampler import Sampler, SamplerSettings


def settings_for(**overrides) -> SamplerSettings:
    values = dict(
        sample_hz=50, mode="cpu", window_seconds=60, max_stacks=1000, max_traces=10, max_depth=64
    )
    values.update(overrides)
    return SamplerSettings(**values)


def spin(stop: threading.Event) -> None:
    while not stop.is_set():
        sum(i * i for i in range(2000))


def wait_idle(stop: threading.Event) -> None:
    stop.wait()


@pytest.fixture
def threads():
    stop = threading.Event()
    started = [
        threading.Thread(target=spin, args=(stop,), name="busy"),
        threading.Thread(target=wait_idle, args=(stop,), name="idle"),
    ]
    for thread in started:
        thread.start()
    time.sleep(0.2)  # past their start-up: the idle one is waiting by now
    yield started
    stop.set()
    for thread in started:
        thread.join()


def names_in(sampler: Sampler) -> set[str]:
    closed, current = sampler.take_windows()
    names: set[str] = set()
    for window in [*closed, current]:
        if window is not None:
            names |= {name for (_, _, name) in window.profile.frames}
    return names


def sample_a_while(sampler: Sampler, times: int = 8) -> None:
    for _ in range(times):
        sampler.sample_once()
        time.sleep(0.02)


def test_cpu_mode_counts_the_busy_thread_by_its_cpu_time_and_not_the_idle_one(threads):
    sampler = Sampler(settings_for(), "web:test:1")
    sample_a_while(sampler, 10)
    _, window = sampler.take_windows()
    names = {name for (_, _, name) in window.profile.frames}
    assert "spin" in names
    assert "wait_idle" not in names
    # The busy thread ran about 20 ms between samples; its weights say so (generously).
    spin_index = [i for i, (_, _, name) in enumerate(window.profile.frames) if name == "spin"]
    weight = sum(w for stack, (_, w) in window.profile.stacks.items() if spin_index[0] in stack)
    assert 20_000 < weight < 2_000_000  # microseconds, for 9 intervals of about 20 ms


def test_wall_mode_counts_waiting_threads_too(threads):
    sampler = Sampler(settings_for(mode="wall"), "web:test:1")
    sample_a_while(sampler, 3)
    assert {"spin", "wait_idle"} <= names_in(sampler)


def test_it_never_samples_itself_or_the_profiler():
    sampler = Sampler(settings_for(mode="wall", sample_hz=200), "web:test:1")
    sampler.start()
    time.sleep(0.3)
    sampler.stop()
    sampler.close_current()
    names = names_in(sampler)
    assert names, "nothing sampled"
    # Its own thread (running _run -> sample_once) and any profiler frame stay out.
    assert "sample_once" not in names and "_run" not in names
    assert not [n for n in names if n in ("tick", "harvest", "take_windows")]


def test_windows_are_aligned_and_roll_over(threads):
    sampler = Sampler(settings_for(mode="wall", window_seconds=10), "web:test:1")
    sampler.sample_once(now=1_000_003.0)
    sampler.sample_once(now=1_000_009.9)
    sampler.sample_once(now=1_000_010.0)
    closed, current = sampler.take_windows()
    assert [w.start for w in closed] == [1_000_000]
    assert closed[0].samples >= 2 * 2  # two samples of at least the two test threads
    assert current.start == 1_000_010


def test_a_window_holds_at_most_its_stack_limit(threads):
    sampler = Sampler(settings_for(mode="wall", max_stacks=1), "web:test:1")
    sample_a_while(sampler, 3)
    _, window = sampler.take_windows()
    assert len(window.profile.stacks) == 1
    assert window.profile.dropped_samples > 0
    assert window.samples == sum(s for s, _ in window.profile.stacks.values()) + (
        window.profile.dropped_samples
    )


def test_a_sampled_local_root_span_carries_its_profile_id_and_its_trace_is_kept(otel):
    spans.install()
    spans.set_active(True)
    stop = threading.Event()
    ready = threading.Event()
    tracer = trace.get_tracer("test")
    ids = {}

    def serve_request():
        with tracer.start_as_current_span("GET /api/thing", kind=trace.SpanKind.SERVER) as span:
            with tracer.start_as_current_span("db query"):  # not a local root
                ids["trace"] = format(span.get_span_context().trace_id, "032x")
                ready.set()
                spin(stop)

    worker = threading.Thread(target=serve_request)
    worker.start()
    try:
        ready.wait(5)
        sampler = Sampler(settings_for(), "web:test:1")
        sample_a_while(sampler, 6)
    finally:
        stop.set()
        worker.join()
        spans.set_active(False)
    _, window = sampler.take_windows()
    assert ids["trace"] in window.profile.traces
    (server,) = [s for s in otel.finished_spans() if s.name == "GET /api/thing"]
    (child,) = [s for s in otel.finished_spans() if s.name == "db query"]
    assert server.attributes[spans.PROFILE_ID_ATTRIBUTE] == f"web:test:1@{window.start}"
    assert spans.PROFILE_ID_ATTRIBUTE not in child.attributes
    narrowed = window.profile.for_trace(ids["trace"])
    assert "spin" in {window.profile.frames[i][2] for stack in narrowed.stacks for i in stack}
